// An account's spend limits on its page: spend against the applied limits (the dashboard's table
// and bars, limits-view.js), both setters' limits, the low-balance alert thresholds, and for a write
// token the editor of the operator's limits on the account and on each active key
// (PUT /internal/v1/accounts/{id}/limits, PUT /internal/v1/keys/{access_key_id}/limits).

import { toMicros, formatUSD } from "./money.js";
import { $, make, announce } from "./dom.js";
import { operator, canWrite } from "./console-session.js";
import { windowsTable, setterNote, limitsEditor } from "./limits-view.js";
import { keyName } from "./console-keys.js";

const SETTERS = { operator: "Operator's limits", customer: "Customer's own" };

/** Draw the limits of account `a` (its GET answer). */
export function showLimits(a) {
  const node = $("account-limits");
  node.textContent = "";
  if (!a.limits || !a.limits.spend) return;
  const figures = make("div", { "data-testid": "account-limit-figures" });
  const draw = (data) => figures.replaceChildren(windowsTable(data), setterNote(data, SETTERS));
  draw(a.limits);
  node.append(figures, alertsLine(a.alerts));
  if (!canWrite()) return;
  const save = (keyId, body) => operator.api.setLimits(a.id, keyId, body);
  const saved = (answer) => { draw(answer); announce("The operator's limits on the account are saved."); };
  node.append(make("details", { class: "limits-edit", "data-testid": "operator-limits" },
    make("summary", { text: "Set the operator's limits on this account" }),
    limitsEditor(null, a.limits, { set: "operator", save, onSaved: saved })));
  const keys = (a.keys || []).filter((k) => !k.revoked_at);
  if (keys.length) node.append(keyEditors(keys, save));
}

function alertsLine(alerts) {
  const list = (alerts && alerts.low_balance) || [];
  const text = list.length ? list.map((v) => formatUSD(toMicros(v))).join(", ") : "none set by the customer";
  return make("p", { class: "muted small", "data-testid": "account-alerts", text: `Low-balance alerts: ${text}.` });
}

/**
 * One editor per active key. The internal API answers a key's spend and limits only when they are
 * set, so the form starts empty and the key's table appears with the answer.
 */
function keyEditors(keys, save) {
  const box = make("details", { class: "limits-edit" },
    make("summary", { text: "Set the operator's limits on a key" }));
  for (const k of keys) {
    const result = make("div", { class: "key-limits-result" });
    const shown = (answer) => result.replaceChildren(windowsTable(answer), setterNote(answer, SETTERS));
    box.append(make("div", { class: "key-limits", "data-key": k.access_key_id },
      make("h3", { class: "subhead", text: `${keyName(k) || "Key"} · ${k.access_key_id}` }),
      limitsEditor(k.access_key_id, null, { set: "operator", save, onSaved: shown }), result));
  }
  return box;
}
