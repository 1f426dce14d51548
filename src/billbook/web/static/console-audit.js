// The audit log: every internal write, newest first, filtered by token, account or action, paged.

import { $, make, announce, setState, errorText, formatTime } from "./dom.js";
import { handleAuthError, whenSignedOut } from "./session.js";
import { operator } from "./console-session.js";
import { makePager } from "./console-pager.js";

const query = { filters: {}, page: 1, pageSize: 20 };
let controller = null;
let pager = null;
let loaded = false;

export function initAudit() {
  pager = makePager($("audit-pager"), {
    noun: "entries",
    onPage: (page) => { query.page = page; loadAudit(); },
    onPageSize: (size) => { query.pageSize = size; query.page = 1; loadAudit(); },
  });
  $("audit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const filters = readForm();
    if (!filters) return;
    query.filters = filters;
    query.page = 1;
    loadAudit();
  });
  $("audit-clear").addEventListener("click", () => {
    $("audit-form").reset();
    $("audit-error").textContent = "";
    query.filters = {};
    query.page = 1;
    loadAudit();
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
  query.filters = { account_id: String(id) };
  query.page = 1;
  loaded = false;
}

export function showAudit() {
  if (!loaded) loadAudit();
}

export async function loadAudit() {
  if (controller) controller.abort();
  const mine = new AbortController();
  controller = mine;
  const wrap = $("audit-wrap");
  wrap.classList.add("loading");
  wrap.setAttribute("aria-busy", "true");
  setState($("audit-state"), "loading", "Loading the audit log…");
  pager.busy();
  try {
    const data = await operator.api.audit({ ...query.filters, page: query.page, page_size: query.pageSize }, { signal: mine.signal });
    loaded = true;
    render(data);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    if (handleAuthError(err)) return;
    $("audit-body").textContent = "";
    setState($("audit-state"), "error", errorText(err, "the audit log"), { label: "Try again", run: loadAudit });
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
  const body = $("audit-body");
  body.textContent = "";
  for (const e of items) body.append(entryRow(e));
  const filtered = Object.values(query.filters).some(Boolean);
  if (!total) setState($("audit-state"), "empty", filtered ? "No audit entry matches these filters." : "No internal write yet.");
  else if (!items.length) setState($("audit-state"), "empty", "This page is past the last one.");
  else setState($("audit-state"), "", "");
  const status = pager.show(query.page, query.pageSize, total, items.length);
  announce(total ? `Audit log ${status}` : "No audit entries.");
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

whenSignedOut(() => {
  if (controller) controller.abort();
  loaded = false;
  $("audit-body").textContent = "";
});
