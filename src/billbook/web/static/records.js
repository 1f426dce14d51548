// The records view: the billing records table with its filters, sort and pager.

import { formatCount } from "./money.js";
import { $, make, announce, setState, errorText, formatTime } from "./dom.js";
import { session, handleAuthError, whenSignedOut } from "./session.js";
import { typeLabel, amountText, balanceAfterText, signedAmount } from "./record.js";
import {
  emptyFilters, activeFilterCount, readFilterForm, resetFilterForm, showActiveCount, toggleFiltersPanel,
} from "./filters.js";

/** Why an amount or balance cell is blank: a server that only sends the price (an adjustment's sign is unknown). */
const UNKNOWN = "Not sent by this server";

const query = { sort: "created_at DESC", page: 1, pageSize: 20, filters: emptyFilters() };
const shown = { items: [], total: null, controller: null };
let openRecord = () => {};

/** Wire the view; `onOpen(record)` shows a record's details. */
export function initRecords({ onOpen }) {
  openRecord = onOpen;
  $("filters").addEventListener("submit", applyFilters);
  $("clear-filters").addEventListener("click", clearFilters);
  $("filters-toggle").addEventListener("click", toggleFiltersPanel);
  $("sort-toggle").addEventListener("click", toggleSort);
  $("page-size").addEventListener("change", () => {
    query.pageSize = Number($("page-size").value);
    query.page = 1;
    loadRecords();
  });
  $("page-first").addEventListener("click", pagerClick(() => 1));
  $("page-prev").addEventListener("click", pagerClick(() => query.page - 1));
  $("page-next").addEventListener("click", pagerClick(() => query.page + 1));
  $("page-last").addEventListener("click", pagerClick(() => lastPage()));
}

/** Back to the first page with no filters (after signing in). */
export function resetRecords() {
  query.page = 1;
  query.filters = emptyFilters();
  resetFilterForm();
  showActiveCount(0);
}

/** The search request for the current filters and sort; `overrides` replace any field. */
export function searchBody(overrides = {}) {
  const f = query.filters;
  const body = { page: query.page, page_size: query.pageSize, sort: query.sort };
  if (f.billing_type) body.billing_type = f.billing_type;
  if (f.startMs !== null) body.start_time = String(f.startMs);
  if (f.endMs !== null) body.end_time = String(f.endMs);
  if (f.predictions.length) body.prediction_uuids = f.predictions;
  if (f.model) body.model_uuid = f.model;
  if (f.key) body.access_key_uuid = f.key;
  return { ...body, ...overrides };
}

/** The end of the filtered range in epoch ms, or null. */
export function filterEndMs() {
  return query.filters.endMs;
}

/** Show every record of one prediction (from a record's details). */
export function filterByPrediction(predictionUuid) {
  resetFilterForm();
  $("f-prediction").value = predictionUuid;
  applyFilters();
  $("f-prediction").focus();
}

export async function loadRecords() {
  if (shown.controller) shown.controller.abort();
  const controller = new AbortController();
  shown.controller = controller;
  const wrap = $("records-wrap");
  wrap.setAttribute("aria-busy", "true");
  wrap.classList.add("loading");
  setState($("records-state"), "loading", "Loading billing records…");
  setPagerEnabled(false);
  try {
    const data = await session.api.searchBillings(searchBody(), { signal: controller.signal });
    if (controller.signal.aborted) return;
    shown.items = data.items || [];
    shown.total = typeof data.total === "number" ? data.total : null;
    renderRecords();
  } catch (err) {
    if (err && err.name === "AbortError") return;
    if (handleAuthError(err)) return;
    shown.items = [];
    $("records-body").textContent = "";
    $("page-status").textContent = "";
    $("page-number").textContent = "";
    setState($("records-state"), "error", errorText(err, "billing records"), { label: "Try again", run: loadRecords });
    announce(errorText(err, "billing records"));
  } finally {
    if (shown.controller === controller) {
      wrap.removeAttribute("aria-busy");
      wrap.classList.remove("loading");
      shown.controller = null;
    }
  }
}

function hasFilters() {
  return activeFilterCount(query.filters) > 0;
}

function lastPage() {
  return Math.max(1, Math.ceil((shown.total || 0) / query.pageSize));
}

function renderRecords() {
  const body = $("records-body");
  body.textContent = "";
  for (const r of shown.items) body.append(recordRow(r));
  const status = pageStatus();
  $("page-status").textContent = status;
  $("page-number").textContent = shown.total ? `Page ${formatCount(query.page)} of ${formatCount(lastPage())}` : "";
  setPagerEnabled(true);
  announce(shown.total ? `Billing records ${status}` : "No billing records match.");
}

/** The pager's status line, and the empty state when there is nothing to show. */
function pageStatus() {
  const stateNode = $("records-state");
  const total = shown.total ?? 0;
  if (total === 0) {
    setState(stateNode, "empty", hasFilters()
      ? "No billing records match these filters."
      : "No billing records yet. Charges, refunds and top-ups will be listed here.",
      hasFilters() ? { label: "Clear filters", run: clearFilters } : null);
    return "0 records";
  }
  if (!shown.items.length) {
    setState(stateNode, "empty", `This page is past the last one (page ${formatCount(lastPage())}).`,
      { label: "Go to the last page", run: () => goToPage(lastPage()) });
    return `Page ${formatCount(query.page)} is past the end · ${formatCount(total)} records`;
  }
  setState(stateNode, "", "");
  const from = (query.page - 1) * query.pageSize + 1;
  const to = from + shown.items.length - 1;
  return `${formatCount(from)}\u2013${formatCount(to)} of ${formatCount(total)}`;
}

function amountClass(r) {
  const micros = signedAmount(r);
  if (micros === null) return "is-unknown";
  return micros < 0n ? "amount-out" : micros > 0n ? "amount-in" : "";
}

function recordRow(r) {
  const p = r.prediction;
  const open = () => openRecord(r);
  const when = formatTime(r.created_at);
  const amount = amountText(r);
  const after = balanceAfterText(r);
  const label = `Details: ${typeLabel(r)}${amount ? " " + amount : ""}, ${when}`;
  return make("tr", { "data-uuid": r.uuid, class: "record-row", onclick: (e) => { if (!e.target.closest("button, a")) open(); } },
    make("td", { "data-label": "Time" }, make("time", { datetime: r.created_at, text: when })),
    make("td", { "data-label": "Type" }, make("span", { class: `badge badge-${r.billing_type}`, text: typeLabel(r) })),
    make("td", { "data-label": "Model", class: p && p.model_uuid ? "mono-ish" : "is-empty", text: p && p.model_uuid ? p.model_uuid : "—" }),
    make("td", { "data-label": "Key", class: r.access_key_name || r.access_key_id ? "" : "is-empty", text: r.access_key_name || r.access_key_id || "—", title: r.access_key_id || undefined }),
    make("td", { "data-label": "Status", class: p && p.status ? "" : "is-empty" }, p && p.status ? make("span", { class: `status status-${p.status}`, text: p.status }) : "—"),
    make("td", { "data-label": "Amount", "data-testid": "amount", class: `num amount ${amountClass(r)}`, text: amount, title: amount ? undefined : UNKNOWN }),
    make("td", { "data-label": "Balance after", "data-testid": "balance-after", class: `num balance-after${after ? "" : " is-unknown"}`, text: after, title: after ? undefined : UNKNOWN }),
    make("td", { class: "actions" },
      make("button", { type: "button", class: "btn btn-ghost btn-small", text: "Details", "aria-label": label, "aria-haspopup": "dialog", onclick: open })));
}

function setPagerEnabled(enabled) {
  const last = lastPage();
  const has = enabled && (shown.total ?? 0) > 0;
  $("page-first").disabled = !has || query.page <= 1;
  $("page-prev").disabled = !has || query.page <= 1;
  $("page-next").disabled = !has || query.page >= last;
  $("page-last").disabled = !has || query.page >= last;
}

function goToPage(page) {
  query.page = Math.max(1, page);
  loadRecords();
}

function pagerClick(target) {
  return () => {
    const page = target();
    const active = document.activeElement;
    goToPage(page);
    // Keep keyboard focus in the pager when the pressed button gets disabled.
    if (active && active.disabled) $("page-status").focus?.();
  };
}

function applyFilters(event) {
  if (event) event.preventDefault();
  const filters = readFilterForm();
  if (!filters) return;
  query.filters = filters;
  showActiveCount(activeFilterCount(filters));
  query.page = 1;
  loadRecords();
}

function clearFilters() {
  resetFilterForm();
  query.filters = emptyFilters();
  showActiveCount(0);
  query.page = 1;
  loadRecords();
}

function toggleSort() {
  query.sort = query.sort === "created_at DESC" ? "created_at ASC" : "created_at DESC";
  const asc = query.sort === "created_at ASC";
  $("th-time").setAttribute("aria-sort", asc ? "ascending" : "descending");
  $("sort-label").textContent = asc ? "oldest first" : "newest first";
  $("sort-toggle").classList.toggle("asc", asc);
  query.page = 1;
  loadRecords();
}

whenSignedOut(() => {
  if (shown.controller) shown.controller.abort();
  shown.items = [];
  shown.total = null;
  $("records-body").textContent = "";
});
