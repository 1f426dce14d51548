// What a billing record means to a reader: its type's name, the signed change it made to the balance,
// and the balance right after it. Pure functions, no DOM.
//
// billbook sends `amount` (signed) and `balance_after` on every record. A server that does not (the
// upstream service) sends only the positive `price`: the sign then follows from the type for deduct
// (-), refund and recharge (+); an adjustment's sign, and any balance after, are unknown (null / "").

import { toMicros, decimalText, formatUSD } from "./money.js";

export const TYPE_LABELS = { deduct: "Deduct", refund: "Refund", recharge: "Recharge", adjust: "Adjust" };
const NEGATIVE = new Set(["deduct"]);
const POSITIVE = new Set(["refund", "recharge"]);

const present = (v) => v !== null && v !== undefined && v !== "";

export function typeLabel(r) {
  return TYPE_LABELS[r.billing_type] || r.billing_type;
}

/** The signed amount as BigInt micro-dollars, or null when it cannot be known. */
export function signedAmount(r) {
  if (present(r.amount)) return toMicros(r.amount);
  if (NEGATIVE.has(r.billing_type)) return -toMicros(r.price);
  if (POSITIVE.has(r.billing_type)) return toMicros(r.price);
  return null;
}

/** The balance right after the record, as BigInt micro-dollars, or null when the server did not say. */
export function balanceAfter(r) {
  return present(r.balance_after) ? toMicros(r.balance_after) : null;
}

/** "−$0.04", "+$5.00", or "" when unknown. */
export function amountText(r) {
  const micros = signedAmount(r);
  return micros === null ? "" : formatUSD(micros, { sign: true });
}

/** "$245.96", or "" when unknown. */
export function balanceAfterText(r) {
  const micros = balanceAfter(r);
  return micros === null ? "" : formatUSD(micros);
}

/** The signed amount as plain decimal text, digit for digit as the server wrote it or its price ("" when unknown). */
export function amountDecimal(r) {
  if (present(r.amount)) return decimalText(r.amount);
  const price = decimalText(r.price);
  if (NEGATIVE.has(r.billing_type)) return price.startsWith("-") ? price.slice(1) : "-" + price;
  if (POSITIVE.has(r.billing_type)) return price;
  return "";
}

export function balanceAfterDecimal(r) {
  return present(r.balance_after) ? decimalText(r.balance_after) : "";
}
