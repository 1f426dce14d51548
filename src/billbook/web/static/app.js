// billbook billing dashboard. Plain ES modules, no build step.

import { Api, ApiError } from "./api.js";
import { toMicros, formatUSD, formatCount } from "./money.js";
import { renderChart, dayLabel } from "./chart.js";
import { csvHeader, toCsvLine, recordToRow } from "./csv.js";

const KEY_STORAGE = "billbook.apiKey";
const DAYS = 30;
const MS_PER_DAY = 86400000;
const CSV_PAGE_SIZE = 100;
const CSV_CONFIRM_ABOVE = 50000;
const TOP_SERIES = 6;
const TYPE_LABELS = { deduct: "Deduct", refund: "Refund", recharge: "Recharge", adjust: "Adjust" };

const $ = (id) => document.getElementById(id);

const state = {
  api: null,
  sort: "created_at DESC",
  page: 1,
  pageSize: 20,
  total: null,
  items: [],
  filters: emptyFilters(),
  recordsController: null,
  usage: null,
  csvController: null,
  dialogRecord: null,
};

function emptyFilters() {
  return { billing_type: "", startMs: null, endMs: null, predictions: [], model: "" };
}

// ---------------------------------------------------------------- small helpers

function announce(text) {
  const node = $("announcer");
  node.textContent = "";
  requestAnimationFrame(() => { node.textContent = text; });
}

function make(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

function formatTime(iso) {
  if (!iso) return "—";
  const t = Date.parse(iso);
  return Number.isFinite(t) ? DATE_TIME.format(new Date(t)) : String(iso);
}

function formatLastUsed(value) {
  if (!value) return "—";
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return dayLabel(value, true);
  return formatTime(value);
}

function timeZoneNote() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  const off = -new Date().getTimezoneOffset();
  const sign = off >= 0 ? "+" : "\u2212";
  const hh = String(Math.floor(Math.abs(off) / 60)).padStart(2, "0");
  const mm = String(Math.abs(off) % 60).padStart(2, "0");
  return `Times are in your time zone, ${zone} (UTC${sign}${hh}:${mm}). Both ends of the range are included.`;
}

/** datetime-local value ("2026-04-23T14:05" or with seconds) -> epoch ms in the browser's time zone. */
function localInputToMs(value, endOfSecond) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  if (!Number.isFinite(ms)) return NaN;
  return endOfSecond ? ms + 999 : ms;
}

function setState(node, kind, message, action) {
  node.textContent = "";
  node.className = `state${kind ? " state-" + kind : ""}`;
  node.hidden = !message;
  if (!message) return;
  node.append(make("p", { text: message }));
  if (action) node.append(make("button", { type: "button", class: "btn btn-small", text: action.label, onclick: action.run }));
}

function errorText(err, what) {
  if (err instanceof ApiError) {
    if (err.network) return `Could not load ${what}: the server could not be reached. Check your connection and try again.`;
    if (err.status === 429) return `Could not load ${what}: too many requests. Wait a few seconds and try again.`;
    return `Could not load ${what}: ${err.message}`;
  }
  return `Could not load ${what}: ${err && err.message ? err.message : "unexpected error"}`;
}

function handleAuthError(err) {
  if (err instanceof ApiError && err.unauthorized) {
    signOut("Your API key is no longer accepted (it may have been revoked). Sign in with a valid key.");
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- sign in / out

function showSignin(message = "") {
  $("app-view").hidden = true;
  $("signin-view").hidden = false;
  document.querySelector(".skip-link").hidden = true;
  $("signin-error").textContent = message;
  const input = $("api-key");
  input.value = "";
  input.setAttribute("aria-invalid", message ? "true" : "false");
  input.focus();
}

async function onSignin(event) {
  event.preventDefault();
  const input = $("api-key");
  const errorNode = $("signin-error");
  const button = $("signin-submit");
  const key = input.value.trim();
  if (!key) {
    errorNode.textContent = "Enter your API key.";
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  errorNode.textContent = "";
  button.disabled = true;
  button.textContent = "Signing in…";
  const api = new Api(key);
  try {
    const data = await api.balance();
    sessionStorage.setItem(KEY_STORAGE, key);
    input.value = "";
    startApp(api, data);
  } catch (err) {
    input.setAttribute("aria-invalid", "true");
    if (err instanceof ApiError && err.unauthorized) {
      errorNode.textContent = "That API key was not accepted. Check that you pasted all of it and that it has not been revoked.";
    } else if (err instanceof ApiError && err.network) {
      errorNode.textContent = "Could not reach the server. Check your connection and try again.";
    } else {
      errorNode.textContent = `Could not sign in: ${err.message}`;
    }
    input.focus();
    input.select();
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
}

function signOut(message = "") {
  sessionStorage.removeItem(KEY_STORAGE);
  if (state.recordsController) state.recordsController.abort();
  if (state.csvController) state.csvController.abort();
  const dialog = $("record-dialog");
  if (dialog.open) dialog.close();
  state.api = null;
  state.usage = null;
  state.items = [];
  state.total = null;
  $("records-body").textContent = "";
  $("chart").textContent = "";
  $("balance").textContent = "…";
  showSignin(message);
}

function startApp(api, balanceData) {
  state.api = api;
  state.page = 1;
  state.filters = emptyFilters();
  resetFilterInputs();
  updateFiltersToggle();
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  document.querySelector(".skip-link").hidden = false;
  const key = api.apiKey;
  $("key-hint").textContent = key.length > 8 ? `Key …${key.slice(-4)}` : "";
  $("tz-note").textContent = timeZoneNote();
  $("main").focus({ preventScroll: true });
  if (balanceData) renderBalance(balanceData); else loadBalance();
  loadUsage();
  loadRecords();
}

// ---------------------------------------------------------------- balance

async function loadBalance() {
  const node = $("balance");
  node.setAttribute("aria-busy", "true");
  try {
    renderBalance(await state.api.balance());
  } catch (err) {
    if (handleAuthError(err)) return;
    node.textContent = "unavailable";
    node.title = errorText(err, "the balance");
  } finally {
    node.removeAttribute("aria-busy");
  }
}

function renderBalance(data) {
  const node = $("balance");
  const currency = data.currency && data.currency !== "USD" ? ` ${data.currency}` : "";
  node.textContent = formatUSD(toMicros(data.balance)) + currency;
  node.title = "";
  node.classList.toggle("low", toMicros(data.balance) <= 0n);
}

// ---------------------------------------------------------------- usage (last 30 days)

function usageRange() {
  const now = new Date();
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const start = today - (DAYS - 1) * MS_PER_DAY;
  const end = today + MS_PER_DAY - 1;
  const dates = [];
  for (let t = start; t <= today; t += MS_PER_DAY) dates.push(new Date(t).toISOString().slice(0, 10));
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString(), dates };
}

async function loadUsage() {
  const range = usageRange();
  $("usage-range").textContent =
    `${dayLabel(range.dates[0], true)} – ${dayLabel(range.dates[range.dates.length - 1], true)}, UTC days`;
  const stateNode = $("usage-state");
  setState(stateNode, "loading", "Loading usage…");
  $("chart").setAttribute("aria-busy", "true");
  $("chart").parentElement.classList.add("loading");
  for (const id of ["stat-cost", "stat-requests", "stat-success", "stat-models"]) $(id).textContent = "…";
  $("stat-refunded").textContent = "";
  try {
    const data = await state.api.usageStats({ start_time: range.start, end_time: range.end });
    state.usage = { data, range };
    renderUsage();
  } catch (err) {
    if (handleAuthError(err)) return;
    state.usage = null;
    $("chart").textContent = "";
    $("chart-legend").textContent = "";
    for (const id of ["stat-cost", "stat-requests", "stat-success", "stat-models"]) $(id).textContent = "—";
    $("stat-refunded").textContent = "";
    $("models-table").tBodies[0].textContent = "";
    setState(stateNode, "error", errorText(err, "usage"), { label: "Try again", run: loadUsage });
  } finally {
    $("chart").removeAttribute("aria-busy");
    $("chart").parentElement.classList.remove("loading");
  }
}

function renderUsage() {
  if (!state.usage) return;
  const { data, range } = state.usage;
  const perModel = (data.per_model_usage || []).map((m) => ({
    model: m.model_uuid,
    type: m.model_type,
    unit: m.unit_price,
    micros: toMicros(m.total_cost),
    count: m.total_count,
    lastUsed: m.last_used_date,
  }));
  const summary = data.summary || {};
  $("stat-cost").textContent = formatUSD(toMicros(summary.total_cost));
  $("stat-requests").textContent = formatCount(summary.total_requests ?? 0);
  $("stat-success").textContent = formatCount(summary.success_requests ?? 0);
  $("stat-models").textContent = formatCount(perModel.length);
  const charged = perModel.reduce((n, m) => n + (m.count || 0), 0);
  const refunded = (summary.total_requests ?? 0) - charged;
  $("stat-refunded").textContent = refunded > 0 ? `${formatCount(refunded)} refunded` : "";

  // Daily series: every day of the range, zeros where the API has none.
  const byDate = new Map((data.daily_usage || []).map((d) => [d.date, d]));
  const modelTotals = new Map();
  for (const d of data.daily_usage || []) {
    for (const m of d.models || []) {
      modelTotals.set(m.model_uuid, (modelTotals.get(m.model_uuid) || 0n) + toMicros(m.amount));
    }
  }
  const ranked = [...modelTotals.entries()].sort((a, b) => (b[1] > a[1] ? 1 : b[1] < a[1] ? -1 : a[0].localeCompare(b[0])));
  const keep = ranked.length > TOP_SERIES + 1 ? ranked.slice(0, TOP_SERIES) : ranked;
  const keepSet = new Set(keep.map(([k]) => k));
  const series = keep.map(([k], i) => ({ key: k, label: k, cls: `s${i}` }));
  if (keep.length < ranked.length) series.push({ key: "__other__", label: `Other models (${ranked.length - keep.length})`, cls: "s-other" });

  const days = range.dates.map((date) => {
    const d = byDate.get(date);
    const parts = new Map();
    if (d) {
      for (const m of d.models || []) {
        const key = keepSet.has(m.model_uuid) ? m.model_uuid : "__other__";
        const prev = parts.get(key) || { micros: 0n, count: 0 };
        parts.set(key, { micros: prev.micros + toMicros(m.amount), count: prev.count + (m.count || 0) });
      }
    }
    return { date, micros: d ? toMicros(d.amount) : 0n, count: d ? d.count || 0 : 0, parts };
  });

  const total = days.reduce((a, d) => a + d.micros, 0n);
  const chart = $("chart");
  const legend = $("chart-legend");
  legend.textContent = "";
  const empty = total === 0n && days.every((d) => !d.count);
  chart.hidden = empty;
  document.querySelector(".chart-table-details").hidden = empty;
  if (empty) {
    chart.textContent = "";
    setState($("usage-state"), "empty", "No spend in the last 30 days. Charges will show here by day and by model.");
  } else {
    setState($("usage-state"), "", "");
    renderChart(chart, $("chart-tooltip"), { days, series, announce });
    for (const s of series) {
      legend.append(make("li", {}, make("span", { class: `swatch ${s.cls}`, "aria-hidden": "true" }), make("span", { text: s.label })));
    }
  }

  const dailyBody = $("daily-table").tBodies[0];
  dailyBody.textContent = "";
  for (const d of [...days].reverse()) {
    dailyBody.append(make("tr", {},
      make("th", { scope: "row", text: d.date }),
      make("td", { class: "num", text: formatCount(d.count) }),
      make("td", { class: "num", text: formatUSD(d.micros) })));
  }

  const body = $("models-table").tBodies[0];
  body.textContent = "";
  perModel.sort((a, b) => (b.micros > a.micros ? 1 : b.micros < a.micros ? -1 : a.model.localeCompare(b.model)));
  if (!perModel.length) {
    body.append(make("tr", {}, make("td", { colspan: "5", class: "empty-cell", text: "No model was used in the last 30 days." })));
  }
  for (const m of perModel) {
    const si = series.find((s) => s.key === m.model) || series.find((s) => s.key === "__other__");
    body.append(make("tr", {},
      make("th", { scope: "row" }, make("div", { class: "model-cell" },
        make("span", { class: `swatch ${si ? si.cls : "s-other"}`, "aria-hidden": "true" }),
        make("span", { class: "model-name", text: m.model }),
        m.type ? make("span", { class: "model-type", text: m.type }) : null)),
      make("td", { class: "num", "data-label": "Requests", text: formatCount(m.count) }),
      make("td", { class: "num", "data-label": "Spend", text: formatUSD(m.micros) }),
      make("td", { class: "num", "data-label": "Unit price", text: m.unit === null || m.unit === undefined ? "—" : formatUSD(toMicros(m.unit)) }),
      make("td", { "data-label": "Last used", text: formatLastUsed(m.lastUsed) })));
  }

  const options = $("model-options");
  options.textContent = "";
  for (const m of perModel) options.append(make("option", { value: m.model }));
}

// ---------------------------------------------------------------- billing records

function searchBody(overrides = {}) {
  const f = state.filters;
  const body = { page: state.page, page_size: state.pageSize, sort: state.sort };
  if (f.billing_type) body.billing_type = f.billing_type;
  if (f.startMs !== null) body.start_time = String(f.startMs);
  if (f.endMs !== null) body.end_time = String(f.endMs);
  if (f.predictions.length) body.prediction_uuids = f.predictions;
  if (f.model) body.model_uuid = f.model;
  return { ...body, ...overrides };
}

function hasFilters() {
  const f = state.filters;
  return Boolean(f.billing_type || f.startMs !== null || f.endMs !== null || f.predictions.length || f.model);
}

async function loadRecords() {
  if (state.recordsController) state.recordsController.abort();
  const controller = new AbortController();
  state.recordsController = controller;
  const wrap = $("records-wrap");
  const stateNode = $("records-state");
  wrap.setAttribute("aria-busy", "true");
  wrap.classList.add("loading");
  setState(stateNode, "loading", "Loading billing records…");
  setPagerEnabled(false);
  try {
    const data = await state.api.searchBillings(searchBody(), { signal: controller.signal });
    if (controller.signal.aborted) return;
    state.items = data.items || [];
    state.total = typeof data.total === "number" ? data.total : null;
    state.hasMore = data.has_more;
    renderRecords();
  } catch (err) {
    if (err && err.name === "AbortError") return;
    if (handleAuthError(err)) return;
    state.items = [];
    $("records-body").textContent = "";
    $("page-status").textContent = "";
    $("page-number").textContent = "";
    setState(stateNode, "error", errorText(err, "billing records"), { label: "Try again", run: loadRecords });
    announce(errorText(err, "billing records"));
  } finally {
    if (state.recordsController === controller) {
      wrap.removeAttribute("aria-busy");
      wrap.classList.remove("loading");
      state.recordsController = null;
    }
  }
}

function lastPage() {
  return Math.max(1, Math.ceil((state.total || 0) / state.pageSize));
}

function renderRecords() {
  const body = $("records-body");
  body.textContent = "";
  for (const r of state.items) body.append(recordRow(r));

  const stateNode = $("records-state");
  const total = state.total ?? 0;
  let status;
  if (total === 0) {
    status = "0 records";
    setState(stateNode, "empty", hasFilters()
      ? "No billing records match these filters."
      : "No billing records yet. Charges, refunds and top-ups will be listed here.",
      hasFilters() ? { label: "Clear filters", run: clearFilters } : null);
  } else if (!state.items.length) {
    status = `Page ${formatCount(state.page)} is past the end · ${formatCount(total)} records`;
    setState(stateNode, "empty", `This page is past the last one (page ${formatCount(lastPage())}).`,
      { label: "Go to the last page", run: () => goToPage(lastPage()) });
  } else {
    const from = (state.page - 1) * state.pageSize + 1;
    const to = from + state.items.length - 1;
    status = `${formatCount(from)}\u2013${formatCount(to)} of ${formatCount(total)}`;
    setState(stateNode, "", "");
  }
  $("page-status").textContent = status;
  $("page-number").textContent = total ? `Page ${formatCount(state.page)} of ${formatCount(lastPage())}` : "";
  setPagerEnabled(true);
  announce(total ? `Billing records ${status}` : "No billing records match.");
}

function amountText(r) {
  const micros = toMicros(r.price);
  if (r.billing_type === "deduct") return formatUSD(-micros);
  if (r.billing_type === "refund" || r.billing_type === "recharge") return formatUSD(micros, { sign: true });
  return formatUSD(micros);
}

function recordRow(r) {
  const p = r.prediction;
  const open = () => openRecord(r);
  const when = formatTime(r.created_at);
  const row = make("tr", { "data-uuid": r.uuid, class: "record-row", onclick: (e) => { if (!e.target.closest("button, a")) open(); } },
    make("td", { "data-label": "Time" }, make("time", { datetime: r.created_at, text: when })),
    make("td", { "data-label": "Type" }, make("span", { class: `badge badge-${r.billing_type}`, text: TYPE_LABELS[r.billing_type] || r.billing_type })),
    make("td", { "data-label": "Model", class: p && p.model_uuid ? "mono-ish" : "is-empty", text: p && p.model_uuid ? p.model_uuid : "—" }),
    make("td", { "data-label": "Key", class: r.access_key_name || r.access_key_id ? "" : "is-empty", text: r.access_key_name || r.access_key_id || "—", title: r.access_key_id || undefined }),
    make("td", { "data-label": "Status", class: p && p.status ? "" : "is-empty" }, p && p.status ? make("span", { class: `status status-${p.status}`, text: p.status }) : "—"),
    make("td", { "data-label": "Amount", class: `num amount amount-${r.billing_type}`, text: amountText(r) }),
    make("td", { class: "actions" },
      make("button", { type: "button", class: "btn btn-ghost btn-small", text: "Details", "aria-label": `Details: ${TYPE_LABELS[r.billing_type] || r.billing_type} ${amountText(r)}, ${when}`, "aria-haspopup": "dialog", onclick: open })));
  return row;
}

function setPagerEnabled(enabled) {
  const last = lastPage();
  const has = enabled && (state.total ?? 0) > 0;
  $("page-first").disabled = !has || state.page <= 1;
  $("page-prev").disabled = !has || state.page <= 1;
  $("page-next").disabled = !has || state.page >= last;
  $("page-last").disabled = !has || state.page >= last;
}

function goToPage(page) {
  state.page = Math.max(1, page);
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

// ---------------------------------------------------------------- filters

function resetFilterInputs() {
  $("f-type").value = "";
  $("f-start").value = "";
  $("f-end").value = "";
  $("f-prediction").value = "";
  $("f-model").value = "";
  $("filter-error").textContent = "";
  for (const id of ["f-start", "f-end", "f-prediction"]) $(id).removeAttribute("aria-invalid");
}

function readFilters() {
  const errorNode = $("filter-error");
  errorNode.textContent = "";
  for (const id of ["f-start", "f-end", "f-prediction"]) $(id).removeAttribute("aria-invalid");
  const fail = (id, message) => {
    errorNode.textContent = message;
    $(id).setAttribute("aria-invalid", "true");
    $(id).focus();
    return null;
  };
  const startMs = localInputToMs($("f-start").value, false);
  const endMs = localInputToMs($("f-end").value, true);
  if (Number.isNaN(startMs)) return fail("f-start", "“From” is not a valid date and time.");
  if (Number.isNaN(endMs)) return fail("f-end", "“To” is not a valid date and time.");
  if (startMs !== null && endMs !== null && startMs > endMs) return fail("f-end", "“To” must be after “From”.");
  const predictions = [...new Set($("f-prediction").value.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
  if (predictions.length > 100) return fail("f-prediction", `At most 100 prediction IDs at once; you entered ${predictions.length}.`);
  return {
    billing_type: $("f-type").value,
    startMs, endMs, predictions,
    model: $("f-model").value.trim(),
  };
}

function activeFilterCount() {
  const f = state.filters;
  return [f.billing_type, f.startMs !== null, f.endMs !== null, f.predictions.length, f.model].filter(Boolean).length;
}

function updateFiltersToggle() {
  const n = activeFilterCount();
  $("filters-toggle-label").textContent = n ? `Filters (${n} active)` : "Filters";
}

function toggleFiltersPanel() {
  const form = $("filters");
  const open = form.classList.toggle("collapsed") === false;
  $("filters-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("f-type").focus();
}

function applyFilters(event) {
  if (event) event.preventDefault();
  const filters = readFilters();
  if (!filters) return;
  state.filters = filters;
  updateFiltersToggle();
  state.page = 1;
  loadRecords();
}

function clearFilters() {
  resetFilterInputs();
  state.filters = emptyFilters();
  updateFiltersToggle();
  state.page = 1;
  loadRecords();
}

function toggleSort() {
  state.sort = state.sort === "created_at DESC" ? "created_at ASC" : "created_at DESC";
  const asc = state.sort === "created_at ASC";
  $("th-time").setAttribute("aria-sort", asc ? "ascending" : "descending");
  $("sort-label").textContent = asc ? "oldest first" : "newest first";
  $("sort-toggle").classList.toggle("asc", asc);
  state.page = 1;
  loadRecords();
}

// ---------------------------------------------------------------- record details

function openRecord(r) {
  state.dialogRecord = r;
  const body = $("record-dialog-body");
  body.textContent = "";
  const section = (title, rows) => {
    const dl = make("dl", { class: "kv" });
    for (const [k, v, cls] of rows) dl.append(make("dt", { text: k }), make("dd", { class: cls || "", text: v === "" || v === null || v === undefined ? "—" : String(v) }));
    return make("section", { class: "kv-section" }, make("h3", { text: title }), dl);
  };
  body.append(section("Record", [
    ["Type", TYPE_LABELS[r.billing_type] || r.billing_type],
    ["Amount", formatUSD(toMicros(r.price))],
    ["Created", `${formatTime(r.created_at)}`],
    ["Created (UTC)", r.created_at, "mono"],
    ["Updated (UTC)", r.updated_at, "mono"],
    ["Record ID", r.uuid, "mono"],
    ["Access key", r.access_key_name],
    ["Access key ID", r.access_key_id, "mono"],
  ]));
  const o = r.order;
  body.append(o ? section("Order", [
    ["Order ID", o.uuid, "mono"],
    ["State", o.state],
    ["Status", o.status === "" ? "(empty)" : o.status],
    ["Price charged", formatUSD(toMicros(o.price))],
    ["List price", formatUSD(toMicros(o.origin_price))],
    ["Key number (ak_id)", o.ak_id],
  ]) : make("section", { class: "kv-section" }, make("h3", { text: "Order" }), make("p", { class: "muted", text: "No order: this record is not tied to a prediction." })));
  const p = r.prediction;
  body.append(p ? section("Prediction", [
    ["Prediction ID", p.uuid, "mono"],
    ["Model", p.model_uuid, "mono"],
    ["Status", p.status],
  ]) : make("section", { class: "kv-section" }, make("h3", { text: "Prediction" }), make("p", { class: "muted", text: "No prediction." })));
  $("record-dialog-title").textContent = `${TYPE_LABELS[r.billing_type] || r.billing_type} · ${amountText(r)}`;
  $("record-filter-prediction").hidden = !p;
  const dialog = $("record-dialog");
  if (!dialog.open) dialog.showModal();
  $("record-dialog-close").focus();
}

function filterByDialogPrediction() {
  const r = state.dialogRecord;
  $("record-dialog").close();
  if (!r || !r.prediction) return;
  resetFilterInputs();
  $("f-prediction").value = r.prediction.uuid;
  applyFilters();
  $("f-prediction").focus();
}

// ---------------------------------------------------------------- CSV export

async function downloadCsv() {
  if (state.csvController) { state.csvController.abort(); return; }
  const button = $("download-csv");
  const status = $("csv-status");
  const controller = new AbortController();
  state.csvController = controller;
  const label = button.lastChild.textContent;
  button.lastChild.textContent = " Cancel download";
  button.classList.add("busy");
  status.textContent = "Preparing the CSV…";
  try {
    // Freeze the export at the newest matching record, so records arriving meanwhile neither shift
    // pages (a record repeated or skipped) nor half-appear.
    const head = await state.api.searchBillings(searchBody({ page: 1, page_size: 1, sort: "created_at DESC" }), { signal: controller.signal });
    const total = head.total || 0;
    if (total > CSV_CONFIRM_ABOVE && !window.confirm(
      `This export has ${formatCount(total)} records and needs ${formatCount(Math.ceil(total / CSV_PAGE_SIZE))} requests. `
      + "For exports this large the command line (billbook billings export) is faster. Continue?")) {
      status.textContent = "Download cancelled.";
      return;
    }
    let snapshotEnd = state.filters.endMs;
    if (head.items && head.items.length) {
      const newest = Date.parse(head.items[0].created_at);
      if (Number.isFinite(newest) && (snapshotEnd === null || newest < snapshotEnd)) snapshotEnd = newest;
    }
    const parts = [csvHeader()];
    const seen = new Set();
    let page = 1;
    for (;;) {
      const data = await state.api.searchBillings(
        searchBody({ page, page_size: CSV_PAGE_SIZE, ...(snapshotEnd !== null ? { end_time: String(snapshotEnd) } : {}) }),
        { signal: controller.signal });
      const items = data.items || [];
      for (const r of items) {
        if (seen.has(r.uuid)) continue;
        seen.add(r.uuid);
        parts.push(toCsvLine(recordToRow(r)));
      }
      status.textContent = `Fetched ${formatCount(seen.size)} of ${formatCount(Math.max(total, data.total || 0))} records…`;
      const more = typeof data.has_more === "boolean" ? data.has_more : page * CSV_PAGE_SIZE < (data.total || 0);
      if (!items.length || !more) break;
      page += 1;
    }
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    const filename = `billbook-billings-${stamp}.csv`;
    const url = URL.createObjectURL(new Blob(parts, { type: "text/csv;charset=utf-8" }));
    const a = make("a", { href: url, download: filename, class: "visually-hidden" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    status.textContent = `Downloaded ${formatCount(seen.size)} ${seen.size === 1 ? "record" : "records"} as ${filename}.`;
  } catch (err) {
    if (err && err.name === "AbortError") { status.textContent = "Download cancelled."; return; }
    if (handleAuthError(err)) return;
    status.textContent = errorText(err, "the CSV").replace("Could not load", "Could not download");
  } finally {
    state.csvController = null;
    button.lastChild.textContent = label;
    button.classList.remove("busy");
  }
}

// ---------------------------------------------------------------- wiring

function init() {
  $("signin-form").addEventListener("submit", onSignin);
  $("toggle-key").addEventListener("click", () => {
    const input = $("api-key");
    const show = input.type === "password";
    input.type = show ? "text" : "password";
    $("toggle-key").textContent = show ? "Hide" : "Show";
    $("toggle-key").setAttribute("aria-pressed", String(show));
  });
  $("api-key").addEventListener("input", () => { $("api-key").setAttribute("aria-invalid", "false"); });
  $("signout").addEventListener("click", () => signOut());
  $("refresh").addEventListener("click", () => { loadBalance(); loadUsage(); loadRecords(); });
  $("filters").addEventListener("submit", applyFilters);
  $("clear-filters").addEventListener("click", clearFilters);
  $("filters-toggle").addEventListener("click", toggleFiltersPanel);
  $("sort-toggle").addEventListener("click", toggleSort);
  $("page-size").addEventListener("change", () => {
    state.pageSize = Number($("page-size").value);
    state.page = 1;
    loadRecords();
  });
  $("page-first").addEventListener("click", pagerClick(() => 1));
  $("page-prev").addEventListener("click", pagerClick(() => state.page - 1));
  $("page-next").addEventListener("click", pagerClick(() => state.page + 1));
  $("page-last").addEventListener("click", pagerClick(() => lastPage()));
  $("download-csv").addEventListener("click", downloadCsv);
  $("record-dialog-close").addEventListener("click", () => $("record-dialog").close());
  $("record-dialog").addEventListener("click", (e) => { if (e.target === $("record-dialog")) $("record-dialog").close(); });
  $("record-filter-prediction").addEventListener("click", filterByDialogPrediction);

  let lastWidth = 0;
  new ResizeObserver((entries) => {
    const w = Math.floor(entries[0].contentRect.width);
    if (w && w !== lastWidth) {
      lastWidth = w;
      if (state.usage && !$("app-view").hidden) requestAnimationFrame(renderUsage);
    }
  }).observe($("chart"));

  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) startApp(new Api(key), null);
  else showSignin();
}

init();
