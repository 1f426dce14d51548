// The Statements view: the last twelve UTC months, each with its opening and closing balance,
// money in and spent, and links to the statement's PDF and to the month's records as CSV.
// Figures come from GET /api/v3/statements/{YYYY-MM}; the PDF from the same path with ".pdf";
// the CSV is the month's records, fetched through the search and written as the records view's CSV.

import { formatUSD, formatCount } from "./money.js";
import { $, make, announce, setState, errorText, saveBlob } from "./dom.js";
import { session, handleAuthError, whenSignedOut } from "./session.js";
import { csvHeader, toCsvLine, recordToRow } from "./csv.js";
import { recentMonths, monthLabel, statementRow } from "./statements-data.js";

const PARALLEL = 4;
const CSV_PAGE_SIZE = 100;

let generation = 0;
let loaded = false;

export function showStatements() {
  if (!loaded) loadStatements();
}

export function refreshStatements() {
  if (loaded) loadStatements();
}

export async function loadStatements() {
  const mine = ++generation;
  loaded = true;
  const table = $("statements-table");
  table.setAttribute("aria-busy", "true");
  setState($("statements-state"), "loading", "Loading statements…");
  try {
    const months = recentMonths(Date.now());
    const rows = await fetchAll(months);
    if (mine !== generation) return;
    drawStatements(rows);
    setState($("statements-state"), "", "");
    announce(`Statements of ${rows.length} months loaded.`);
  } catch (err) {
    if (mine !== generation || handleAuthError(err)) return;
    table.tBodies[0].textContent = "";
    table.hidden = true;
    setState($("statements-state"), "error", errorText(err, "statements"), { label: "Try again", run: loadStatements });
  } finally {
    if (mine === generation) table.removeAttribute("aria-busy");
  }
}

async function fetchAll(months) {
  const rows = new Array(months.length);
  let next = 0;
  async function worker() {
    while (next < months.length) {
      const i = next++;
      rows[i] = statementRow(await session.api.statement(months[i]));
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, months.length) }, worker));
  return rows;
}

function drawStatements(rows) {
  const table = $("statements-table");
  const body = table.tBodies[0];
  body.textContent = "";
  table.hidden = !rows.length;
  for (const r of rows) body.append(statementTr(r));
}

function money(label, field, micros) {
  return make("td", { class: "num", "data-label": label, "data-field": field, text: formatUSD(micros) });
}

function statementTr(r) {
  const tr = make("tr", { "data-month": r.month });
  tr.append(
    make("th", { scope: "row" }, make("span", { text: monthLabel(r.month) }),
      r.open ? make("span", { class: "badge", title: "This month has not ended: its figures can still change.", text: "open" }) : null),
    money("Opening", "opening", r.opening),
    money("Recharges", "recharges", r.recharges + r.adjustments),
    money("Spent", "spent", r.netCharges),
    money("Closing", "closing", r.closing),
    make("td", { class: "num", "data-label": "Records", "data-field": "records", text: formatCount(r.records) }),
    make("td", { class: "actions", "data-label": "Download" },
      make("button", { type: "button", class: "btn btn-small", "data-action": "pdf", text: "PDF",
        "aria-label": `Statement for ${monthLabel(r.month)} as PDF`, onclick: (e) => downloadPdf(r, e.currentTarget) }),
      make("button", { type: "button", class: "btn btn-small", "data-action": "csv", text: "CSV",
        "aria-label": `Records of ${monthLabel(r.month)} as CSV`, onclick: (e) => downloadCsv(r, e.currentTarget) })),
  );
  return tr;
}

async function busy(button, what, run) {
  if (button.disabled) return;
  button.disabled = true;
  const status = $("statements-status");
  status.textContent = `Preparing ${what}…`;
  try {
    status.textContent = await run();
  } catch (err) {
    if (handleAuthError(err)) return;
    status.textContent = errorText(err, what).replace("Could not load", "Could not download");
  } finally {
    button.disabled = false;
  }
}

function downloadPdf(r, button) {
  return busy(button, `the statement for ${monthLabel(r.month)}`, async () => {
    const filename = `statement-${r.month}.pdf`;
    saveBlob(await session.api.statementPdf(r.month), filename);
    return `Downloaded ${filename}.`;
  });
}

function downloadCsv(r, button) {
  return busy(button, `the records of ${monthLabel(r.month)}`, async () => {
    const lines = [csvHeader()];
    const seen = new Set();
    for (let page = 1; ; page++) {
      const body = { page, page_size: CSV_PAGE_SIZE, sort: "created_at ASC", start_time: r.startTime, end_time: r.endTime };
      const data = await session.api.searchBillings(body);
      for (const item of data.items || []) {
        if (seen.has(item.uuid)) continue;
        seen.add(item.uuid);
        lines.push(toCsvLine(recordToRow(item)));
      }
      if (!(data.items || []).length || !data.has_more) break;
    }
    const filename = `billbook-billings-${r.month}.csv`;
    saveBlob(new Blob(lines, { type: "text/csv;charset=utf-8" }), filename);
    const n = lines.length - 1;
    return `Downloaded ${formatCount(n)} ${n === 1 ? "record" : "records"} as ${filename}.`;
  });
}

whenSignedOut(() => {
  generation++;
  loaded = false;
  $("statements-table").tBodies[0].textContent = "";
  $("statements-status").textContent = "";
  setState($("statements-state"), "", "");
});
