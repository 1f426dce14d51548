// Exact money and plain formatting helpers.
//
// The API renders money as a JSON number of USD with at most 6 decimals (0.04). A JavaScript number
// cannot hold most decimals exactly, so api.js keeps a number's exact text when the number would not
// round-trip, and every amount is turned into integer micro-dollars (BigInt) straight away, from that
// text or the number's shortest decimal form; all sums and formatting use those.

const MICROS = 1000000n;

/** USD (a JSON number, or a decimal string) -> BigInt micro-dollars, exactly. */
export function toMicros(value) {
  if (value === null || value === undefined || value === "") return 0n;
  if (typeof value === "bigint") return value;
  let text = typeof value === "number" ? numberToDecimal(value) : plainDecimal(String(value).trim());
  let negative = false;
  if (text.startsWith("-")) { negative = true; text = text.slice(1); }
  else if (text.startsWith("+")) { text = text.slice(1); }
  if (!/^\d*(\.\d*)?$/.test(text) || text === "" || text === ".") {
    throw new Error(`not an amount of money: ${value}`);
  }
  const [whole, frac = ""] = text.split(".");
  let micros = BigInt(whole || "0") * MICROS + BigInt((frac + "000000").slice(0, 6));
  // More than six decimals never comes from the API; round half away from zero if it does.
  if (frac.length > 6 && Number(frac[6]) >= 5) micros += 1n;
  return negative ? -micros : micros;
}

/** A finite JS number as a plain decimal string (no exponent), using its shortest round-trip digits. */
function numberToDecimal(n) {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`);
  return plainDecimal(String(n));
}

/**
 * Decimal text without an exponent, keeping every digit it has ("1.50e+1" -> "15.0", "2E-3" -> "0.002"),
 * as Python's format(Decimal(text), "f") writes it. Text without an exponent comes back unchanged.
 */
function plainDecimal(s) {
  if (!/e/i.test(s)) return s;
  const m = /^([+-]?)(\d+)(?:\.(\d*))?e([+-]?\d+)$/i.exec(s);
  if (!m) throw new Error(`not an amount of money: ${s}`);
  const sign = m[1] === "-" ? "-" : "";
  const digits = m[2] + (m[3] || "");
  const exp = Number(m[4]) - (m[3] ? m[3].length : 0);
  if (exp >= 0) return sign + digits + "0".repeat(exp);
  const pad = digits.padStart(-exp + 1, "0");
  return sign + pad.slice(0, pad.length + exp) + "." + pad.slice(pad.length + exp);
}

/**
 * A money value from the API as plain decimal text, digit for digit as the server wrote it (for CSV):
 * 0.04 -> "0.04", 100 -> "100", "0.10" (exact text kept by api.js) -> "0.10". Null/undefined -> "".
 */
export function decimalText(value) {
  if (value === null || value === undefined || value === "") return "";
  if (typeof value === "number") return numberToDecimal(value);
  if (typeof value === "bigint") return microsToDecimal(value, { minDecimals: 0 });
  const text = String(value).trim();
  toMicros(text); // refuses anything that is not money
  return plainDecimal(text);
}

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * Micro-dollars as a decimal string with at least `minDecimals` and at most 6 decimals
 * (trailing zeros beyond the minimum dropped): 40000n -> "0.04", 3500n -> "0.0035", 100000000n -> "100.00".
 */
export function microsToDecimal(micros, { minDecimals = 2, grouping = false } = {}) {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  let whole = (abs / MICROS).toString();
  let frac = (abs % MICROS).toString().padStart(6, "0");
  while (frac.length > minDecimals && frac.endsWith("0")) frac = frac.slice(0, -1);
  if (grouping) whole = groupThousands(whole);
  return (negative ? "-" : "") + whole + (frac ? "." + frac : "");
}

/** Micro-dollars for display: "$1,234.50", "$0.0035", "−$2.00" (true minus sign). */
export function formatUSD(micros, { sign = false } = {}) {
  const m = typeof micros === "bigint" ? micros : toMicros(micros);
  const body = "$" + microsToDecimal(m < 0n ? -m : m, { grouping: true });
  if (m < 0n) return "\u2212" + body;
  if (sign && m > 0n) return "+" + body;
  return body;
}

/** Short axis labels: $0, $0.50, $12, $1.2k. */
export function formatUSDShort(micros) {
  const usd = Number(micros) / 1e6;
  if (usd === 0) return "$0";
  if (Math.abs(usd) >= 1000) return "$" + trimZeros((usd / 1000).toFixed(1)) + "k";
  if (Math.abs(usd) >= 10) return "$" + trimZeros(usd.toFixed(0));
  if (Math.abs(usd) >= 0.01) return "$" + usd.toFixed(2);
  return "$" + trimZeros(usd.toPrecision(2));
}

function trimZeros(s) {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/** Integers with thousands separators: 1234 -> "1,234". */
export function formatCount(n) {
  if (n === null || n === undefined || n === "") return "—";
  return groupThousands(String(n));
}
