// Recharge or adjust an account: amount, a required reason, a confirmation step, and one reference
// per form.
//
// The reference is the write's idempotency key. It is made when the form is opened and kept until
// the operator has seen the money move and starts a new form: a double click, a second press of
// Confirm after a lost response, or going back and confirming again all send the same reference,
// and the server applies a reference at most once (a different amount under it is a 409).

import { toMicros, formatUSD } from "./money.js";
import { $, make, announce } from "./dom.js";
import { ApiError } from "./api.js";
import { handleAuthError, whenSignedOut } from "./session.js";
import { operator } from "./console-session.js";

const MAX_USD = 1000000000n * 1000000n;
const AMOUNT = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)$/;

const form = { account: null, reference: "", draft: null, pending: false, onMoved: () => {} };

/** 24 random hex digits behind "console-": unique per form, from any page (no secure context needed). */
export function newReference() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "console-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Wire the form; `onMoved()` runs after money moved (or was found already moved). */
export function initFunds({ onMoved }) {
  form.onMoved = onMoved;
  $("funds-form").addEventListener("submit", review);
  $("funds-back").addEventListener("click", back);
  $("funds-submit").addEventListener("click", confirm);
  $("funds-new").addEventListener("click", () => startForm(form.account));
  for (const radio of $("funds-form").elements.kind) radio.addEventListener("change", kindChanged);
}

/** A fresh form, with a fresh reference, for `account` ({id, name, balance}; balance null until loaded). */
export function startForm(account) {
  form.account = account;
  form.reference = newReference();
  form.draft = null;
  form.pending = false;
  $("funds-form").reset();
  kindChanged();
  clearErrors();
  $("funds-form").hidden = false;
  $("funds-confirm").hidden = true;
  $("funds-done").hidden = true;
  $("funds-reference").hidden = false;
  $("funds-reference").textContent = `Reference for this form: ${form.reference}`;
}

/** The account's latest figures, for the confirmation's "balance after". */
export function updateAccount(account) {
  if (form.account && account && form.account.id === account.id) form.account = account;
}

function kindChanged() {
  const adjust = kind() === "adjust";
  $("funds-amount-label").textContent = adjust ? "Amount, USD (+ adds, − takes away)" : "Amount, USD";
  $("funds-amount").placeholder = adjust ? "-2.50" : "25.00";
  $("funds-review").textContent = adjust ? "Review adjustment…" : "Review recharge…";
}

function kind() {
  return $("funds-form").elements.kind.value;
}

function clearErrors() {
  $("funds-error").textContent = "";
  $("funds-confirm-error").textContent = "";
  for (const id of ["funds-amount", "funds-reason"]) $(id).removeAttribute("aria-invalid");
}

/** The amount as {text, micros}, or an error message. */
export function parseAmount(raw, adjust) {
  const text = raw.trim().replace(/^\u2212/, "-").replace(/,/g, "");
  const m = AMOUNT.exec(text);
  if (!m) return { error: "Enter the amount as a number of dollars, such as 25 or 12.50." };
  const [whole, frac = ""] = m[2].split(".");
  if (frac.length > 6) return { error: "At most 6 decimal places (a micro-dollar)." };
  const normal = (m[1] === "-" ? "-" : "") + (whole || "0") + (frac ? "." + frac : "");
  const micros = toMicros(normal);
  if (micros === 0n) return { error: "The amount cannot be zero." };
  if (!adjust && micros < 0n) return { error: "A recharge adds money: enter a positive amount (use an adjustment to take money away)." };
  if ((micros < 0n ? -micros : micros) > MAX_USD) return { error: "At most 1,000,000,000 USD at once." };
  return { text: normal, micros };
}

function fail(id, message, target = "funds-error") {
  $(target).textContent = message;
  if (id) {
    $(id).setAttribute("aria-invalid", "true");
    $(id).focus();
  }
}

/** Check the form and show what will happen; nothing is sent yet. */
function review(event) {
  event.preventDefault();
  clearErrors();
  const adjust = kind() === "adjust";
  const amount = parseAmount($("funds-amount").value, adjust);
  if (amount.error) return fail("funds-amount", amount.error);
  const reason = $("funds-reason").value.trim();
  if (!reason) return fail("funds-reason", "Give a reason: it is kept in the audit log with the change.");
  if (form.account.balance === null) return fail(null, "The account is still loading; review again in a moment.");
  form.draft = { kind: adjust ? "adjust" : "recharge", amount: amount.text, micros: amount.micros, reason };
  showConfirmation();
}

function showConfirmation() {
  const d = form.draft;
  const a = form.account;
  const list = $("funds-confirm-list");
  list.textContent = "";
  const after = toMicros(a.balance) + d.micros;
  const rows = [
    ["Account", `${a.name} (#${a.id})`],
    [d.kind === "adjust" ? "Adjustment" : "Recharge", formatUSD(d.micros, { sign: true })],
    ["Balance now", formatUSD(toMicros(a.balance))],
    ["Balance after", formatUSD(after)],
    ["Reason", d.reason],
    ["Reference", form.reference],
  ];
  for (const [k, v] of rows) list.append(make("dt", { text: k }), make("dd", { text: v, class: k === "Reference" ? "mono" : "" }));
  $("funds-confirm-title").textContent = d.kind === "adjust" ? "Confirm the adjustment" : "Confirm the recharge";
  $("funds-submit").textContent = d.kind === "adjust" ? `Adjust by ${formatUSD(d.micros, { sign: true })}` : `Recharge ${formatUSD(d.micros)}`;
  $("funds-submit").disabled = false;
  $("funds-form").hidden = true;
  $("funds-reference").hidden = true; // the confirmation names it
  $("funds-confirm").hidden = false;
  $("funds-submit").focus();
}

function back() {
  if (form.pending) return;
  $("funds-confirm").hidden = true;
  $("funds-reference").hidden = false;
  $("funds-form").hidden = false;
  $("funds-amount").focus();
}

/** Send the write. However often this runs for one form, it sends the same reference. */
async function confirm() {
  if (form.pending || !form.draft) return;
  form.pending = true;
  const button = $("funds-submit");
  const label = button.textContent;
  button.disabled = true;
  $("funds-back").disabled = true;
  button.textContent = form.draft.kind === "adjust" ? "Adjusting…" : "Recharging…";
  $("funds-confirm-error").textContent = "";
  const d = form.draft;
  const body = { amount: d.amount, reason: d.reason, reference: form.reference };
  try {
    const result = d.kind === "adjust"
      ? await operator.api.adjust(form.account.id, body)
      : await operator.api.recharge(form.account.id, body);
    showDone(d, result);
  } catch (err) {
    button.textContent = label;
    button.disabled = false;
    if (handleAuthError(err)) return;
    $("funds-confirm-error").textContent = refusal(err);
    announce($("funds-confirm-error").textContent);
  } finally {
    form.pending = false;
    $("funds-back").disabled = false;
  }
}

function refusal(err) {
  if (err instanceof ApiError) {
    if (err.status === 403) return `Refused: ${err.message}. This token may only read.`;
    if (err.status === 409) {
      return `Refused: ${err.message}. This form's reference was used before with other values, so an earlier `
        + "attempt went through. Check the records before starting a new form.";
    }
    if (err.status === 400 || err.status === 404) return `Refused: ${err.message}`;
  }
  return `${err && err.message ? err.message : "The request failed."} It is not known whether the money moved: `
    + "press the button again. It sends the same reference, so it can never apply twice.";
}

function showDone(d, result) {
  const what = d.kind === "adjust" ? `Adjusted by ${formatUSD(toMicros(result.amount), { sign: true })}` : `Recharged ${formatUSD(toMicros(result.amount))}`;
  const again = result.created === false ? " (an earlier attempt of this form had already done it; nothing moved twice)" : "";
  $("funds-done-text").textContent = `${what}${again}. Balance now ${formatUSD(toMicros(result.balance))}.`;
  $("funds-confirm").hidden = true;
  $("funds-done").hidden = false;
  $("funds-new").focus();
  announce($("funds-done-text").textContent);
  form.onMoved();
}

whenSignedOut(() => { form.account = null; form.draft = null; });
