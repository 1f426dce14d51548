// billbook billing dashboard: starts the views and switches between signing in and the dashboard.
// Plain ES modules, no build step; each view lives in its own module:
//   signin.js (sign in), balance.js (top bar), usage.js + usage-data.js (spend, last 30 days),
//   records.js + filters.js (records table), record-dialog.js (details), download.js (CSV),
//   prices.js (the Prices view), keys.js (the Keys view: spend against limits, limits and alert
//   editors), webhooks.js (the Webhooks view), statements.js + statements-data.js (the Statements
//   view). The address's hash picks the view: #prices, #keys, #webhooks, #statements or #overview.
// The markup the console shares (sign-in form, spend, records, webhooks, statements, record details)
// is built by parts.js into the page's `data-part` slots.

import { Api } from "./api.js";
import { $ } from "./dom.js";
import { buildParts } from "./parts.js";
import { session, signOut, whenSignedOut } from "./session.js";
import { showSignin, storedSecret, initSignin } from "./signin.js";
import { loadBalance, renderBalance } from "./balance.js";
import { loadUsage, redrawUsage, hasUsage } from "./usage.js";
import { initRecords, resetRecords, loadRecords, filterByPrediction } from "./records.js";
import { timeZoneNote } from "./filters.js";
import { initRecordDialog, openRecord } from "./record-dialog.js";
import { initDownload } from "./download.js";
import { showPrices, refreshPrices } from "./prices.js";
import { initKeys, showKeys, refreshKeys } from "./keys.js";
import { initWebhooks, showWebhooks, refreshWebhooks } from "./webhooks.js";
import { showStatements, refreshStatements } from "./statements.js";

/** The dashboard signs in with an API key, checked by reading the balance it then shows. */
const DOOR = { noun: "API key", connect: (key) => new Api(key), check: (api) => api.balance() };

const VIEWS = ["overview", "prices", "keys", "webhooks", "statements"];

/** The view the address names, or null for a hash that is no view (the skip link's #main). */
function viewOf(hash) {
  const name = hash.replace(/^#/, "") || "overview";
  return VIEWS.includes(name) ? name : null;
}

/** Show one view, mark its tab as the current page, and load what it needs. */
function showView(name) {
  for (const view of VIEWS) {
    $(`${view}-view`).hidden = view !== name;
    const tab = $(`tab-${view}`);
    if (view === name) tab.setAttribute("aria-current", "page"); else tab.removeAttribute("aria-current");
  }
  if (name === "prices" && session.api) showPrices();
  if (name === "keys" && session.api) showKeys();
  if (name === "webhooks" && session.api) showWebhooks();
  if (name === "statements" && session.api) showStatements();
  if (name === "overview" && hasUsage()) requestAnimationFrame(redrawUsage); // drawn while hidden: no width
}

function followAddress() {
  const name = viewOf(location.hash);
  if (name) showView(name);
}

function startApp(api, balanceData) {
  session.api = api;
  resetRecords();
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  document.querySelector(".skip-link").hidden = false;
  const key = api.apiKey;
  $("key-hint").textContent = key.length > 8 ? `Key …${key.slice(-4)}` : "";
  $("tz-note").textContent = timeZoneNote();
  $("main").focus({ preventScroll: true });
  if (balanceData) renderBalance(balanceData); else loadBalance();
  loadUsage();
  loadRecords();
  followAddress();
}

/** The chart follows its container's width: redraw when that changes. */
function redrawOnResize() {
  let lastWidth = 0;
  new ResizeObserver((entries) => {
    const w = Math.floor(entries[0].contentRect.width);
    if (w && w !== lastWidth) {
      lastWidth = w;
      if (hasUsage() && !$("app-view").hidden) requestAnimationFrame(redrawUsage);
    }
  }).observe($("chart"));
}

function init() {
  buildParts(); // first: the views look their elements up by id
  initSignin(DOOR, startApp);
  initRecords({ onOpen: openRecord });
  initRecordDialog({ onFilterPrediction: filterByPrediction });
  initDownload();
  initKeys();
  initWebhooks();
  whenSignedOut(showSignin); // last: the views have let go of everything by then
  $("signout").addEventListener("click", () => signOut());
  $("refresh").addEventListener("click", () => {
    loadBalance(); loadUsage(); loadRecords(); refreshPrices(); refreshKeys(); refreshWebhooks(); refreshStatements();
  });
  window.addEventListener("hashchange", followAddress);
  redrawOnResize();
  const key = storedSecret();
  if (key) startApp(new Api(key), null);
  else showSignin();
}

init();
