// Shaping for the Statements view, without drawing: which months to list and a statement's row.
// Pure functions, so the browser tests can check them with made-up input.

import { toMicros } from "./money.js";

/** Months listed: this UTC month and the eleven before it. */
export const MONTHS_LISTED = 12;

/** "YYYY-MM" of the UTC months ending with the one of `nowMs`, newest first. */
export function recentMonths(nowMs, count = MONTHS_LISTED) {
  const now = new Date(nowMs);
  let year = now.getUTCFullYear();
  let month = now.getUTCMonth() + 1;
  const months = [];
  for (let i = 0; i < count; i++) {
    months.push(`${year}-${String(month).padStart(2, "0")}`);
    month -= 1;
    if (month === 0) { month = 12; year -= 1; }
  }
  return months;
}

/** "2026-10" -> "October 2026", in English whatever the browser's language (as the rest of the page). */
export function monthLabel(month) {
  const [year, m] = month.split("-").map(Number);
  return new Date(Date.UTC(year, m - 1, 1)).toLocaleString("en-US", { month: "long", year: "numeric", timeZone: "UTC" });
}

/** A statement's figures as micro-dollars (BigInt), with the counts and whether the month is open. */
export function statementRow(data) {
  return {
    month: String(data.month),
    open: Boolean(data.open),
    opening: toMicros(data.opening_balance),
    recharges: toMicros(data.recharges),
    adjustments: toMicros(data.adjustments),
    netCharges: toMicros(data.net_charges),
    closing: toMicros(data.closing_balance),
    records: Number(data.record_count) || 0,
    startTime: String(data.start_time),
    endTime: String(data.end_time),
  };
}
