// The webhooks view: the account's endpoints (GET /api/v3/webhooks), adding one (its signing
// secret is shown once, right after), deleting one, and an endpoint's delivery log with each
// attempt and a resend button (GET …/deliveries, POST …/deliveries/{id}/resend).

import { $, make, announce, setState, errorText, formatTime } from "./dom.js";
import { session, handleAuthError, whenSignedOut } from "./session.js";

/** The event types a customer's endpoint can receive, in the API's order. */
export const EVENT_TYPES = [
  "balance.low", "balance.depleted", "limit.warning", "limit.reached",
  "recharge.created", "adjustment.created", "hold.expired",
];
const DEFAULT_EVENTS = new Set(["balance.low", "recharge.created", "hold.expired"]);
const PAGE_SIZE = 10;

let loaded = false;
let generation = 0;
/** The endpoint whose log is open, and the log's page. */
let open = null;
let page = 1;

export function initWebhooks() {
  const choices = $("webhook-event-choices");
  for (const type of EVENT_TYPES) {
    const id = `webhook-event-${type.replace(".", "-")}`;
    choices.append(make("label", { class: "event-choice", for: id },
      make("input", { type: "checkbox", id, value: type, checked: DEFAULT_EVENTS.has(type) }),
      make("span", { text: type })));
  }
  $("webhook-form").addEventListener("submit", (event) => { event.preventDefault(); addEndpoint(); });
  $("webhook-secret-done").addEventListener("click", hideSecret);
  $("webhook-secret-copy").addEventListener("click", copySecret);
  $("deliveries-prev").addEventListener("click", () => { if (page > 1) { page -= 1; loadDeliveries(); } });
  $("deliveries-next").addEventListener("click", () => { page += 1; loadDeliveries(); });
  whenSignedOut(reset);
}

export function showWebhooks() {
  if (!loaded) loadWebhooks();
}

export function refreshWebhooks() {
  if (loaded) { loadWebhooks(); if (open) loadDeliveries(); }
}

function reset() {
  generation += 1;
  loaded = false;
  open = null;
  hideSecret();
  $("webhooks-table").tBodies[0].textContent = "";
  $("deliveries-card").hidden = true;
}

export async function loadWebhooks() {
  const mine = ++generation;
  loaded = true;
  setState($("webhooks-state"), "loading", "Loading webhook endpoints…");
  try {
    const endpoints = await session.api.webhooks();
    if (mine !== generation) return;
    drawEndpoints(endpoints);
    setState($("webhooks-state"), endpoints.length ? "" : "empty", endpoints.length ? ""
      : "No webhook endpoints yet. Add one above to receive your account's events.");
  } catch (err) {
    if (mine !== generation || handleAuthError(err)) return;
    setState($("webhooks-state"), "error", errorText(err, "webhook endpoints"), { label: "Try again", run: loadWebhooks });
  }
}

function drawEndpoints(endpoints) {
  const table = $("webhooks-table");
  const body = table.tBodies[0];
  body.textContent = "";
  table.hidden = !endpoints.length;
  $("webhooks-count").textContent = endpoints.length ? `${endpoints.length} ${endpoints.length === 1 ? "endpoint" : "endpoints"}` : "";
  for (const e of endpoints) {
    const status = e.disabled_at
      ? make("span", { class: "badge badge-bad", text: `Disabled ${formatTime(e.disabled_at)}` })
      : make("span", { class: "badge badge-good", text: "Active" });
    body.append(make("tr", {},
      make("th", { scope: "row" }, make("span", { class: "mono break", text: e.url }),
        make("div", { class: "muted small mono", text: e.id })),
      make("td", { class: "small", text: e.events.join(", ") }),
      make("td", {}, status),
      make("td", { class: "actions" },
        make("button", { type: "button", class: "btn btn-small", text: "Deliveries", onclick: () => openLog(e) }),
        make("button", { type: "button", class: "btn btn-ghost btn-small", text: "Delete",
          "aria-label": `Delete endpoint ${e.url}`, "data-write": true, onclick: () => removeEndpoint(e) }))));
  }
}

async function addEndpoint() {
  const url = $("webhook-url").value.trim();
  const events = [...$("webhook-event-choices").querySelectorAll("input:checked")].map((i) => i.value);
  const error = $("webhook-form-error");
  error.hidden = true;
  if (!url) return showFormError("Enter the URL that should receive the events.");
  if (!events.length) return showFormError("Choose at least one event.");
  $("webhook-add").disabled = true;
  try {
    const made = await session.api.createWebhook(url, events);
    $("webhook-url").value = "";
    showSecret(made);
    announce("Endpoint added. Copy its signing secret now: it is shown once.");
    await loadWebhooks();
  } catch (err) {
    if (!handleAuthError(err)) showFormError(err.message || "Could not add the endpoint.");
  } finally {
    $("webhook-add").disabled = false;
  }
}

function showFormError(message) {
  const error = $("webhook-form-error");
  error.textContent = message;
  error.hidden = false;
}

function showSecret(made) {
  $("webhook-secret-url").textContent = made.url;
  $("webhook-secret-value").textContent = made.secret;
  $("webhook-secret").hidden = false;
}

function hideSecret() {
  $("webhook-secret-value").textContent = "";
  $("webhook-secret").hidden = true;
}

async function copySecret() {
  try {
    await navigator.clipboard.writeText($("webhook-secret-value").textContent);
    announce("Secret copied.");
  } catch {
    announce("Could not copy: select the secret and copy it by hand.");
  }
}

async function removeEndpoint(endpoint) {
  if (!window.confirm(`Delete the endpoint ${endpoint.url}? Nothing more will be sent to it.`)) return;
  try {
    await session.api.deleteWebhook(endpoint.id);
    if (open && open.id === endpoint.id) { open = null; $("deliveries-card").hidden = true; }
    announce("Endpoint deleted.");
    await loadWebhooks();
  } catch (err) {
    if (!handleAuthError(err)) setState($("webhooks-state"), "error", errorText(err, "the endpoint"));
  }
}

function openLog(endpoint) {
  open = endpoint;
  page = 1;
  $("deliveries-card").hidden = false;
  $("deliveries-endpoint").textContent = endpoint.url;
  loadDeliveries();
  $("deliveries-title").scrollIntoView({ block: "nearest" });
}

async function loadDeliveries() {
  if (!open) return;
  const mine = ++generation;
  setState($("deliveries-state"), "loading", "Loading deliveries…");
  try {
    const data = await session.api.deliveries(open.id, page, PAGE_SIZE);
    if (mine !== generation) return;
    drawDeliveries(data);
  } catch (err) {
    if (mine !== generation || handleAuthError(err)) return;
    setState($("deliveries-state"), "error", errorText(err, "deliveries"), { label: "Try again", run: loadDeliveries });
  }
}

/** One attempt in words: "200 in 35 ms", or its error. */
export function attemptText(a) {
  const took = a.latency_ms === null || a.latency_ms === undefined ? "" : ` in ${a.latency_ms} ms`;
  if (a.status_code && a.status_code < 300) return `${a.status_code}${took}`;
  return `${a.error || (a.status_code ? `HTTP ${a.status_code}` : "no answer yet")}${took}`;
}

function drawDeliveries(data) {
  const body = $("deliveries-table").tBodies[0];
  body.textContent = "";
  $("deliveries-count").textContent = `${data.total} ${data.total === 1 ? "delivery" : "deliveries"}`;
  $("deliveries-page").textContent = data.total ? `Page ${data.page}` : "";
  $("deliveries-prev").disabled = data.page <= 1;
  $("deliveries-next").disabled = !data.has_more;
  for (const d of data.items) {
    const attempts = make("ol", { class: "attempts small" });
    for (const a of d.attempts) {
      const good = a.status_code && a.status_code < 300;
      attempts.append(make("li", {}, make("span", { class: "muted", text: `${formatTime(a.at)} · ` }),
        make("span", { class: good ? "ok" : "bad", text: attemptText(a) }),
        a.response_body ? make("span", { class: "muted mono body-start", text: ` “${a.response_body.slice(0, 80)}”` }) : null));
    }
    if (!d.attempts.length) attempts.append(make("li", { class: "muted", text: "not sent yet" }));
    const next = d.state === "pending" && d.next_attempt_at ? `next try ${formatTime(d.next_attempt_at)}` : "";
    body.append(make("tr", {},
      make("th", { scope: "row" }, make("div", { text: d.type }),
        make("div", { class: "muted small mono", text: d.event_id }),
        make("div", { class: "muted small", text: formatTime(d.created_at) })),
      make("td", {}, make("span", { class: `badge ${d.state === "delivered" ? "badge-good" : d.state === "failed" ? "badge-bad" : ""}`, text: d.state }),
        make("div", { class: "muted small", text: next })),
      make("td", {}, attempts),
      make("td", { class: "actions" }, make("button", { type: "button", class: "btn btn-small", text: "Resend",
        "aria-label": `Resend ${d.event_id}`, "data-write": true, onclick: () => resend(d) }))));
  }
  setState($("deliveries-state"), data.items.length ? "" : "empty", data.items.length ? ""
    : "No deliveries yet: events that happen from now on show here.");
}

async function resend(delivery) {
  try {
    await session.api.resend(open.id, delivery.id);
    announce(`Delivery of ${delivery.event_id} will be sent again.`);
    await loadDeliveries();
  } catch (err) {
    if (!handleAuthError(err)) setState($("deliveries-state"), "error", errorText(err, "the resend"));
  }
}
