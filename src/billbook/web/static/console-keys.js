// An account's API keys: the list, issuing one (its secret shown once), revoking one after a
// confirmation. Issuing sends an Idempotency-Key made once per form, so a double submit or a retry
// leaves one usable key (the server revokes the first one, whose secret may never have arrived).

import { $, make, announce, setState, errorText, formatTime } from "./dom.js";
import { ApiError } from "./api.js";
import { handleAuthError, whenSignedOut } from "./session.js";
import { operator, canWrite } from "./console-session.js";
import { newReference } from "./console-funds.js";

const state = { accountId: null, keys: [], issueKey: "", issuing: false, revoking: null, onChanged: () => {} };

/** Wire the forms; `onChanged(keys)` runs whenever the list is loaded. */
export function initKeys({ onChanged }) {
  state.onChanged = onChanged;
  $("key-form").addEventListener("submit", issue);
  $("key-name").addEventListener("input", () => { state.issueKey = ""; });
  $("key-dialog-close").addEventListener("click", () => $("key-dialog").close());
  $("key-copy").addEventListener("click", copySecret);
  $("revoke-cancel").addEventListener("click", () => $("revoke-dialog").close());
  $("revoke-confirm").addEventListener("click", revoke);
  $("revoke-dialog").addEventListener("close", () => { state.revoking = null; });
}

export function keyName(k) {
  return k.name ?? k.access_key_name ?? "";
}

/** Show `keys` for account `accountId` (from the account's own response). */
export function showKeys(accountId, keys) {
  if (state.accountId !== accountId) {
    state.accountId = accountId;
    state.issueKey = "";
    $("key-form").reset();
    $("key-error").textContent = "";
  }
  state.keys = keys;
  render();
  state.onChanged(keys);
}

export async function loadKeys() {
  const id = state.accountId;
  try {
    const data = await operator.api.keys(id);
    if (id !== state.accountId) return;
    showKeys(id, Array.isArray(data) ? data : data.items || []);
  } catch (err) {
    if (handleAuthError(err)) return;
    setState($("keys-state"), "error", errorText(err, "the keys"), { label: "Try again", run: loadKeys });
  }
}

function render() {
  const body = $("keys-body");
  body.textContent = "";
  const active = state.keys.filter((k) => !k.revoked_at).length;
  $("keys-summary").textContent = `${active} active${state.keys.length > active ? `, ${state.keys.length - active} revoked` : ""}`;
  if (!state.keys.length) setState($("keys-state"), "empty", "No keys yet. Issue one for the customer to call the API with.");
  else setState($("keys-state"), "", "");
  for (const k of state.keys) body.append(keyRow(k));
}

function keyRow(k) {
  const revoked = Boolean(k.revoked_at);
  const name = keyName(k);
  return make("tr", { "data-key": k.access_key_id, class: revoked ? "is-revoked" : "" },
    make("th", { scope: "row", "data-label": "Name", text: name || "—" }),
    make("td", { "data-label": "Key ID", class: "mono-ish", text: k.access_key_id }),
    make("td", { "data-label": "Created", text: formatTime(k.created_at) }),
    make("td", { "data-label": "State" }, revoked
      ? make("span", { class: "status status-failed", text: `Revoked ${formatTime(k.revoked_at)}` })
      : make("span", { class: "status status-completed", text: "Active" })),
    make("td", { class: "actions" }, revoked || !canWrite() ? null : make("button", {
      type: "button", class: "btn btn-ghost btn-small btn-danger-text", text: "Revoke",
      "aria-label": `Revoke key ${name} (${k.access_key_id})`, "data-write": true,
      onclick: () => askRevoke(k),
    })));
}

async function issue(event) {
  event.preventDefault();
  if (state.issuing) return;
  const name = $("key-name").value.trim();
  $("key-error").textContent = "";
  $("key-name").removeAttribute("aria-invalid");
  if (!name) {
    $("key-error").textContent = "Give the key a name, such as the customer's service that will use it.";
    $("key-name").setAttribute("aria-invalid", "true");
    $("key-name").focus();
    return;
  }
  if (!state.issueKey) state.issueKey = newReference();
  state.issuing = true;
  $("key-issue").disabled = true;
  try {
    const key = await operator.api.createKey(state.accountId, name, state.issueKey);
    state.issueKey = "";
    $("key-form").reset();
    showSecret(key);
    loadKeys();
  } catch (err) {
    if (handleAuthError(err)) return;
    const text = err instanceof ApiError && err.status === 403 ? `Refused: ${err.message}` : errorText(err, "a new key").replace("Could not load", "Could not issue");
    $("key-error").textContent = text;
  } finally {
    state.issuing = false;
    $("key-issue").disabled = false;
  }
}

function showSecret(key) {
  const list = $("key-dialog-list");
  list.textContent = "";
  for (const [k, v] of [["Name", key.name ?? key.access_key_name], ["Key ID", key.access_key_id]]) {
    list.append(make("dt", { text: k }), make("dd", { text: v }));
  }
  $("key-secret").value = key.api_key;
  $("key-copy-status").textContent = "";
  $("key-dialog").showModal();
  $("key-secret").select();
  announce(`Key ${key.access_key_id} issued. Its secret is shown once.`);
}

async function copySecret() {
  const input = $("key-secret");
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    $("key-copy-status").textContent = "Copied.";
  } catch {
    $("key-copy-status").textContent = "Select the secret and copy it (Ctrl+C / ⌘C).";
  }
}

function askRevoke(k) {
  state.revoking = k;
  $("revoke-dialog-text").textContent =
    `Key “${keyName(k)}” (${k.access_key_id}) stops working at once, for every request. This cannot be undone.`;
  $("revoke-error").textContent = "";
  $("revoke-confirm").disabled = false;
  $("revoke-dialog").showModal();
  $("revoke-cancel").focus();
}

async function revoke() {
  const k = state.revoking;
  if (!k) return;
  $("revoke-confirm").disabled = true;
  try {
    await operator.api.revokeKey(k.access_key_id);
    $("revoke-dialog").close();
    announce(`Key ${k.access_key_id} revoked.`);
    loadKeys();
  } catch (err) {
    if (handleAuthError(err)) return;
    $("revoke-error").textContent = err instanceof ApiError ? `Could not revoke: ${err.message}` : "Could not revoke the key.";
    $("revoke-confirm").disabled = false;
  }
}

whenSignedOut(() => {
  state.accountId = null;
  state.keys = [];
  for (const id of ["key-dialog", "revoke-dialog"]) if ($(id).open) $(id).close();
});
