// The record details dialog: every field of one billing record, its order and its prediction.

import { toMicros, formatUSD } from "./money.js";
import { $, make, formatTime, saveBlob, errorText } from "./dom.js";
import { session, handleAuthError, whenSignedOut } from "./session.js";
import { typeLabel, amountText, balanceAfterText } from "./record.js";

let shownRecord = null;

/** Wire the dialog; `onFilterPrediction(uuid)` lists every record of the shown record's prediction. */
export function initRecordDialog({ onFilterPrediction }) {
  const dialog = $("record-dialog");
  $("record-dialog-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
  $("record-filter-prediction").addEventListener("click", () => {
    const r = shownRecord;
    dialog.close();
    if (r && r.prediction) onFilterPrediction(r.prediction.uuid);
  });
  $("record-receipt").addEventListener("click", downloadReceipt);
}

/** A recharge's receipt, fetched with the key (or admin token) in the header and saved as a file. */
async function downloadReceipt() {
  const r = shownRecord;
  const button = $("record-receipt");
  const status = $("record-receipt-status");
  if (!r || button.disabled) return;
  button.disabled = true;
  status.textContent = "Preparing the receipt…";
  try {
    const filename = `receipt-${r.uuid}.pdf`;
    saveBlob(await session.api.receiptPdf(r.uuid), filename);
    status.textContent = `Downloaded ${filename}.`;
  } catch (err) {
    if (handleAuthError(err)) return;
    status.textContent = errorText(err, "the receipt").replace("Could not load", "Could not download");
  } finally {
    button.disabled = false;
  }
}

function section(title, rows) {
  const dl = make("dl", { class: "kv" });
  for (const [k, v, cls] of rows) {
    const empty = v === "" || v === null || v === undefined;
    dl.append(make("dt", { text: k }), make("dd", { class: empty ? "" : cls || "", text: empty ? "—" : String(v) }));
  }
  return make("section", { class: "kv-section" }, make("h3", { text: title }), dl);
}

function note(title, text) {
  return make("section", { class: "kv-section" }, make("h3", { text: title }), make("p", { class: "muted", text }));
}

/** Orders priced from the catalog name the price version; others (and the upstream) send none. */
function hasPriceVersion(order) {
  return order.price_version !== undefined && order.price_version !== null;
}

export function openRecord(r) {
  shownRecord = r;
  const body = $("record-dialog-body");
  body.textContent = "";
  body.append(section("Record", [
    ["Type", typeLabel(r)],
    ["Amount", amountText(r), "amount"],
    ["Balance after", balanceAfterText(r)],
    ["Price", formatUSD(toMicros(r.price))],
    ["Created", formatTime(r.created_at)],
    ["Created (UTC)", r.created_at, "mono"],
    ["Updated (UTC)", r.updated_at, "mono"],
    ["Record ID", r.uuid, "mono"],
    ["Access key", r.access_key_name],
    ["Access key ID", r.access_key_id, "mono"],
  ]));
  const o = r.order;
  body.append(o ? section("Order", [
    ["Order ID", o.uuid, "mono"],
    ["State", o.state],
    ["Status", o.status === "" ? "(empty)" : o.status],
    ["Price charged", formatUSD(toMicros(o.price))],
    ["List price", formatUSD(toMicros(o.origin_price))],
    ["Key number (ak_id)", o.ak_id],
    ...(hasPriceVersion(o) ? [["Price version", o.price_version]] : []),
  ]) : note("Order", "No order: this record is not tied to a prediction."));
  const p = r.prediction;
  body.append(p ? section("Prediction", [
    ["Prediction ID", p.uuid, "mono"],
    ["Model", p.model_uuid, "mono"],
    ["Status", p.status],
  ]) : note("Prediction", "No prediction."));
  const amount = amountText(r);
  $("record-dialog-title").textContent = amount ? `${typeLabel(r)} · ${amount}` : typeLabel(r);
  $("record-filter-prediction").hidden = !p;
  $("record-receipt").hidden = r.billing_type !== "recharge";
  $("record-receipt-status").textContent = "";
  const dialog = $("record-dialog");
  if (!dialog.open) dialog.showModal();
  $("record-dialog-close").focus();
}

whenSignedOut(() => {
  const dialog = $("record-dialog");
  if (dialog.open) dialog.close();
  shownRecord = null;
});
