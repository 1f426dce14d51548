// Small DOM helpers every view uses: element lookup and creation, status areas, announcements, times.

import { ApiError } from "./api.js";

export const $ = (id) => document.getElementById(id);

/** An element with properties, attributes, listeners ("onclick") and children in one call. */
export function make(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** Tell screen readers, through the page's polite live region. */
export function announce(text) {
  const node = $("announcer");
  node.textContent = "";
  requestAnimationFrame(() => { node.textContent = text; });
}

/** A loading / empty / error message in a status area, with an optional action button. */
export function setState(node, kind, message, action) {
  node.textContent = "";
  node.className = `state${kind ? " state-" + kind : ""}`;
  node.hidden = !message;
  if (!message) return;
  node.append(make("p", { text: message }));
  if (action) node.append(make("button", { type: "button", class: "btn btn-small", text: action.label, onclick: action.run }));
}

/** What to tell the person when loading `what` failed, in words they can act on. */
export function errorText(err, what) {
  if (err instanceof ApiError) {
    if (err.network) return `Could not load ${what}: the server could not be reached. Check your connection and try again.`;
    if (err.status === 429) return `Could not load ${what}: too many requests. Wait a few seconds and try again.`;
    return `Could not load ${what}: ${err.message}`;
  }
  return `Could not load ${what}: ${err && err.message ? err.message : "unexpected error"}`;
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

/** An ISO time from the API, in the browser's time zone. */
export function formatTime(iso) {
  if (!iso) return "—";
  const t = Date.parse(iso);
  return Number.isFinite(t) ? DATE_TIME.format(new Date(t)) : String(iso);
}

/** Hand a Blob to the browser as a download named `filename`. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = make("a", { href: url, download: filename, class: "visually-hidden" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
