// billbook operator console: starts the views and switches between signing in and the console.
// Plain ES modules, no build step, one module per view:
//   signin.js (sign in, shared with the dashboard), console-overview.js (+ -data.js), console-accounts.js,
//   console-account.js with console-funds.js, console-keys.js and console-limits.js, console-audit.js.
// An account's spend, records and statements are the dashboard's own views (usage.js, records.js,
// statements.js and their helpers), given a client scoped to that account; the Webhooks view is the
// dashboard's webhooks.js on the console's client, whose webhook routes are the platform's. The
// address's hash picks the view: #overview, #accounts, #account/ID, #webhooks, #audit. Their markup is
// the dashboard's too, built by parts.js into the page's `data-part` slots.

import { $ } from "./dom.js";
import { buildParts } from "./parts.js";
import { session, signOut, whenSignedOut } from "./session.js";
import { operator, applyRole } from "./console-session.js";
import { AdminApi } from "./console-api.js";
import { showSignin, storedSecret, initSignin } from "./signin.js";
import { showOverview, loadOverview, redrawOverview } from "./console-overview.js";
import { initAccounts, showAccounts, loadAccounts } from "./console-accounts.js";
import { openAccount, refreshAccount, fillKeyFilter } from "./console-account.js";
import { initFunds } from "./console-funds.js";
import { initKeys } from "./console-keys.js";
import { initAudit, showAudit, loadAudit, auditOfAccount } from "./console-audit.js";
import { initRecords, filterByPrediction } from "./records.js";
import { timeZoneNote } from "./filters.js";
import { initRecordDialog, openRecord } from "./record-dialog.js";
import { initDownload } from "./download.js";
import { redrawUsage, hasUsage } from "./usage.js";
import { initWebhooks, showWebhooks, refreshWebhooks } from "./webhooks.js";

/** The console signs in with an admin token, checked by asking the server whose it is (name and role). */
const DOOR = { noun: "admin token", connect: (token) => new AdminApi(token), check: (api) => api.whoami() };

const VIEWS = ["overview", "accounts", "account", "webhooks", "audit"];
const TABS = ["overview", "accounts", "webhooks", "audit"];
/** The tab that is current on each view (an account's page belongs to Accounts). */
const TAB_OF = { overview: "overview", accounts: "accounts", account: "accounts", webhooks: "webhooks", audit: "audit" };

/** {view, id} the address names, or null for a hash that is no view (the skip link's #main). */
export function routeOf(hash) {
  const text = hash.replace(/^#/, "") || "overview";
  const m = /^account\/(\d{1,10})$/.exec(text);
  if (m) return { view: "account", id: Number(m[1]) };
  return VIEWS.includes(text) && text !== "account" ? { view: text, id: null } : null;
}

let shown = null;

function showView(route) {
  shown = route;
  for (const view of VIEWS) $(`${view}-view`).hidden = view !== route.view;
  for (const tab of TABS) {
    if (tab === TAB_OF[route.view]) $(`tab-${tab}`).setAttribute("aria-current", "page");
    else $(`tab-${tab}`).removeAttribute("aria-current");
  }
  if (route.view !== "account") document.title = "billbook · Operator console";
  if (route.view === "overview") showOverview();
  if (route.view === "accounts") showAccounts();
  if (route.view === "account") openAccount(route.id);
  if (route.view === "webhooks") showWebhooks();
  if (route.view === "audit") showAudit();
}

function followAddress() {
  if (!operator.api) return;
  const route = routeOf(location.hash);
  if (route) showView(route);
}

function refresh() {
  if (!shown) return;
  if (shown.view === "overview") loadOverview();
  if (shown.view === "accounts") loadAccounts();
  if (shown.view === "account") refreshAccount();
  if (shown.view === "webhooks") refreshWebhooks();
  if (shown.view === "audit") loadAudit();
}

function startConsole(api, who) {
  operator.api = api;
  session.api = api; // until an account's page scopes it; the webhooks view uses it as it is
  applyRole(who);
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  document.querySelector(".skip-link").hidden = false;
  $("tz-note").textContent = timeZoneNote();
  $("main").focus({ preventScroll: true });
  followAddress();
}

/** The charts follow their container's width: redraw when it changes. */
function redrawOnResize() {
  let lastWidth = 0;
  new ResizeObserver((entries) => {
    const w = Math.floor(entries[0].contentRect.width);
    if (!w || w === lastWidth) return;
    lastWidth = w;
    requestAnimationFrame(() => {
      redrawOverview();
      if (hasUsage() && shown && shown.view === "account") redrawUsage();
    });
  }).observe($("main"));
}

/** A token kept in this tab: ask the server again who it is (the role may have changed). */
async function resume(token) {
  const api = new AdminApi(token);
  try {
    startConsole(api, await api.whoami());
  } catch {
    signOut("Sign in again: the stored admin token was not accepted.");
  }
}

function init() {
  buildParts(); // first: the views look their elements up by id
  initSignin(DOOR, startConsole);
  initAccounts();
  initAudit();
  initFunds({ onMoved: refreshAccount });
  initKeys({ onChanged: fillKeyFilter });
  initRecords({ onOpen: openRecord });
  initRecordDialog({ onFilterPrediction: filterByPrediction });
  initDownload();
  initWebhooks();
  whenSignedOut((message) => { shown = null; showSignin(message); }); // last: the views have let go by then
  $("signout").addEventListener("click", () => signOut());
  $("refresh").addEventListener("click", refresh);
  $("account-audit").addEventListener("click", () => { if (shown && shown.view === "account") auditOfAccount(shown.id); });
  window.addEventListener("hashchange", followAddress);
  redrawOnResize();
  const token = storedSecret();
  if (token) resume(token);
  else showSignin();
}

init();
