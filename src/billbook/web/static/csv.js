// CSV of billing records (RFC 4180: comma separated, CRLF line ends, quotes doubled).

import { toMicros, microsToDecimal } from "./money.js";

export const CSV_COLUMNS = [
  "created_at", "uuid", "billing_type", "price", "access_key_id", "access_key_name",
  "model_uuid", "prediction_uuid", "prediction_status",
  "order_uuid", "order_state", "order_status", "order_price", "order_origin_price", "order_ak_id",
  "updated_at",
];

const money = (v) => (v === null || v === undefined ? "" : microsToDecimal(toMicros(v)));

export function recordToRow(r) {
  const o = r.order || {};
  const p = r.prediction || {};
  return [
    r.created_at, r.uuid, r.billing_type, money(r.price), r.access_key_id, text(r.access_key_name),
    text(p.model_uuid), p.uuid, p.status,
    o.uuid, o.state, o.status, r.order ? money(o.price) : "", r.order ? money(o.origin_price) : "", o.ak_id,
    r.updated_at,
  ];
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
