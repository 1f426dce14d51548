// "Download CSV": every record matching the current filters, fetched page by page into one file.

import { formatCount } from "./money.js";
import { $, errorText, saveBlob } from "./dom.js";
import { session, handleAuthError, whenSignedOut } from "./session.js";
import { csvHeader, toCsvLine, recordToRow } from "./csv.js";
import { searchBody, filterEndMs } from "./records.js";

const CSV_PAGE_SIZE = 100;
const CSV_CONFIRM_ABOVE = 50000;

let running = null;

export function initDownload() {
  $("download-csv").addEventListener("click", downloadCsv);
}

/** Start a download, or cancel the one running. */
async function downloadCsv() {
  if (running) { running.abort(); return; }
  const button = $("download-csv");
  const status = $("csv-status");
  const controller = new AbortController();
  running = controller;
  const label = button.lastChild.textContent;
  button.lastChild.textContent = " Cancel download";
  button.classList.add("busy");
  status.textContent = "Preparing the CSV…";
  try {
    const lines = await fetchCsv(controller.signal, status);
    if (!lines) return;
    const filename = saveFile(lines);
    const n = lines.length - 1;
    status.textContent = `Downloaded ${formatCount(n)} ${n === 1 ? "record" : "records"} as ${filename}.`;
  } catch (err) {
    if (err && err.name === "AbortError") { status.textContent = "Download cancelled."; return; }
    if (handleAuthError(err)) return;
    status.textContent = errorText(err, "the CSV").replace("Could not load", "Could not download");
  } finally {
    running = null;
    button.lastChild.textContent = label;
    button.classList.remove("busy");
  }
}

/** The CSV's lines (header first), or null when the person declined a very large export. */
async function fetchCsv(signal, status) {
  // Freeze the export at the newest matching record, so records arriving meanwhile neither shift
  // pages (a record repeated or skipped) nor half-appear.
  const head = await session.api.searchBillings(searchBody({ page: 1, page_size: 1, sort: "created_at DESC" }), { signal });
  const total = head.total || 0;
  if (total > CSV_CONFIRM_ABOVE && !window.confirm(
    `This export has ${formatCount(total)} records and needs ${formatCount(Math.ceil(total / CSV_PAGE_SIZE))} requests. `
    + "For exports this large the command line (billbook billings export) is faster. Continue?")) {
    status.textContent = "Download cancelled.";
    return null;
  }
  let snapshotEnd = filterEndMs();
  if (head.items && head.items.length) {
    const newest = Date.parse(head.items[0].created_at);
    if (Number.isFinite(newest) && (snapshotEnd === null || newest < snapshotEnd)) snapshotEnd = newest;
  }
  const lines = [csvHeader()];
  const seen = new Set();
  for (let page = 1; ; page++) {
    const data = await session.api.searchBillings(
      searchBody({ page, page_size: CSV_PAGE_SIZE, ...(snapshotEnd !== null ? { end_time: String(snapshotEnd) } : {}) }),
      { signal });
    const items = data.items || [];
    for (const r of items) {
      if (seen.has(r.uuid)) continue;
      seen.add(r.uuid);
      lines.push(toCsvLine(recordToRow(r)));
    }
    status.textContent = `Fetched ${formatCount(seen.size)} of ${formatCount(Math.max(total, data.total || 0))} records…`;
    const more = typeof data.has_more === "boolean" ? data.has_more : page * CSV_PAGE_SIZE < (data.total || 0);
    if (!items.length || !more) return lines;
  }
}

function saveFile(lines) {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const filename = `billbook-billings-${stamp}.csv`;
  saveBlob(new Blob(lines, { type: "text/csv;charset=utf-8" }), filename);
  return filename;
}

whenSignedOut(() => { if (running) running.abort(); });
