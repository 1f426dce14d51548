// The accounts table: find by name or id, sort by balance, 30-day spend or age, paged.

import { toMicros, formatUSD, formatCount } from "./money.js";
import { $, make, announce, setState, errorText, formatTime } from "./dom.js";
import { handleAuthError, whenSignedOut } from "./session.js";
import { operator } from "./console-session.js";
import { makePager } from "./console-pager.js";

const query = { query: "", sort: "-created_at", page: 1, pageSize: 20 };
let controller = null;
let pager = null;
let loaded = false;

export function initAccounts() {
  pager = makePager($("accounts-pager"), {
    noun: "accounts",
    onPage: (page) => { query.page = page; loadAccounts(); },
    onPageSize: (size) => { query.pageSize = size; query.page = 1; loadAccounts(); },
  });
  $("accounts-form").addEventListener("submit", (event) => {
    event.preventDefault();
    query.query = $("accounts-query").value.trim();
    query.page = 1;
    loadAccounts();
  });
  $("accounts-sort").addEventListener("change", () => {
    query.sort = $("accounts-sort").value;
    query.page = 1;
    loadAccounts();
  });
}

/** Load the list the first time the view is shown; later visits keep the operator's place. */
export function showAccounts() {
  if (!loaded) loadAccounts();
}

export async function loadAccounts() {
  if (controller) controller.abort();
  const mine = new AbortController();
  controller = mine;
  const wrap = $("accounts-wrap");
  wrap.classList.add("loading");
  wrap.setAttribute("aria-busy", "true");
  setState($("accounts-state"), "loading", "Loading accounts…");
  pager.busy();
  try {
    const data = await operator.api.accounts(
      { query: query.query, sort: query.sort, page: query.page, page_size: query.pageSize }, { signal: mine.signal });
    loaded = true;
    render(data);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    if (handleAuthError(err)) return;
    $("accounts-body").textContent = "";
    setState($("accounts-state"), "error", errorText(err, "accounts"), { label: "Try again", run: loadAccounts });
  } finally {
    if (controller === mine) {
      controller = null;
      wrap.classList.remove("loading");
      wrap.removeAttribute("aria-busy");
    }
  }
}

function render(data) {
  const items = data.items || [];
  const total = typeof data.total === "number" ? data.total : items.length;
  const body = $("accounts-body");
  body.textContent = "";
  for (const a of items) body.append(accountRow(a));
  if (!total) {
    setState($("accounts-state"), "empty", query.query ? `No account matches “${query.query}”.` : "No accounts yet.");
  } else if (!items.length) {
    setState($("accounts-state"), "empty", "This page is past the last one.",
      { label: "Go to the last page", run: () => { query.page = pager.lastPage(); loadAccounts(); } });
  } else {
    setState($("accounts-state"), "", "");
  }
  const status = pager.show(query.page, query.pageSize, total, items.length);
  $("accounts-summary").textContent = query.query
    ? `${formatCount(total)} ${total === 1 ? "account matches" : "accounts match"} “${query.query}”`
    : `${formatCount(total)} ${total === 1 ? "account" : "accounts"}`;
  announce(total ? `Accounts ${status}` : "No accounts match.");
}

const money = (v) => (v === null || v === undefined ? "—" : formatUSD(toMicros(v)));

/** The keys column: a count, or a list of keys (counted). */
function keyCount(keys) {
  if (Array.isArray(keys)) return keys.length;
  return keys ?? null;
}

function accountRow(a) {
  const href = `#account/${a.id}`;
  const balance = toMicros(a.balance);
  return make("tr", { "data-account-id": String(a.id) },
    make("th", { scope: "row", "data-label": "Account" },
      make("a", { href, class: "account-link" },
        make("span", { class: "account-name", text: a.name }),
        make("span", { class: "account-id muted", text: `#${a.id}` }))),
    make("td", { class: `num strong${balance <= 0n ? " low" : ""}`, "data-label": "Balance", "data-testid": "row-balance", text: formatUSD(balance) }),
    make("td", { class: "num", "data-label": "Held", text: money(a.held) }),
    make("td", { class: "num", "data-label": "Spend, 30 days", text: money(a.spend_30d) }),
    make("td", { class: "num", "data-label": "Keys", text: formatCount(keyCount(a.keys)) }),
    make("td", { "data-label": "Created", text: a.created_at ? formatTime(a.created_at) : "—" }));
}

whenSignedOut(() => {
  if (controller) controller.abort();
  loaded = false;
  $("accounts-body").textContent = "";
});
