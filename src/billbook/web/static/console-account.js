// One account's page: its money (balance, held, spend), moving money, its keys, and the dashboard's
// own spend and records views, run against the internal API through a client scoped to this account.

import { toMicros, formatUSD } from "./money.js";
import { $, make, setState, errorText, formatTime } from "./dom.js";
import { session, handleAuthError, whenSignedOut } from "./session.js";
import { operator } from "./console-session.js";
import { resetRecords, loadRecords } from "./records.js";
import { loadUsage, redrawUsage, hasUsage } from "./usage.js";
import { startForm, updateAccount } from "./console-funds.js";
import { showKeys, keyName } from "./console-keys.js";

let shownId = null;
let controller = null;

/** Open the page of account `id` (from the address, #account/ID). */
export function openAccount(id) {
  if (id !== shownId) {
    shownId = id;
    session.api = operator.api.forAccount(id);
    clearHead();
    resetRecords();
    loadRecords();
    loadUsage();
    startForm({ id, name: `#${id}`, balance: null });
  } else if (hasUsage()) {
    requestAnimationFrame(redrawUsage); // drawn while hidden: no width
  }
  loadAccount();
}

/** After money moved: the figures and the records again. */
export function refreshAccount() {
  if (shownId === null) return;
  loadAccount();
  loadRecords();
  loadUsage();
}

function clearHead() {
  $("account-name").textContent = `Account ${shownId}`;
  $("account-meta").textContent = "";
  $("account-limits").textContent = "";
  for (const id of ["account-balance", "account-held", "account-spend-today", "account-spend-month", "account-spend-30d"]) {
    $(id).textContent = "…";
  }
  $("keys-body").textContent = "";
  fillKeyFilter([]);
}

export async function loadAccount() {
  if (controller) controller.abort();
  const mine = new AbortController();
  controller = mine;
  const id = shownId;
  setState($("account-state"), "", "");
  try {
    const a = await operator.api.account(id, { signal: mine.signal });
    if (id !== shownId) return;
    renderHead(a);
    updateAccount({ id: a.id, name: a.name, balance: a.balance });
    const keys = Array.isArray(a.keys) ? a.keys : (await operator.api.keys(id, { signal: mine.signal })).items || [];
    showKeys(id, keys);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    if (handleAuthError(err)) return;
    setState($("account-state"), "error", errorText(err, `account ${id}`), { label: "Try again", run: loadAccount });
    $("account-state").hidden = false;
  } finally {
    if (controller === mine) controller = null;
  }
}

const money = (v) => (v === null || v === undefined ? "—" : formatUSD(toMicros(v)));

function renderHead(a) {
  $("account-name").textContent = a.name;
  document.title = `${a.name} · billbook operator console`;
  $("account-meta").textContent = `Account #${a.id}${a.created_at ? ` · created ${formatTime(a.created_at)}` : ""}`;
  const balance = toMicros(a.balance);
  $("account-balance").textContent = formatUSD(balance);
  $("account-balance").classList.toggle("low", balance <= 0n);
  $("account-held").textContent = money(a.held);
  $("account-spend-today").textContent = money(a.spend_today);
  $("account-spend-month").textContent = money(a.spend_month);
  $("account-spend-30d").textContent = money(a.spend_30d);
  $("account-limits").textContent = limitsText(a.limits);
}

/** "Limits: daily $50.00, monthly $1,000.00" from whatever limits the server reports; "" for none. */
function limitsText(limits) {
  if (!limits || typeof limits !== "object") return "";
  const parts = [];
  for (const [who, set] of Object.entries(limits)) {
    if (!set || typeof set !== "object") continue;
    for (const [window, value] of Object.entries(set)) {
      if (value !== null && value !== undefined) parts.push(`${window} ${formatUSD(toMicros(value))}${who === "operator" || who === "customer" ? ` (${who})` : ""}`);
    }
  }
  return parts.length ? `Spend limits: ${parts.join(", ")}` : "";
}

/** The records filter's key choices follow the account's keys. */
export function fillKeyFilter(keys) {
  const select = $("f-key");
  const chosen = select.value;
  select.textContent = "";
  select.append(make("option", { value: "", text: "Any key" }));
  for (const k of keys) {
    const label = `${keyName(k) || k.access_key_id}${k.revoked_at ? " (revoked)" : ""}`;
    select.append(make("option", { value: k.access_key_id, text: label }));
  }
  select.value = keys.some((k) => k.access_key_id === chosen) ? chosen : "";
}

whenSignedOut(() => {
  if (controller) controller.abort();
  shownId = null;
});
