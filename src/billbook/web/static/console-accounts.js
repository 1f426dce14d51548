// The accounts table: find by name or id, sort by balance, 30-day spend or age, paged.

import { toMicros, formatUSD, formatCount } from "./money.js";
import { $, make, formatTime } from "./dom.js";
import { operator } from "./console-session.js";
import { pagedList } from "./console-pager.js";

const query = { query: "", sort: "-created_at" };
let list = null;

export function initAccounts() {
  list = pagedList($("accounts-list"), "accounts", {
    caption: "Accounts",
    columns: ["Account", ["Balance", "num"], ["Held", "num"], ["Spend, 30 days", "num"], ["Keys", "num"], "Created"],
    pagesLabel: "Account pages",
    noun: "accounts",
    what: "accounts",
    loading: "Loading accounts…",
    title: "Accounts",
    none: "No accounts match.",
    emptyText: () => (query.query ? `No account matches “${query.query}”.` : "No accounts yet."),
    toLastPage: true,
    fetch: (paging, signal) => operator.api.accounts({ query: query.query, sort: query.sort, ...paging }, { signal }),
    row: accountRow,
    onShown: summarize,
  });
  $("accounts-form").addEventListener("submit", (event) => {
    event.preventDefault();
    query.query = $("accounts-query").value.trim();
    list.restart();
  });
  $("accounts-sort").addEventListener("change", () => {
    query.sort = $("accounts-sort").value;
    list.restart();
  });
}

/** Load the list the first time the view is shown; later visits keep the operator's place. */
export function showAccounts() {
  list.showOnce();
}

export function loadAccounts() {
  list.load();
}

function summarize(total) {
  $("accounts-summary").textContent = query.query
    ? `${formatCount(total)} ${total === 1 ? "account matches" : "accounts match"} “${query.query}”`
    : `${formatCount(total)} ${total === 1 ? "account" : "accounts"}`;
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
