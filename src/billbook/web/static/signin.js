// The sign-in view: the API key is checked against the balance endpoint, then kept in this tab only.

import { Api, ApiError } from "./api.js";
import { $ } from "./dom.js";
import { KEY_STORAGE } from "./session.js";

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

/** The key this tab signed in with earlier, if any. */
export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

/** Wire the form; `onSignedIn(api, balanceData)` runs once a key is accepted. */
export function initSignin(onSignedIn) {
  $("signin-form").addEventListener("submit", (event) => submit(event, onSignedIn));
  $("toggle-key").addEventListener("click", toggleKeyVisibility);
  $("api-key").addEventListener("input", () => { $("api-key").setAttribute("aria-invalid", "false"); });
}

function toggleKeyVisibility() {
  const input = $("api-key");
  const show = input.type === "password";
  input.type = show ? "text" : "password";
  $("toggle-key").textContent = show ? "Hide" : "Show";
  $("toggle-key").setAttribute("aria-pressed", String(show));
}

async function submit(event, onSignedIn) {
  event.preventDefault();
  const input = $("api-key");
  const errorNode = $("signin-error");
  const button = $("signin-submit");
  const key = input.value.trim();
  if (!key) {
    errorNode.textContent = "Enter your API key.";
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  errorNode.textContent = "";
  button.disabled = true;
  button.textContent = "Signing in…";
  const api = new Api(key);
  try {
    const data = await api.balance();
    sessionStorage.setItem(KEY_STORAGE, key);
    input.value = "";
    onSignedIn(api, data);
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
    return "That API key was not accepted. Check that you pasted all of it and that it has not been revoked.";
  }
  if (err instanceof ApiError && err.network) return "Could not reach the server. Check your connection and try again.";
  return `Could not sign in: ${err.message}`;
}
