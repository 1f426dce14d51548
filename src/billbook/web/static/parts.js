// The markup the dashboard and the console share, written once: each page marks where a part goes
// with an empty `<div data-part="NAME">` and `buildParts()` puts the part there before any view
// starts. Parts are built with DOM calls (no HTML strings), so the pages' CSP needs nothing more.
//
// A slot's data attributes choose a part's variant (`data-key-filter` on `records`, `data-write` on
// `webhooks`); a slot's children are the page's own words, moved into the part (the intro of the
// `statements` and `webhooks` cards).

import { make } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

/** An icon (a 20×20 path drawn with the text's colour). */
function icon(d, extra = "") {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 20 20");
  svg.setAttribute("class", `icon${extra}`);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

/** `<th scope="col">` cells: a name, or [name, class]. */
function heads(...columns) {
  return columns.map((c) => (Array.isArray(c)
    ? make("th", { scope: "col", class: c[1], text: c[0] })
    : make("th", { scope: "col", text: c })));
}

const hiddenHead = (text) => make("th", { scope: "col" }, make("span", { class: "visually-hidden", text }));

/** A card's head: the title and the page's intro (or a status line), and what sits on the right. */
function cardHead(title, lines, ...right) {
  return make("div", { class: "card-head" }, make("div", {}, make("h2", { id: title.id, text: title.text }), ...lines), ...right);
}

function field(id, label, control, className = "field") {
  return make("div", { class: className }, make("label", { for: id, class: "field-label", text: label }), control);
}

function options(pairs) {
  return pairs.map(([value, text]) => make("option", { value, text }));
}

/** The sign-in form: `data-noun` names the secret ("API key"), `data-name` the input's name. */
function signinForm(slot) {
  const noun = slot.dataset.noun;
  return make("form", { id: "signin-form", method: "post", action: "#", novalidate: "", autocomplete: "off" },
    make("label", { for: "api-key", class: "field-label", text: noun[0].toUpperCase() + noun.slice(1) }),
    make("div", { class: "input-with-button" },
      make("input", { id: "api-key", name: slot.dataset.name, type: "password", required: "", spellcheck: "false",
        autocapitalize: "off", autocomplete: "off", "aria-describedby": "signin-error", placeholder: `Paste your ${noun}` }),
      make("button", { type: "button", id: "toggle-key", class: "btn btn-ghost btn-small", "aria-pressed": "false",
        "aria-controls": "api-key", text: "Show" })),
    make("p", { id: "signin-error", class: "form-error", role: "alert", "aria-live": "assertive" }),
    make("button", { type: "submit", class: "btn btn-primary btn-block", id: "signin-submit", text: "Sign in" }));
}

function stat(label, id, note) {
  return make("div", { class: "stat" }, make("dt", { text: label }), make("dd", { id, "data-testid": id, text: "…" }),
    note ? make("dd", { class: "stat-note muted small", id: note }) : null);
}

/** Spend over the last 30 days: totals, the chart (and its figures as a table), and the models. */
function usage() {
  return make("section", { class: "card", "aria-labelledby": "usage-title" },
    cardHead({ id: "usage-title", text: "Spend, last 30 days" }, [make("p", { class: "muted small", id: "usage-range" })]),
    make("dl", { class: "stats", id: "stats" },
      stat("Spend", "stat-cost"), stat("Requests", "stat-requests", "stat-refunded"),
      stat("Completed", "stat-success"), stat("Models used", "stat-models")),
    make("div", { class: "chart-wrap" },
      make("div", { id: "usage-state", class: "state", role: "status" }),
      make("div", { id: "chart", class: "chart" }),
      make("div", { id: "chart-tooltip", class: "chart-tooltip", hidden: "" }),
      make("ul", { id: "chart-legend", class: "legend", "aria-label": "Models in the chart" }),
      make("details", { class: "chart-table-details" },
        make("summary", { text: "Daily figures as a table" }),
        make("div", { class: "table-scroll" },
          make("table", { class: "data-table compact", id: "daily-table" },
            make("caption", { class: "visually-hidden", text: "Daily spend, last 30 days (UTC days)" }),
            make("thead", {}, make("tr", {}, ...heads("Day (UTC)", ["Requests", "num"], ["Spend", "num"]))),
            make("tbody"))))),
    make("h3", { class: "subhead", id: "models-title", text: "By model" }),
    make("div", { class: "table-scroll" },
      make("table", { class: "data-table", id: "models-table", "aria-labelledby": "models-title" },
        make("thead", {}, make("tr", {}, ...heads("Model", ["Requests", "num"], ["Spend", "num"], ["Unit price", "num"], "Last used"))),
        make("tbody"))));
}

/** The records filters; `keyFilter` adds the key picker the console fills with the account's keys. */
function filters(keyFilter) {
  const text = (id, name, placeholder, extra = {}) => make("input", { id, name, type: "text", spellcheck: "false",
    autocomplete: "off", placeholder, ...extra });
  const when = (id, name) => make("input", { id, name, type: "datetime-local", step: "1", "aria-describedby": "tz-note" });
  return make("form", { id: "filters", class: "filters collapsed", method: "post", action: "#", novalidate: "",
    "aria-label": "Filter billing records" },
    field("f-type", "Type", make("select", { id: "f-type", name: "billing_type" }, ...options([
      ["", "All types"], ["deduct", "Deduct (charge)"], ["refund", "Refund"], ["recharge", "Recharge (top-up)"],
      ["adjust", "Adjustment"]]))),
    field("f-start", "From", when("f-start", "start")),
    field("f-end", "To", when("f-end", "end")),
    make("div", { class: "field" },
      make("label", { for: "f-model", class: "field-label", text: "Model" }),
      text("f-model", "model", "Any model", { list: "model-options" }),
      make("datalist", { id: "model-options" })),
    keyFilter ? field("f-key", "Key", make("select", { id: "f-key", name: "key" }, ...options([["", "Any key"]]))) : null,
    make("div", { class: keyFilter ? "field field-wide-2" : "field field-wide" },
      make("label", { for: "f-prediction", class: "field-label", text: "Prediction ID" }),
      text("f-prediction", "prediction", "One or more IDs, separated by spaces or commas",
        { "aria-describedby": "f-prediction-hint" }),
      make("span", { id: "f-prediction-hint", class: "visually-hidden",
        text: "Up to 100 prediction IDs, separated by spaces or commas." })),
    make("div", { class: "filter-actions" },
      make("button", { type: "submit", class: "btn btn-primary", id: "apply-filters", text: "Apply filters" }),
      make("button", { type: "button", class: "btn btn-ghost", id: "clear-filters", text: "Clear" })),
    make("p", { id: "filter-error", class: "form-error field-full", role: "alert" }));
}

function pageButton(id, aria, mark, word, wordFirst) {
  const label = make("span", { class: "word", text: word });
  return make("button", { type: "button", class: "btn btn-ghost btn-small", id, "aria-label": aria },
    ...(wordFirst ? [label, mark] : [mark, label]));
}

/** Billing records: the CSV download, the filters, the table and its pager. */
function records(slot) {
  const timeHead = make("th", { scope: "col", id: "th-time", "aria-sort": "descending" },
    make("button", { type: "button", class: "sort-toggle", id: "sort-toggle" },
      "Time ", make("span", { class: "sort-label", id: "sort-label", text: "newest first" }),
      icon("M10 4v12m0 0-4-4m4 4 4-4", " sort-icon")));
  const size = make("select", { id: "page-size" }, ...[10, 20, 50, 100].map((n) => make("option", { value: String(n),
    text: String(n), selected: n === 20 ? "" : null })));
  return make("section", { class: "card", "aria-labelledby": "records-title" },
    cardHead({ id: "records-title", text: "Billing records" }, [make("p", { class: "muted small", id: "tz-note" })],
      make("button", { type: "button", class: "btn", id: "download-csv", "aria-describedby": "csv-status" },
        icon("M10 3v10m0 0-4-4m4 4 4-4M4 16h12"), "Download CSV")),
    make("button", { type: "button", class: "btn filters-toggle", id: "filters-toggle", "aria-expanded": "false",
      "aria-controls": "filters" },
    icon("M3 5h14M6 10h8M8.5 15h3"), make("span", { id: "filters-toggle-label", text: "Filters" })),
    filters("keyFilter" in slot.dataset),
    make("div", { class: "records-wrap", id: "records-wrap" },
      make("div", { class: "table-scroll" },
        make("table", { class: "data-table records", id: "records-table", "aria-describedby": "page-status" },
          make("caption", { class: "visually-hidden", text: "Billing records" }),
          make("thead", {}, make("tr", {}, timeHead, ...heads("Type", "Model", "Key", "Status", ["Amount", "num"],
            ["Balance after", "num"]), hiddenHead("Details"))),
          make("tbody", { id: "records-body" }))),
      make("div", { id: "records-state", class: "state", role: "status" })),
    make("nav", { class: "pager", "aria-label": "Billing records pages" },
      make("div", { class: "pager-size" }, make("label", { for: "page-size", text: "Rows per page" }), size),
      make("p", { class: "pager-status", id: "page-status", "data-testid": "page-status", tabindex: "-1" }),
      make("div", { class: "pager-buttons" },
        pageButton("page-first", "First page", "«", " First", false),
        pageButton("page-prev", "Previous page", "‹", " Prev", false),
        make("span", { class: "pager-page muted small", id: "page-number" }),
        pageButton("page-next", "Next page", "›", "Next ", true),
        pageButton("page-last", "Last page", "»", "Last ", true))),
    make("p", { id: "csv-status", class: "muted small csv-status", role: "status", "aria-live": "polite" }));
}

/** Monthly statements: the slot's children are the page's intro. */
function statements(slot) {
  return make("section", { class: "card", "aria-labelledby": "statements-title" },
    cardHead({ id: "statements-title", text: "Statements" }, [...slot.childNodes],
      make("p", { class: "muted small", id: "statements-status", role: "status", "aria-live": "polite" })),
    make("div", { class: "table-scroll" },
      make("table", { class: "data-table statements", id: "statements-table", "aria-labelledby": "statements-title",
        hidden: "" },
      make("thead", {}, make("tr", {}, ...heads("Month", ["Opening", "num"], ["Recharges & adjustments", "num"],
        ["Spent", "num"], ["Closing", "num"], ["Records", "num"]), hiddenHead("Download"))),
      make("tbody"))),
    make("div", { id: "statements-state", class: "state", role: "status" }));
}

/** The webhook endpoints and one endpoint's delivery log; `data-write` hides the form from read tokens. */
function webhooks(slot) {
  const gated = "write" in slot.dataset;
  const form = make("form", { id: "webhook-form", class: "webhook-form", novalidate: "", "data-write": gated ? "" : null,
    "aria-label": gated ? "Add an endpoint" : null },
    make("div", { class: "field webhook-url" },
      make("label", { for: "webhook-url", text: "Endpoint URL" }),
      make("input", { id: "webhook-url", name: "url", type: "url", inputmode: "url",
        placeholder: "https://example.com/hooks/billbook", autocomplete: "off", required: "" })),
    make("fieldset", { class: "field webhook-events" },
      make("legend", { text: "Events" }), make("div", { id: "webhook-event-choices", class: "event-choices" })),
    make("div", { class: "webhook-submit" },
      make("button", { type: "submit", class: "btn btn-primary", id: "webhook-add", text: "Add endpoint" })),
    make("p", { id: "webhook-form-error", class: "form-error", role: "alert", hidden: "" }));
  const secret = make("div", { id: "webhook-secret", class: "secret-once", role: "status", hidden: "" },
    make("p", {}, make("strong", {}, "Signing secret for ", make("span", { id: "webhook-secret-url" })),
      " — shown this once; copy it to your receiver now."),
    make("code", { id: "webhook-secret-value", class: "secret-value", "data-testid": "webhook-secret" }),
    make("button", { type: "button", class: "btn btn-small", id: "webhook-secret-copy", text: "Copy" }),
    make("button", { type: "button", class: "btn btn-ghost btn-small", id: "webhook-secret-done", text: "Done" }));
  const endpoints = make("section", { class: "card", "aria-labelledby": "webhooks-title" },
    cardHead({ id: "webhooks-title", text: "Webhooks" }, [...slot.childNodes],
      make("span", { class: "muted small", id: "webhooks-count", "data-testid": "webhooks-count" })),
    form, secret,
    make("div", { class: "table-scroll" },
      make("table", { class: "data-table webhooks", id: "webhooks-table", "aria-labelledby": "webhooks-title", hidden: "" },
        make("thead", {}, make("tr", {}, ...heads("Endpoint", "Events", "Status"), hiddenHead("Actions"))),
        make("tbody"))),
    make("div", { id: "webhooks-state", class: "state", role: "status" }));
  const deliveries = make("section", { class: "card", "aria-labelledby": "deliveries-title", id: "deliveries-card", hidden: "" },
    cardHead({ id: "deliveries-title", text: "Delivery log" }, [make("p", { class: "muted small", id: "deliveries-endpoint" })],
      make("span", { class: "muted small", id: "deliveries-count" })),
    make("div", { class: "table-scroll" },
      make("table", { class: "data-table deliveries", id: "deliveries-table", "aria-labelledby": "deliveries-title" },
        make("thead", {}, make("tr", {}, ...heads("Event", "State", "Attempts"), hiddenHead("Actions"))),
        make("tbody"))),
    make("div", { id: "deliveries-state", class: "state", role: "status" }),
    make("nav", { class: "pager", "aria-label": "Delivery log pages" },
      make("button", { type: "button", class: "btn btn-small", id: "deliveries-prev", text: "Newer" }),
      make("span", { class: "muted small", id: "deliveries-page" }),
      make("button", { type: "button", class: "btn btn-small", id: "deliveries-next", text: "Older" })));
  const both = document.createDocumentFragment();
  both.append(endpoints, deliveries);
  return both;
}

/** A billing record's details, with the buttons the record allows. */
function recordDialog() {
  return make("dialog", { id: "record-dialog", "aria-labelledby": "record-dialog-title" },
    make("div", { class: "dialog-head" },
      make("h2", { id: "record-dialog-title", text: "Billing record" }),
      make("button", { type: "button", class: "btn btn-ghost btn-small", id: "record-dialog-close",
        "aria-label": "Close details", text: "Close" })),
    make("div", { id: "record-dialog-body", class: "dialog-body" }),
    make("div", { class: "dialog-foot" },
      make("button", { type: "button", class: "btn", id: "record-filter-prediction", hidden: "",
        text: "Show all records of this prediction" }),
      make("button", { type: "button", class: "btn", id: "record-receipt", hidden: "", text: "Receipt (PDF)" }),
      make("p", { class: "muted small", id: "record-receipt-status", role: "status" })));
}

const PARTS = { "signin-form": signinForm, usage, records, statements, webhooks, "record-dialog": recordDialog };

/** Put every part in its slot; the page's views find their elements by id afterwards. */
export function buildParts() {
  for (const slot of document.querySelectorAll("[data-part]")) slot.replaceWith(PARTS[slot.dataset.part](slot));
}
