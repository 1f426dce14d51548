// The Keys view: spend today, this month and in total against each limit, for the account and for
// each key (GET /api/v3/account/limits, GET /api/v3/access_keys), with a bar per window; an editor
// for the customer's own limits (PUT …/limits) and for the low-balance alert thresholds
// (GET|PUT /api/v3/account/alerts). The operator's limits are shown, never edited here: the lower
// of the two sets is what charges are held to.

import { decimalText } from "./money.js";
import { $, make, announce, setState, errorText } from "./dom.js";
import { session, handleAuthError, whenSignedOut } from "./session.js";
import { windowsTable, setterNote, limitsEditor } from "./limits-view.js";

export { percentOf } from "./limits-view.js";

let generation = 0;
let loaded = false;

export function showKeys() {
  if (!loaded) loadKeys();
}

export function refreshKeys() {
  if (loaded) loadKeys();
}

export async function loadKeys() {
  const mine = ++generation;
  loaded = true;
  setState($("keys-state"), "loading", "Loading keys and limits…");
  try {
    const [account, keys, alerts] = await Promise.all([
      session.api.accountLimits(), session.api.accessKeys(), session.api.alerts(),
    ]);
    if (mine !== generation) return;
    drawSubject($("account-limits"), "Account", null, account);
    drawKeys(keys.items || []);
    drawAlerts(alerts);
    setState($("keys-state"), "", "");
    announce("Keys and limits loaded.");
  } catch (err) {
    if (mine !== generation || handleAuthError(err)) return;
    setState($("keys-state"), "error", errorText(err, "keys and limits"), { label: "Try again", run: loadKeys });
  }
}

function drawSubject(node, title, key, data) {
  node.textContent = "";
  const head = make("div", { class: "key-head" }, make("h3", { text: title }));
  if (key) {
    head.append(make("code", { class: "key-id", text: key.access_key_id }));
    if (key.revoked) head.append(make("span", { class: "badge badge-revoked", text: "Revoked" }));
  }
  node.append(head, windowsTable(data), setterNote(data),
    make("details", { class: "limits-edit" }, make("summary", { text: "Edit your limits" }),
      limitsEditor(key ? key.access_key_id : null, data, {
        save: (keyId, body) => session.api.setLimits(keyId, body), onSaved: () => loadKeys() })));
}

function drawKeys(items) {
  const list = $("keys-list");
  list.textContent = "";
  $("keys-count").textContent = `${items.length} ${items.length === 1 ? "key" : "keys"}`;
  for (const key of items) {
    const card = make("article", { class: "key-card", "data-key": key.access_key_id });
    drawSubject(card, key.access_key_name, key, key);
    list.append(card);
  }
}

function drawAlerts(alerts) {
  const input = $("alerts-input");
  input.value = (alerts.low_balance || []).map((v) => decimalText(v)).join(", ");
}

async function saveAlerts(event) {
  event.preventDefault();
  const status = $("alerts-status");
  const parts = $("alerts-input").value.split(",").map((s) => s.trim().replace(/^\$/, "")).filter(Boolean);
  if (parts.some((p) => !/^[0-9]+(\.[0-9]{1,6})?$/.test(p))) {
    status.className = "form-status small error";
    status.textContent = "Thresholds must be amounts in USD, separated by commas.";
    return;
  }
  status.className = "form-status small";
  status.textContent = "Saving…";
  try {
    drawAlerts(await session.api.setAlerts(parts));
    status.textContent = "Saved.";
  } catch (err) {
    if (handleAuthError(err)) return;
    status.className = "form-status small error";
    status.textContent = err.message;
  }
}

export function initKeys() {
  $("alerts-form").addEventListener("submit", saveAlerts);
}

whenSignedOut(() => {
  generation++;
  loaded = false;
  $("keys-list").textContent = "";
  $("account-limits").textContent = "";
  $("alerts-input").value = "";
  setState($("keys-state"), "", "");
});
