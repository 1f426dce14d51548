// The platform overview: money held by customers and by open orders, revenue per day by model (the
// dashboard's chart over every account), the refund rate, and the accounts with most spend.

import { toMicros, formatUSD, formatCount } from "./money.js";
import { renderChart, dayLabel } from "./chart.js";
import { $, make, announce, setState, errorText } from "./dom.js";
import { handleAuthError, whenSignedOut } from "./session.js";
import { operator } from "./console-session.js";
import { usageRange, shapeUsage } from "./usage-data.js";
import { refundRate, percentText, topAccounts } from "./console-overview-data.js";

/** The last usage response and its range, kept so a resize redraws without a request. */
let current = null;
let loaded = false;

export function showOverview() {
  if (!loaded) loadOverview();
  else requestAnimationFrame(redrawOverview); // drawn while hidden: no width
}

export function loadOverview() {
  loaded = true;
  loadTotals();
  loadUsage();
}

async function loadTotals() {
  for (const id of ["ov-balance", "ov-held"]) $(id).textContent = "…";
  try {
    const t = await operator.api.totals();
    $("ov-balance").textContent = formatUSD(toMicros(t.balance));
    $("ov-held").textContent = formatUSD(toMicros(t.held));
    $("ov-accounts").textContent = `${formatCount(t.accounts)} ${t.accounts === 1 ? "account" : "accounts"}`;
  } catch (err) {
    if (handleAuthError(err)) return;
    for (const id of ["ov-balance", "ov-held"]) {
      $(id).textContent = "unavailable";
      $(id).title = errorText(err, "the totals");
    }
  }
}

async function loadUsage() {
  const range = usageRange();
  $("ov-range").textContent =
    `${dayLabel(range.dates[0], true)} – ${dayLabel(range.dates[range.dates.length - 1], true)}, UTC days, every account`;
  setState($("ov-state"), "loading", "Loading revenue…");
  $("ov-chart").parentElement.classList.add("loading");
  try {
    const data = await operator.api.usageStats({ start_time: range.start, end_time: range.end });
    current = { data, range };
    redrawOverview();
  } catch (err) {
    if (handleAuthError(err)) return;
    current = null;
    $("ov-chart").textContent = "";
    $("ov-legend").textContent = "";
    for (const id of ["ov-revenue", "ov-refunds"]) $(id).textContent = "—";
    setState($("ov-state"), "error", errorText(err, "revenue"), { label: "Try again", run: loadUsage });
  } finally {
    $("ov-chart").parentElement.classList.remove("loading");
  }
}

export function redrawOverview() {
  if (!current || $("overview-view").hidden) return;
  const { data, range } = current;
  const view = shapeUsage(data, range.dates);
  const refunds = refundRate(data);
  $("ov-revenue").textContent = formatUSD(view.stats.costMicros);
  $("ov-requests").textContent = `${formatCount(refunds.requests)} requests`;
  $("ov-refunds").textContent = percentText(refunds.rate);
  $("ov-refunded").textContent = refunds.requests ? `${formatCount(refunds.refunded)} refunded` : "";
  drawChart(view);
  drawTop(topAccounts(data));
}

function drawChart({ days, series, empty }) {
  const chart = $("ov-chart");
  const legend = $("ov-legend");
  legend.textContent = "";
  chart.hidden = empty;
  if (empty) {
    chart.textContent = "";
    setState($("ov-state"), "empty", "No revenue in the last 30 days.");
    return;
  }
  setState($("ov-state"), "", "");
  renderChart(chart, $("ov-tooltip"), { days, series, announce });
  for (const s of series) {
    legend.append(make("li", {}, make("span", { class: `swatch ${s.cls}`, "aria-hidden": "true" }), make("span", { text: s.label })));
  }
}

/** Account names for the top accounts (usage statistics name accounts by id only). */
const names = new Map();

async function fillNames(rows) {
  const missing = rows.filter((r) => !r.name && !names.has(r.id));
  await Promise.all(missing.map(async (r) => {
    try { names.set(r.id, (await operator.api.account(r.id)).name); } catch { /* the id stays */ }
  }));
  for (const r of rows) {
    const name = r.name || names.get(r.id);
    const cell = document.querySelector(`#top-table [data-account-id="${r.id}"] .account-name`);
    if (cell && name) cell.textContent = name;
  }
}

function drawTop(rows) {
  const body = $("top-table").tBodies[0];
  body.textContent = "";
  if (!rows.length) {
    body.append(make("tr", {}, make("td", { colspan: "4", class: "empty-cell", text: "No account spent anything in the last 30 days." })));
  }
  for (const r of rows) {
    body.append(make("tr", { "data-account-id": String(r.id) },
      make("th", { scope: "row", "data-label": "Account" },
        make("a", { href: `#account/${r.id}`, class: "account-link" },
          make("span", { class: "account-name", text: r.name || names.get(r.id) || `Account ${r.id}` }),
          make("span", { class: "account-id muted", text: `#${r.id}` }))),
      make("td", { class: "num", "data-label": "Requests", text: formatCount(r.count) }),
      make("td", { class: "num strong", "data-label": "Spend", text: formatUSD(r.micros) }),
      make("td", { class: "num", "data-label": "Share", text: r.share === null ? "—" : percentText(r.share) })));
  }
  fillNames(rows);
}

whenSignedOut(() => {
  current = null;
  loaded = false;
  $("ov-chart").textContent = "";
});
