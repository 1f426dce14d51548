// The signed-in session: the API client for the key in use, and signing out from any view.
//
// Views register what to forget on sign-out (`whenSignedOut`), so no view needs to know the others.

import { ApiError } from "./api.js";

export const KEY_STORAGE = "billbook.apiKey";

/**
 * `api` is the client for the signed-in key, or null when signed out. The operator console keeps its
 * token under its own `storageKey` and words its own `refusedMessage`; the rest is shared.
 */
export const session = {
  api: null,
  storageKey: KEY_STORAGE,
  refusedMessage: "Your API key is no longer accepted (it may have been revoked). Sign in with a valid key.",
};

const resets = [];

/** Run `reset(message)` on every sign-out; the sign-in view shows the message. */
export function whenSignedOut(reset) {
  resets.push(reset);
}

export function signOut(message = "") {
  sessionStorage.removeItem(session.storageKey);
  session.api = null;
  for (const reset of resets) reset(message);
}

/** A refused key signs the tab out wherever it is noticed; true when that happened. */
export function handleAuthError(err) {
  if (err instanceof ApiError && err.unauthorized) {
    signOut(session.refusedMessage);
    return true;
  }
  return false;
}
