// A pager for the console's lists (accounts, audit log): the dashboard's look, built into an empty
// <nav class="pager">. Every list the internal API gives is paged the same way (page, page_size,
// total, has_more, items).

import { formatCount } from "./money.js";
import { make } from "./dom.js";

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
