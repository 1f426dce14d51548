// The filter form of the records view: reading and checking it, clearing it, folding it on a phone.
// What the filters do to the query is records.js's business.

import { $ } from "./dom.js";

const CHECKED_INPUTS = ["f-start", "f-end", "f-prediction"];
const MAX_PREDICTIONS = 100;

/** The key filter is on pages that list an account's keys (the operator console); elsewhere it is absent. */
const keyField = () => $("f-key");

export function emptyFilters() {
  return { billing_type: "", startMs: null, endMs: null, predictions: [], model: "", key: "" };
}

export function activeFilterCount(f) {
  return [f.billing_type, f.startMs !== null, f.endMs !== null, f.predictions.length, f.model, f.key].filter(Boolean).length;
}

export function resetFilterForm() {
  $("f-type").value = "";
  $("f-start").value = "";
  $("f-end").value = "";
  $("f-prediction").value = "";
  $("f-model").value = "";
  if (keyField()) keyField().value = "";
  clearFormErrors();
}

function clearFormErrors() {
  $("filter-error").textContent = "";
  for (const id of CHECKED_INPUTS) $(id).removeAttribute("aria-invalid");
}

/** The filters the form holds, or null (with the first problem shown beside its field). */
export function readFilterForm() {
  clearFormErrors();
  const fail = (id, message) => {
    $("filter-error").textContent = message;
    $(id).setAttribute("aria-invalid", "true");
    $(id).focus();
    return null;
  };
  const startMs = localInputToMs($("f-start").value, false);
  const endMs = localInputToMs($("f-end").value, true);
  if (Number.isNaN(startMs)) return fail("f-start", "“From” is not a valid date and time.");
  if (Number.isNaN(endMs)) return fail("f-end", "“To” is not a valid date and time.");
  if (startMs !== null && endMs !== null && startMs > endMs) return fail("f-end", "“To” must be after “From”.");
  const predictions = [...new Set($("f-prediction").value.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
  if (predictions.length > MAX_PREDICTIONS) {
    return fail("f-prediction", `At most ${MAX_PREDICTIONS} prediction IDs at once; you entered ${predictions.length}.`);
  }
  const key = keyField() ? keyField().value.trim() : "";
  return { billing_type: $("f-type").value, startMs, endMs, predictions, model: $("f-model").value.trim(), key };
}

/** datetime-local value ("2026-04-23T14:05" or with seconds) -> epoch ms in the browser's time zone. */
function localInputToMs(value, endOfSecond) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  if (!Number.isFinite(ms)) return NaN;
  return endOfSecond ? ms + 999 : ms;
}

export function showActiveCount(n) {
  $("filters-toggle-label").textContent = n ? `Filters (${n} active)` : "Filters";
}

export function toggleFiltersPanel() {
  const open = $("filters").classList.toggle("collapsed") === false;
  $("filters-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("f-type").focus();
}

export function timeZoneNote() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  const off = -new Date().getTimezoneOffset();
  const sign = off >= 0 ? "+" : "\u2212";
  const hh = String(Math.floor(Math.abs(off) / 60)).padStart(2, "0");
  const mm = String(Math.abs(off) % 60).padStart(2, "0");
  return `Times are in your time zone, ${zone} (UTC${sign}${hh}:${mm}). Both ends of the range are included.`;
}
