// The console's sign-in: the admin token is checked by asking the server who it is (name and role),
// then kept in this tab only.

import { ApiError } from "./api.js";
import { AdminApi } from "./console-api.js";
import { $ } from "./dom.js";
import { TOKEN_STORAGE } from "./console-session.js";

export function showSignin(message = "") {
  $("app-view").hidden = true;
  $("signin-view").hidden = false;
  document.querySelector(".skip-link").hidden = true;
  $("signin-error").textContent = message;
  const input = $("api-key");
  input.value = "";
  input.setAttribute("aria-invalid", message ? "true" : "false");
  input.focus();
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_STORAGE);
}

/** Wire the form; `onSignedIn(api, who)` runs once a token is accepted. */
export function initSignin(onSignedIn) {
  $("signin-form").addEventListener("submit", (event) => submit(event, onSignedIn));
  $("toggle-key").addEventListener("click", () => {
    const input = $("api-key");
    const show = input.type === "password";
    input.type = show ? "text" : "password";
    $("toggle-key").textContent = show ? "Hide" : "Show";
    $("toggle-key").setAttribute("aria-pressed", String(show));
  });
  $("api-key").addEventListener("input", () => { $("api-key").setAttribute("aria-invalid", "false"); });
}

async function submit(event, onSignedIn) {
  event.preventDefault();
  const input = $("api-key");
  const errorNode = $("signin-error");
  const button = $("signin-submit");
  const token = input.value.trim();
  if (!token) {
    errorNode.textContent = "Enter your admin token.";
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  errorNode.textContent = "";
  button.disabled = true;
  button.textContent = "Signing in…";
  const api = new AdminApi(token);
  try {
    const who = await api.whoami();
    sessionStorage.setItem(TOKEN_STORAGE, token);
    input.value = "";
    onSignedIn(api, who);
  } catch (err) {
    input.setAttribute("aria-invalid", "true");
    errorNode.textContent = refusalText(err);
    input.focus();
    input.select();
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
}

function refusalText(err) {
  if (err instanceof ApiError && err.unauthorized) {
    return "That admin token was not accepted. Check that you pasted all of it and that it has not been revoked.";
  }
  if (err instanceof ApiError && err.network) return "Could not reach the server. Check your connection and try again.";
  return `Could not sign in: ${err.message}`;
}
