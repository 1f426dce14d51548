// The overview's figures, shaped from the platform-wide usage_stats response: pure functions, no DOM.
// Money is BigInt micro-dollars.

import { toMicros } from "./money.js";

export const TOP_ACCOUNTS = 10;

/**
 * Refunds as a share of requests: predictions refunded / predictions charged in the range (the
 * summary's total_requests counts both; per-model counts leave refunded ones out).
 */
export function refundRate(data) {
  const requests = (data.summary && data.summary.total_requests) || 0;
  const kept = (data.per_model_usage || []).reduce((n, m) => n + (m.total_count || 0), 0);
  const refunded = Math.max(0, requests - kept);
  return { requests, refunded, rate: requests ? refunded / requests : null };
}

/** "2.4%", "0%", "<0.1%"; "—" without requests. */
export function percentText(rate) {
  if (rate === null) return "—";
  if (rate === 0) return "0%";
  if (rate < 0.001) return "<0.1%";
  return `${(rate * 100).toFixed(1).replace(/\.0$/, "")}%`;
}

/** The accounts with most spend, most first (ties by id), each with its share of all spend. */
export function topAccounts(data, n = TOP_ACCOUNTS) {
  const rows = (data.per_account_usage || []).map((a) => ({
    id: a.account_id,
    name: a.account_name ?? a.name ?? null,
    micros: toMicros(a.total_cost ?? a.amount),
    count: a.total_count ?? a.count ?? 0,
  }));
  const total = rows.reduce((acc, r) => acc + r.micros, 0n);
  rows.sort((a, b) => (b.micros > a.micros ? 1 : b.micros < a.micros ? -1 : a.id - b.id));
  return rows.slice(0, n).map((r) => ({ ...r, share: total > 0n ? Number((r.micros * 10000n) / total) / 10000 : null }));
}
