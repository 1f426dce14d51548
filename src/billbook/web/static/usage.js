// The spend view: headline figures, the daily chart with its legend and table, and the per-model table.
// The numbers come from usage-data.js; this module only fetches and draws.

import { formatUSD, formatCount } from "./money.js";
import { renderChart, dayLabel } from "./chart.js";
import { $, make, announce, setState, errorText, formatTime } from "./dom.js";
import { session, handleAuthError, whenSignedOut } from "./session.js";
import { usageRange, shapeUsage, seriesOf } from "./usage-data.js";

const STAT_IDS = ["stat-cost", "stat-requests", "stat-success", "stat-models"];

/** The last response and its range, kept so a resize can redraw without a request. */
let current = null;

export async function loadUsage() {
  const range = usageRange();
  $("usage-range").textContent =
    `${dayLabel(range.dates[0], true)} – ${dayLabel(range.dates[range.dates.length - 1], true)}, UTC days`;
  const chartWrap = $("chart").parentElement;
  setState($("usage-state"), "loading", "Loading usage…");
  $("chart").setAttribute("aria-busy", "true");
  chartWrap.classList.add("loading");
  showStats("…");
  try {
    const data = await session.api.usageStats({ start_time: range.start, end_time: range.end });
    current = { data, range };
    redrawUsage();
  } catch (err) {
    if (handleAuthError(err)) return;
    current = null;
    $("chart").textContent = "";
    $("chart-legend").textContent = "";
    showStats("—");
    $("models-table").tBodies[0].textContent = "";
    setState($("usage-state"), "error", errorText(err, "usage"), { label: "Try again", run: loadUsage });
  } finally {
    $("chart").removeAttribute("aria-busy");
    chartWrap.classList.remove("loading");
  }
}

/** Draw the last response again (the chart follows its container's width). */
export function redrawUsage() {
  if (!current) return;
  const view = shapeUsage(current.data, current.range.dates);
  drawStats(view.stats);
  drawChart(view);
  drawDailyTable(view.days);
  drawModelsTable(view.rows, view.series);
}

export function hasUsage() {
  return current !== null;
}

function showStats(text) {
  for (const id of STAT_IDS) $(id).textContent = text;
  $("stat-refunded").textContent = "";
}

function drawStats(stats) {
  $("stat-cost").textContent = formatUSD(stats.costMicros);
  $("stat-requests").textContent = formatCount(stats.requests);
  $("stat-success").textContent = formatCount(stats.success);
  $("stat-models").textContent = formatCount(stats.models);
  $("stat-refunded").textContent = stats.refunded > 0 ? `${formatCount(stats.refunded)} refunded` : "";
}

function drawChart({ days, series, empty }) {
  const chart = $("chart");
  const legend = $("chart-legend");
  legend.textContent = "";
  chart.hidden = empty;
  chart.parentElement.querySelector(".chart-table-details").hidden = empty;
  if (empty) {
    chart.textContent = "";
    setState($("usage-state"), "empty", "No spend in the last 30 days. Charges will show here by day and by model.");
    return;
  }
  setState($("usage-state"), "", "");
  renderChart(chart, $("chart-tooltip"), { days, series, announce });
  for (const s of series) {
    legend.append(make("li", {}, make("span", { class: `swatch ${s.cls}`, "aria-hidden": "true" }), make("span", { text: s.label })));
  }
}

function drawDailyTable(days) {
  const body = $("daily-table").tBodies[0];
  body.textContent = "";
  for (const d of [...days].reverse()) {
    body.append(make("tr", {},
      make("th", { scope: "row", text: d.date }),
      make("td", { class: "num", text: formatCount(d.count) }),
      make("td", { class: "num", text: formatUSD(d.micros) })));
  }
}

function drawModelsTable(rows, series) {
  const body = $("models-table").tBodies[0];
  body.textContent = "";
  if (!rows.length) {
    body.append(make("tr", {}, make("td", { colspan: "5", class: "empty-cell", text: "No model was used in the last 30 days." })));
  }
  for (const m of rows) {
    const s = seriesOf(series, m.model);
    body.append(make("tr", {},
      make("th", { scope: "row" }, make("div", { class: "model-cell" },
        make("span", { class: `swatch ${s ? s.cls : "s-other"}`, "aria-hidden": "true" }),
        make("span", { class: "model-name", text: m.model }),
        m.type ? make("span", { class: "model-type", text: m.type }) : null)),
      make("td", { class: "num", "data-label": "Requests", text: formatCount(m.count) }),
      make("td", { class: "num", "data-label": "Spend", text: formatUSD(m.micros) }),
      make("td", { class: "num", "data-label": "Unit price", text: m.unit === null ? "—" : formatUSD(m.unit) }),
      make("td", { "data-label": "Last used", text: formatLastUsed(m.lastUsed) })));
  }
  const options = $("model-options");
  options.textContent = "";
  for (const m of rows) options.append(make("option", { value: m.model }));
}

function formatLastUsed(value) {
  if (!value) return "—";
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return dayLabel(value, true);
  return formatTime(value);
}

whenSignedOut(() => {
  current = null;
  $("chart").textContent = "";
});
