// The console's paged lists (accounts, audit log): the table, its status area and a pager with the
// dashboard's look, and the loading of a page. Every list the internal API gives is paged the same
// way (page, page_size, total, has_more, items); what differs is the view's filters and rows.

import { formatCount } from "./money.js";
import { make, announce, setState, errorText } from "./dom.js";
import { handleAuthError, whenSignedOut } from "./session.js";

/**
 * Build the pager into `nav`; `onPage(page)` loads a page. Returns `show(page, pageSize, total, count)`
 * to call after each load, and `busy()` to call while one runs.
 */
export function makePager(nav, { noun, onPage, onPageSize, pageSize = 20 }) {
  const id = nav.id;
  const size = make("select", { id: `${id}-size` },
    ...[10, 20, 50, 100].map((n) => make("option", { value: String(n), text: String(n), selected: n === pageSize })));
  size.addEventListener("change", () => onPageSize(Number(size.value)));
  const status = make("p", { class: "pager-status", id: `${id}-status`, "data-testid": `${id}-status`, tabindex: "-1" });
  const number = make("span", { class: "pager-page muted small" });
  const button = (label, word, aria) => make("button", { type: "button", class: "btn btn-ghost btn-small", "aria-label": aria },
    ...(word.startsWith(" ") ? [label, make("span", { class: "word", text: word })] : [make("span", { class: "word", text: word }), label]));
  const first = button("«", " First", "First page");
  const prev = button("‹", " Prev", "Previous page");
  const next = button("›", "Next ", "Next page");
  const last = button("»", "Last ", "Last page");
  nav.append(
    make("div", { class: "pager-size" }, make("label", { for: size.id, text: "Rows per page" }), size),
    status,
    make("div", { class: "pager-buttons" }, first, prev, number, next, last));

  let state = { page: 1, pageSize, total: 0 };
  const lastPage = () => Math.max(1, Math.ceil(state.total / state.pageSize));
  const go = (target) => () => {
    const active = document.activeElement;
    onPage(Math.max(1, target()));
    if (active && active.disabled) status.focus();
  };
  first.addEventListener("click", go(() => 1));
  prev.addEventListener("click", go(() => state.page - 1));
  next.addEventListener("click", go(() => state.page + 1));
  last.addEventListener("click", go(lastPage));

  const enable = (on) => {
    const has = on && state.total > 0;
    first.disabled = prev.disabled = !has || state.page <= 1;
    next.disabled = last.disabled = !has || state.page >= lastPage();
  };

  return {
    busy() { enable(false); },
    show(page, size, total, count) {
      state = { page, pageSize: size, total };
      if (!total) status.textContent = `0 ${noun}`;
      else if (!count) status.textContent = `Page ${formatCount(page)} is past the end · ${formatCount(total)} ${noun}`;
      else {
        const from = (page - 1) * size + 1;
        status.textContent = `${formatCount(from)}\u2013${formatCount(from + count - 1)} of ${formatCount(total)}`;
      }
      number.textContent = total ? `Page ${formatCount(page)} of ${formatCount(lastPage())}` : "";
      enable(true);
      return status.textContent;
    },
    lastPage,
  };
}

/**
 * A paged list built in place of `slot`, its ids named after `name` (`NAME-wrap`, `NAME-table`,
 * `NAME-body`, `NAME-state`, `NAME-pager`). `spec` gives the table (`caption`, `columns`: a name or
 * [name, class], `tableClass`), the words (`noun` for the pager, `what` for errors, `loading`,
 * `title` and `none` for announcements, `emptyText()` when nothing matches, `toLastPage` to offer
 * a button past the end), `fetch(paging, signal)` and `row(item)`; `onShown(total)` runs after
 * each page is shown. Returns `load()`, `showOnce()` (load unless loaded), `restart()` (first page,
 * loaded) and `forget()` (first page, loaded when next shown).
 */
export function pagedList(slot, name, spec) {
  const body = make("tbody", { id: `${name}-body` });
  const state = make("div", { id: `${name}-state`, class: "state", role: "status" });
  const wrap = make("div", { class: "records-wrap", id: `${name}-wrap` },
    make("div", { class: "table-scroll" },
      make("table", { class: `data-table cards-on-phone${spec.tableClass ? " " + spec.tableClass : ""}`, id: `${name}-table`,
        "aria-describedby": `${name}-status` },
      make("caption", { class: "visually-hidden", text: spec.caption }),
      make("thead", {}, make("tr", {}, ...spec.columns.map((c) => (Array.isArray(c)
        ? make("th", { scope: "col", class: c[1], text: c[0] }) : make("th", { scope: "col", text: c }))))),
      body)),
    state);
  const nav = make("nav", { class: "pager", "aria-label": spec.pagesLabel, id: `${name}-pager` });
  slot.replaceWith(wrap, nav);

  const paging = { page: 1, pageSize: 20 };
  let controller = null;
  let loaded = false;
  const pager = makePager(nav, {
    noun: spec.noun,
    onPage: (page) => { paging.page = page; load(); },
    onPageSize: (size) => { paging.pageSize = size; paging.page = 1; load(); },
  });

  function render(data) {
    const items = data.items || [];
    const total = typeof data.total === "number" ? data.total : items.length;
    body.textContent = "";
    for (const item of items) body.append(spec.row(item));
    if (!total) setState(state, "empty", spec.emptyText());
    else if (!items.length) {
      setState(state, "empty", "This page is past the last one.", spec.toLastPage
        ? { label: "Go to the last page", run: () => { paging.page = pager.lastPage(); load(); } } : undefined);
    } else setState(state, "", "");
    const status = pager.show(paging.page, paging.pageSize, total, items.length);
    if (spec.onShown) spec.onShown(total);
    announce(total ? `${spec.title} ${status}` : spec.none);
  }

  async function load() {
    if (controller) controller.abort();
    const mine = new AbortController();
    controller = mine;
    wrap.classList.add("loading");
    wrap.setAttribute("aria-busy", "true");
    setState(state, "loading", spec.loading);
    pager.busy();
    try {
      const data = await spec.fetch({ page: paging.page, page_size: paging.pageSize }, mine.signal);
      loaded = true;
      render(data);
    } catch (err) {
      if (err && err.name === "AbortError") return;
      if (handleAuthError(err)) return;
      body.textContent = "";
      setState(state, "error", errorText(err, spec.what), { label: "Try again", run: load });
    } finally {
      if (controller === mine) {
        controller = null;
        wrap.classList.remove("loading");
        wrap.removeAttribute("aria-busy");
      }
    }
  }

  whenSignedOut(() => {
    if (controller) controller.abort();
    loaded = false;
    body.textContent = "";
  });

  return {
    load,
    showOnce() { if (!loaded) load(); },
    restart() { paging.page = 1; load(); },
    forget() { paging.page = 1; loaded = false; },
  };
}
