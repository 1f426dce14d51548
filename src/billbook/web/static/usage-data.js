// The usage_stats response shaped for the spend view: pure functions, no DOM, so they can be checked
// on their own. Money is BigInt micro-dollars throughout.

import { toMicros } from "./money.js";

export const DAYS = 30;
const MS_PER_DAY = 86400000;
/** Models drawn as their own series; the rest share one "Other models" series. */
export const TOP_SERIES = 6;
export const OTHER = "__other__";

/** The last `days` UTC days up to the one containing `now`: ISO bounds for the API and each date. */
export function usageRange(now = new Date(), days = DAYS) {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const start = today - (days - 1) * MS_PER_DAY;
  const end = today + MS_PER_DAY - 1;
  const dates = [];
  for (let t = start; t <= today; t += MS_PER_DAY) dates.push(new Date(t).toISOString().slice(0, 10));
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString(), dates };
}

/** Larger amount first, then model name: the one order used for ranking and for the table. */
function byMicrosThenName([aKey, aMicros], [bKey, bMicros]) {
  if (bMicros > aMicros) return 1;
  if (bMicros < aMicros) return -1;
  return aKey.localeCompare(bKey);
}

/** Rows of the per-model table, most spend first. */
export function modelRows(data) {
  const rows = (data.per_model_usage || []).map((m) => ({
    model: m.model_uuid,
    type: m.model_type,
    unit: m.unit_price === null || m.unit_price === undefined ? null : toMicros(m.unit_price),
    micros: toMicros(m.total_cost),
    count: m.total_count,
    lastUsed: m.last_used_date,
  }));
  return rows.sort((a, b) => byMicrosThenName([a.model, a.micros], [b.model, b.micros]));
}

/** The headline figures; `refunded` is requests made but no longer charged. */
export function summaryStats(data, rows = modelRows(data)) {
  const summary = data.summary || {};
  const requests = summary.total_requests ?? 0;
  const charged = rows.reduce((n, m) => n + (m.count || 0), 0);
  return {
    costMicros: toMicros(summary.total_cost),
    requests,
    success: summary.success_requests ?? 0,
    models: rows.length,
    refunded: Math.max(0, requests - charged),
  };
}

/**
 * The chart's series, bottom to top: the TOP_SERIES models with most spend each get one, the rest
 * share "Other models" (unless only one model would be in it: then it keeps its own).
 */
export function chartSeries(data) {
  const totals = new Map();
  for (const d of data.daily_usage || []) {
    for (const m of d.models || []) totals.set(m.model_uuid, (totals.get(m.model_uuid) || 0n) + toMicros(m.amount));
  }
  const ranked = [...totals.entries()].sort(byMicrosThenName);
  const keep = ranked.length > TOP_SERIES + 1 ? ranked.slice(0, TOP_SERIES) : ranked;
  const series = keep.map(([key], i) => ({ key, label: key, cls: `s${i}` }));
  if (keep.length < ranked.length) {
    series.push({ key: OTHER, label: `Other models (${ranked.length - keep.length})`, cls: "s-other" });
  }
  return series;
}

/** Every date of the range, zeros where the API has no entry, each split into the chart's series. */
export function dailyBars(data, dates, series) {
  const own = new Set(series.map((s) => s.key).filter((k) => k !== OTHER));
  const byDate = new Map((data.daily_usage || []).map((d) => [d.date, d]));
  return dates.map((date) => {
    const d = byDate.get(date);
    const parts = new Map();
    for (const m of (d && d.models) || []) {
      const key = own.has(m.model_uuid) ? m.model_uuid : OTHER;
      const prev = parts.get(key) || { micros: 0n, count: 0 };
      parts.set(key, { micros: prev.micros + toMicros(m.amount), count: prev.count + (m.count || 0) });
    }
    return { date, micros: d ? toMicros(d.amount) : 0n, count: d ? d.count || 0 : 0, parts };
  });
}

/** The series a model is drawn in (its own, or "Other models"). */
export function seriesOf(series, model) {
  return series.find((s) => s.key === model) || series.find((s) => s.key === OTHER) || null;
}

/** Everything the spend view shows, from one usage_stats response and its range's dates. */
export function shapeUsage(data, dates) {
  const rows = modelRows(data);
  const series = chartSeries(data);
  const days = dailyBars(data, dates, series);
  const totalMicros = days.reduce((a, d) => a + d.micros, 0n);
  return {
    stats: summaryStats(data, rows),
    rows,
    series,
    days,
    totalMicros,
    empty: totalMicros === 0n && days.every((d) => !d.count),
  };
}
