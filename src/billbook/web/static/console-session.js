// Who is signed in to the console: the admin token's name and role. The role only decides what the
// page offers; the server refuses a read token's writes (403) whatever the page does.

import { $, make } from "./dom.js";
import { session, whenSignedOut } from "./session.js";

export const TOKEN_STORAGE = "billbook.adminToken";

// The console shares session.js with the dashboard, under its own storage key and wording.
session.storageKey = TOKEN_STORAGE;
session.refusedMessage = "Your admin token is no longer accepted (it may have been revoked). Sign in with a valid token.";

/**
 * `api` is the console's client (every account); `session.api` is that client scoped to the account
 * whose page is open, for the dashboard's records and spend views.
 */
export const operator = { api: null, name: "", role: "read" };

export function canWrite() {
  return operator.role === "write";
}

/** Show or hide every write control (`data-write`) for the signed-in role. */
export function applyRole({ name, role }) {
  operator.name = name || "";
  operator.role = role === "write" ? "write" : "read";
  for (const node of document.querySelectorAll("[data-write]")) node.hidden = !canWrite();
  document.body.dataset.role = operator.role;
  $("read-only-note").hidden = canWrite();
  $("who").replaceChildren(
    make("span", { class: "who-name", text: operator.name || "admin token" }), " ",
    make("span", { class: `role-badge role-${operator.role}`, text: canWrite() ? "write" : "read-only" }));
}

whenSignedOut(() => {
  operator.api = null;
  operator.name = "";
  operator.role = "read";
});
