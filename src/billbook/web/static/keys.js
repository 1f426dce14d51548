// The Keys view: spend today, this month and in total against each limit, for the account and for
// each key (GET /api/v3/account/limits, GET /api/v3/access_keys), with a bar per window; an editor
// for the customer's own limits (PUT …/limits) and for the low-balance alert thresholds
// (GET|PUT /api/v3/account/alerts). The operator's limits are shown, never edited here: the lower
// of the two sets is what charges are held to.

import { toMicros, formatUSD, decimalText } from "./money.js";
import { $, make, announce, setState, errorText } from "./dom.js";
import { session, handleAuthError, whenSignedOut } from "./session.js";

const WINDOWS = [["daily", "Today (UTC)"], ["monthly", "This month"], ["total", "Total"]];

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

/** The percentage of `limit` that `spent` is, clamped to 0..100 (null without a limit). */
export function percentOf(spent, limit) {
  if (limit === null) return null;
  if (limit === 0n) return spent > 0n ? 100 : 0;
  const p = Number((spent * 10000n) / limit) / 100;
  return Math.max(0, Math.min(100, p));
}

function windowRow(label, spentValue, limitValue) {
  const spent = toMicros(spentValue ?? 0);
  const limit = limitValue === null || limitValue === undefined ? null : toMicros(limitValue);
  const pct = percentOf(spent, limit);
  const level = pct === null ? "" : pct >= 100 ? " bar-full" : pct >= 80 ? " bar-warn" : "";
  const bar = pct === null
    ? make("span", { class: "muted small", text: "No limit" })
    : make("progress", { class: `spend-bar${level}`, max: 100, value: pct, "aria-label": `${label}: ${pct.toFixed(0)}% of the limit` });
  return make("tr", { "data-window": label },
    make("th", { scope: "row", text: label }),
    make("td", { class: "num", "data-field": "spent", text: formatUSD(spent) }),
    make("td", { class: "num", "data-field": "limit", text: limit === null ? "—" : formatUSD(limit) }),
    make("td", { class: "bar-cell" }, bar));
}

function windowsTable(data) {
  const rows = WINDOWS.map(([p, label]) => windowRow(label, data.spend[p], data.limits.applied[p]));
  return make("table", { class: "data-table limits-table" },
    make("thead", {}, make("tr", {},
      make("th", { scope: "col", text: "Window" }), make("th", { scope: "col", class: "num", text: "Spent" }),
      make("th", { scope: "col", class: "num", text: "Limit" }), make("th", { scope: "col", text: "Used" }))),
    make("tbody", {}, ...rows));
}

function setterNote(data) {
  const part = (who, set) => `${who}: ` + WINDOWS.map(([p]) =>
    `${p} ${set[p] === null ? "none" : formatUSD(toMicros(set[p]))}`).join(" · ");
  return make("p", { class: "muted small setter-note",
    text: `${part("Operator's limits", data.limits.operator)}. ${part("Yours", data.limits.customer)}.` });
}

/** The editor of the customer's own limits on the account (keyId null) or on one key. */
function editor(keyId, data) {
  const form = make("form", { class: "limits-form", "data-testid": keyId ? `limits-form-${keyId}` : "limits-form-account", novalidate: true });
  for (const [p, label] of WINDOWS) {
    const value = data.limits.customer[p];
    const id = `limit-${keyId || "account"}-${p}`;
    form.append(make("label", { for: id, class: "limit-field" },
      make("span", { text: `${label} limit (USD)` }),
      make("input", { id, name: p, inputmode: "decimal", placeholder: "No limit", autocomplete: "off",
        value: value === null ? "" : decimalText(value) })));
  }
  const status = make("p", { class: "form-status small", role: "status" });
  form.append(make("div", { class: "form-actions" },
    make("button", { type: "submit", class: "btn btn-small", text: "Save limits" }), status));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const [p, label] of WINDOWS) {
      const text = form.elements[p].value.trim().replace(/^\$/, "");
      if (text && !/^[0-9]+(\.[0-9]{1,6})?$/.test(text)) {
        status.textContent = `${label} limit must be an amount in USD, or empty for no limit.`;
        status.className = "form-status small error";
        form.elements[p].focus();
        return;
      }
      body[p] = text || null;
    }
    status.className = "form-status small";
    status.textContent = "Saving…";
    try {
      await session.api.setLimits(keyId, body);
      status.textContent = "Saved.";
      loadKeys();
    } catch (err) {
      if (handleAuthError(err)) return;
      status.className = "form-status small error";
      status.textContent = err.message;
    }
  });
  return form;
}

function drawSubject(node, title, key, data) {
  node.textContent = "";
  const head = make("div", { class: "key-head" }, make("h3", { text: title }));
  if (key) {
    head.append(make("code", { class: "key-id", text: key.access_key_id }));
    if (key.revoked) head.append(make("span", { class: "badge badge-revoked", text: "Revoked" }));
  }
  node.append(head, windowsTable(data), setterNote(data),
    make("details", { class: "limits-edit" }, make("summary", { text: "Edit your limits" }), editor(key ? key.access_key_id : null, data)));
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
