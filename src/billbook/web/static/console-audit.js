// The audit log: every internal write, newest first, filtered by token, account or action, paged.

import { $, make, formatTime } from "./dom.js";
import { operator } from "./console-session.js";
import { pagedList } from "./console-pager.js";

let filters = {};
let list = null;

export function initAudit() {
  list = pagedList($("audit-list"), "audit", {
    caption: "Audit log",
    tableClass: "audit",
    columns: ["Time", "Token", "Action and route", "Target", "Request", "Outcome"],
    pagesLabel: "Audit log pages",
    noun: "entries",
    what: "the audit log",
    loading: "Loading the audit log…",
    title: "Audit log",
    none: "No audit entries.",
    emptyText: () => (Object.values(filters).some(Boolean) ? "No audit entry matches these filters." : "No internal write yet."),
    fetch: (paging, signal) => operator.api.audit({ ...filters, ...paging }, { signal }),
    row: entryRow,
  });
  $("audit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const read = readForm();
    if (!read) return;
    filters = read;
    list.restart();
  });
  $("audit-clear").addEventListener("click", () => {
    $("audit-form").reset();
    $("audit-error").textContent = "";
    filters = {};
    list.restart();
  });
}

function readForm() {
  $("audit-error").textContent = "";
  $("audit-account").removeAttribute("aria-invalid");
  const account = $("audit-account").value.trim().replace(/^#/, "");
  if (account && !/^\d+$/.test(account)) {
    $("audit-error").textContent = "The account ID is a number, such as 42.";
    $("audit-account").setAttribute("aria-invalid", "true");
    $("audit-account").focus();
    return null;
  }
  return { token: $("audit-token").value.trim(), account_id: account, action: $("audit-action").value };
}

/** Show the entries of one account (from its page). */
export function auditOfAccount(id) {
  $("audit-form").reset();
  $("audit-account").value = String(id);
  filters = { account_id: String(id) };
  list.forget();
}

export function showAudit() {
  list.showOnce();
}

export function loadAudit() {
  list.load();
}

/** The request's summary as "key: value" pairs (the server sends JSON text or an object). */
export function summaryPairs(summary) {
  let value = summary;
  if (typeof value === "string") {
    try { value = JSON.parse(value); } catch { return value ? [["", value]] : []; }
  }
  if (!value || typeof value !== "object") return [];
  return Object.entries(value).map(([k, v]) => [k, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)]);
}

function outcome(e) {
  const status = e.status ?? e.outcome;
  if (typeof status === "number") return { text: status === 200 ? "OK" : String(status), ok: status < 400 };
  return { text: String(status ?? "—"), ok: !status || /^(ok|success)/i.test(String(status)) };
}

function entryRow(e) {
  const when = e.time ?? e.at ?? e.created_at;
  const o = outcome(e);
  const pairs = summaryPairs(e.summary);
  const summary = make("dl", { class: "summary" });
  for (const [k, v] of pairs) summary.append(make("dt", { text: k }), make("dd", { text: v }));
  const target = e.account_id
    ? make("a", { href: `#account/${e.account_id}`, text: e.target || `account ${e.account_id}` })
    : make("span", { text: e.target || "—" });
  return make("tr", { "data-audit-id": e.id !== undefined ? String(e.id) : undefined },
    make("td", { "data-label": "Time" }, make("time", { datetime: typeof when === "string" ? when : undefined, text: formatTime(typeof when === "number" ? new Date(when).toISOString() : when) })),
    make("td", { "data-label": "Token", class: "strong", text: e.token_name || "—" }),
    make("td", { "data-label": "Action and route" },
      e.action ? make("span", { class: "badge badge-action", text: e.action }) : null,
      make("span", { class: "route", text: e.route || "" })),
    make("td", { "data-label": "Target", class: "mono-ish" }, target),
    make("td", { "data-label": "Request" }, pairs.length ? summary : "—"),
    make("td", { "data-label": "Outcome" }, make("span", { class: `status ${o.ok ? "status-completed" : "status-failed"}`, text: o.text })));
}
