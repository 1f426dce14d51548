// The sign-in view of both pages: the dashboard's API key and the console's admin token are checked
// by one call to the server, then kept in this tab only (sessionStorage, under the page's own
// `session.storageKey`), so closing the tab forgets them.

import { ApiError } from "./api.js";
import { $ } from "./dom.js";
import { session } from "./session.js";

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

/** The secret this tab signed in with earlier, if any. */
export function storedSecret() {
  return sessionStorage.getItem(session.storageKey);
}

/**
 * Wire the form for what the page signs in with: `door.noun` names the secret in messages ("API
 * key"), `door.connect(secret)` makes the page's client and `door.check(api)` asks the server with
 * it; `onSignedIn(api, answer)` runs with that answer once the secret is accepted.
 */
export function initSignin(door, onSignedIn) {
  $("signin-form").addEventListener("submit", (event) => submit(event, door, onSignedIn));
  $("toggle-key").addEventListener("click", toggleVisibility);
  $("api-key").addEventListener("input", () => { $("api-key").setAttribute("aria-invalid", "false"); });
}

function toggleVisibility() {
  const input = $("api-key");
  const show = input.type === "password";
  input.type = show ? "text" : "password";
  $("toggle-key").textContent = show ? "Hide" : "Show";
  $("toggle-key").setAttribute("aria-pressed", String(show));
}

async function submit(event, door, onSignedIn) {
  event.preventDefault();
  const input = $("api-key");
  const errorNode = $("signin-error");
  const button = $("signin-submit");
  const secret = input.value.trim();
  if (!secret) {
    errorNode.textContent = `Enter your ${door.noun}.`;
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  errorNode.textContent = "";
  button.disabled = true;
  button.textContent = "Signing in…";
  const api = door.connect(secret);
  try {
    const answer = await door.check(api);
    sessionStorage.setItem(session.storageKey, secret);
    input.value = "";
    onSignedIn(api, answer);
  } catch (err) {
    input.setAttribute("aria-invalid", "true");
    errorNode.textContent = refusalText(err, door.noun);
    input.focus();
    input.select();
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
}

function refusalText(err, noun) {
  if (err instanceof ApiError && err.unauthorized) {
    return `That ${noun} was not accepted. Check that you pasted all of it and that it has not been revoked.`;
  }
  if (err instanceof ApiError && err.network) return "Could not reach the server. Check your connection and try again.";
  return `Could not sign in: ${err.message}`;
}
