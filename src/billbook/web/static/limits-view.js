// Spend against limits, drawn the same way wherever it is shown: the dashboard's Keys view (the
// customer's own limits) and the console's account page (the operator's). A table of the three
// windows with a bar each, a line naming both setters' limits, and an editor of one setter's set.

import { toMicros, formatUSD, decimalText } from "./money.js";
import { make } from "./dom.js";
import { handleAuthError } from "./session.js";

export const WINDOWS = [["daily", "Today (UTC)"], ["monthly", "This month"], ["total", "Total"]];

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

/** Spend in each window against the limit applied (the lower of the two setters'). */
export function windowsTable(data) {
  const rows = WINDOWS.map(([p, label]) => windowRow(label, data.spend[p], data.limits.applied[p]));
  return make("table", { class: "data-table limits-table" },
    make("thead", {}, make("tr", {},
      make("th", { scope: "col", text: "Window" }), make("th", { scope: "col", class: "num", text: "Spent" }),
      make("th", { scope: "col", class: "num", text: "Limit" }), make("th", { scope: "col", text: "Used" }))),
    make("tbody", {}, ...rows));
}

/** "Operator's limits: daily $50.00 · … . Yours: …" — `names` words each setter for the reader. */
export function setterNote(data, names = { operator: "Operator's limits", customer: "Yours" }) {
  const part = (who, set) => `${who}: ` + WINDOWS.map(([p]) =>
    `${p} ${set[p] === null ? "none" : formatUSD(toMicros(set[p]))}`).join(" · ");
  return make("p", { class: "muted small setter-note",
    text: `${part(names.operator, data.limits.operator)}. ${part(names.customer, data.limits.customer)}.` });
}

/**
 * An editor of one setter's limits (`set`: "customer" or "operator") on an account (keyId null) or a
 * key. `save(keyId, body)` sends the whole set; `onSaved(answer)` runs with the server's answer.
 */
export function limitsEditor(keyId, data, { set = "customer", save, onSaved }) {
  const scope = keyId || "account";
  const form = make("form", { class: "limits-form", "data-testid": `limits-form-${scope}`, novalidate: true });
  for (const [p, label] of WINDOWS) {
    const value = data ? data.limits[set][p] : null;
    const id = `limit-${scope}-${p}`;
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
      const answer = await save(keyId, body);
      status.textContent = "Saved.";
      onSaved(answer);
    } catch (err) {
      if (handleAuthError(err)) return;
      status.className = "form-status small error";
      status.textContent = err.message;
    }
  });
  return form;
}
