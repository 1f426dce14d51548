// The prices view: what each model in the catalog costs this account now. The catalog
// (GET /api/v3/models) gives the models in catalog order; a quote per model without inputs
// (POST /api/v3/model/price) gives the list price, the account's discount and what it pays.
// A model priced by a formula costs what its inputs say: the view shows the quote for a request
// without inputs (the base price) and the formula itself.

import { toMicros, formatUSD, decimalText } from "./money.js";
import { $, make, announce, setState, errorText } from "./dom.js";
import { session, handleAuthError, whenSignedOut } from "./session.js";

/** Quotes asked for at once: enough to be quick, few enough to stay clear of rate limits. */
const PARALLEL_QUOTES = 4;
const BASE_NOTE = "For a request without inputs (the base price); the price depends on the inputs.";

/** Which load is current: a newer load (or signing out) makes an older one's answers stale. */
let generation = 0;
let loaded = false;

/** Load the prices unless they are already shown (the view was opened before). */
export function showPrices() {
  if (!loaded) loadPrices();
}

/** Load them again if they were loaded (the Refresh button). */
export function refreshPrices() {
  if (loaded) loadPrices();
}

export async function loadPrices() {
  const mine = ++generation;
  loaded = true;
  const wrap = $("prices-wrap");
  wrap.classList.add("loading");
  $("prices-table").setAttribute("aria-busy", "true");
  setState($("prices-state"), "loading", "Loading prices…");
  try {
    const models = await session.api.models();
    const quotes = await quoteAll(models);
    if (mine !== generation) return;
    const rows = priceRows(models, quotes);
    drawPrices(rows);
    const failed = rows.filter((r) => r.error).length;
    if (!rows.length) {
      setState($("prices-state"), "empty",
        "No models have a price yet. Prices show here once models are added to the catalog.");
    } else if (failed) {
      setState($("prices-state"), "error",
        `Could not load the price of ${failed === 1 ? "one model" : `${failed} models`}: ${rows.find((r) => r.error).error}`,
        { label: "Try again", run: loadPrices });
    } else {
      setState($("prices-state"), "", "");
    }
    announce(rows.length === 1 ? "Prices of 1 model loaded." : `Prices of ${rows.length} models loaded.`);
  } catch (err) {
    if (mine !== generation || handleAuthError(err)) return;
    $("prices-table").tBodies[0].textContent = "";
    $("prices-table").hidden = true;
    $("prices-count").textContent = "";
    setState($("prices-state"), "error", errorText(err, "prices"), { label: "Try again", run: loadPrices });
  } finally {
    if (mine === generation) {
      wrap.classList.remove("loading");
      $("prices-table").removeAttribute("aria-busy");
    }
  }
}

/** A quote per model (or the error that stopped it, in words), a few at a time, in catalog order. */
async function quoteAll(models) {
  const quotes = new Array(models.length);
  let next = 0;
  async function worker() {
    while (next < models.length) {
      const i = next++;
      try {
        quotes[i] = await session.api.price(models[i].model_id);
      } catch (err) {
        if (handleAuthError(err)) throw err;
        quotes[i] = { error: errorText(err, "this price").replace(/^Could not load this price: /, "") };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL_QUOTES, models.length) }, worker));
  return quotes;
}

/**
 * The table's rows: one per model, by sort_order (then model id), money in micro-dollars.
 * `discount` is the rate in percent as the server wrote it ("12.5"), or null without a discount.
 */
export function priceRows(models, quotes) {
  const rows = models.map((m, i) => {
    const q = quotes[i] || {};
    const row = {
      model: String(m.model_id),
      name: m.name && m.name !== m.model_id ? String(m.name) : "",
      type: m.type ? String(m.type) : "",
      description: m.description ? String(m.description) : "",
      formula: m.formula ? String(m.formula) : null,
      sortOrder: Number(m.sort_order) || 0,
      listMicros: null, payMicros: null, discount: null, error: q.error || null,
    };
    if (!row.error) {
      row.listMicros = toMicros(q.price);
      row.payMicros = toMicros(q.discounted_price);
      const rate = decimalText(q.discount_rate ?? 0);
      row.discount = toMicros(rate) === 0n ? null : rate;
    }
    return row;
  });
  return rows.sort((a, b) => a.sortOrder - b.sortOrder || (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
}

function drawPrices(rows) {
  const table = $("prices-table");
  const body = table.tBodies[0];
  body.textContent = "";
  table.hidden = !rows.length;
  $("prices-count").textContent = rows.length ? `${rows.length} ${rows.length === 1 ? "model" : "models"}` : "";
  for (const r of rows) body.append(priceRow(r));
}

function priceRow(r) {
  const tr = make("tr", { "data-model": r.model });
  tr.append(make("th", { scope: "row" }, modelCell(r)));
  if (r.error) {
    tr.append(make("td", { colspan: "3", class: "price-error", "data-field": "error", text: `Price unavailable: ${r.error}` }));
    return tr;
  }
  const base = r.formula ? make("span", { class: "price-note", title: BASE_NOTE, text: "base price" }) : null;
  tr.append(
    make("td", { class: "num", "data-label": "List price", "data-field": "list" },
      make("span", { class: r.discount ? "list-price struck" : "list-price", text: formatUSD(r.listMicros) }), base),
    make("td", { class: "num", "data-label": "Discount", "data-field": "discount" },
      r.discount ? make("span", { class: "discount", text: `${r.discount}% off` }) : make("span", { class: "muted", text: "None" })),
    make("td", { class: "num", "data-label": "You pay", "data-field": "pay" },
      make("span", { class: "you-pay", text: formatUSD(r.payMicros) }), base && base.cloneNode(true)),
  );
  return tr;
}

function modelCell(r) {
  const cell = make("div", { class: "price-model" },
    make("div", { class: "model-cell" },
      r.name ? make("span", { class: "price-name", text: r.name }) : null,
      make("span", { class: "model-name", text: r.model }),
      r.type ? make("span", { class: "model-type", text: r.type }) : null));
  if (r.description) {
    cell.append(make("p", { class: "muted small", text: r.description }));
  }
  if (r.formula) {
    cell.append(make("details", { class: "formula" },
      make("summary", { text: "Depends on inputs" }),
      make("p", { class: "muted small", text: "The price is computed from the request's inputs with this formula:" }),
      make("code", { class: "formula-text", text: r.formula }),
      make("p", { class: "muted small", text: "The prices shown are for a request without inputs." })));
  }
  return cell;
}

whenSignedOut(() => {
  generation++;
  loaded = false;
  $("prices-table").tBodies[0].textContent = "";
  $("prices-count").textContent = "";
  setState($("prices-state"), "", "");
});
