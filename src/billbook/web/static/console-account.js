// One account's page: its money (balance, held, spend), its spend limits, moving money, its keys, and
// the dashboard's own spend, records and statements views, run against the internal API through a
// client scoped to this account.

import { toMicros, formatUSD } from "./money.js";
import { $, make, setState, errorText, formatTime } from "./dom.js";
import { session, handleAuthError, whenSignedOut } from "./session.js";
import { operator } from "./console-session.js";
import { resetRecords, loadRecords } from "./records.js";
import { loadUsage, redrawUsage, hasUsage } from "./usage.js";
import { startForm, updateAccount } from "./console-funds.js";
import { showKeys, keyName } from "./console-keys.js";
import { showLimits } from "./console-limits.js";
import { loadStatements } from "./statements.js";

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
    loadStatements();
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
  loadStatements();
}

function clearHead() {
  $("account-name").textContent = `Account ${shownId}`;
  $("account-meta").textContent = "";
  $("account-limits").textContent = "";
  for (const id of ["account-balance", "account-held", "account-spend-today", "account-spend-month", "account-spend-30d"]) {
    $(id).textContent = "…";
  }
  $("keys-body").textContent = "";
  $("statements-table").tBodies[0].textContent = "";
  $("statements-status").textContent = "";
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
  showLimits(a);
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
