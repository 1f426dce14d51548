// CSV of billing records: the same columns, and the same text in each cell, as the command line's
// export (billbook.client.CSV_COLUMNS; a test checks both). Comma separated, quotes doubled, CRLF
// line ends (RFC 4180).

import { decimalText } from "./money.js";
import { amountDecimal, balanceAfterDecimal } from "./record.js";

export const CSV_COLUMNS = [
  "uuid", "created_at", "updated_at", "billing_type", "price", "amount", "balance_after",
  "access_key_id", "access_key_name", "model_uuid", "prediction_uuid", "prediction_status",
  "order_uuid", "order_state", "order_price", "order_origin_price", "order_ak_id",
];

export function recordToRow(r) {
  const o = r.order;
  const p = r.prediction || {};
  return [
    r.uuid, isoMs(r.created_at), isoMs(r.updated_at), r.billing_type, decimalText(r.price),
    amountDecimal(r), balanceAfterDecimal(r),
    r.access_key_id, text(r.access_key_name), text(p.model_uuid), p.uuid, p.status,
    o ? o.uuid : "", o ? o.state : "",
    o ? decimalText(o.price) : "", o ? decimalText(o.origin_price ?? o.price) : "", o ? o.ak_id : "",
  ];
}

/** "2026-04-23T12:23:30.933Z": times in one form (milliseconds, UTC), whatever form the server used. */
function isoMs(value) {
  if (!value) return "";
  const t = Date.parse(value);
  return Number.isFinite(t) ? new Date(t).toISOString() : String(value);
}

// Free text a spreadsheet would run as a formula (=, +, -, @ at the start) gets a leading apostrophe.
function text(v) {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /^[=+\-@\t\r]/.test(s) ? "'" + s : s;
}

function cell(v) {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsvLine(values) {
  return values.map(cell).join(",") + "\r\n";
}

export function csvHeader() {
  return toCsvLine(CSV_COLUMNS);
}
