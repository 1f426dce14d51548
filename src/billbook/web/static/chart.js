// A stacked bar chart of daily spend, drawn as SVG by hand: no library, no build step.

import { formatUSD, formatUSDShort, formatCount } from "./money.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

/** A "nice" axis maximum and tick step covering `max` (a plain number). */
function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const rough = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const norm = rough / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  return { top: Math.ceil(max / step - 1e-9) * step, step };
}

const SHORT_DAY = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
const LONG_DAY = new Intl.DateTimeFormat("en-US", { weekday: "short", month: "short", day: "numeric", year: "numeric", timeZone: "UTC" });

export function dayLabel(date, long = false) {
  const d = new Date(date + "T00:00:00Z");
  return (long ? LONG_DAY : SHORT_DAY).format(d);
}

/**
 * Draw the chart.
 * @param {HTMLElement} container  where the <svg> goes (emptied first)
 * @param {HTMLElement} tooltip    an absolutely positioned element inside the same positioned parent
 * @param {{days: Array, series: Array, announce: Function}} data
 *   days:   [{date: "YYYY-MM-DD", micros: BigInt, count: number, parts: Map(seriesKey -> {micros, count})}]
 *   series: [{key, label, cls}] bottom to top
 */
export function renderChart(container, tooltip, { days, series, announce }) {
  container.textContent = "";
  tooltip.hidden = true;
  const width = Math.max(280, Math.floor(container.clientWidth || 640));
  const compact = width < 560;
  const height = compact ? 210 : 260;
  const m = { top: 14, right: 8, bottom: 26, left: compact ? 44 : 56 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;

  const maxMicros = days.reduce((acc, d) => (d.micros > acc ? d.micros : acc), 0n);
  const { top, step } = niceScale(Number(maxMicros) / 1e6);
  const y = (usd) => m.top + plotH - (usd / top) * plotH;

  const total = days.reduce((acc, d) => acc + d.micros, 0n);
  const svg = el("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width, height,
    class: "chart-svg",
    role: "group",
    tabindex: 0,
    "aria-roledescription": "bar chart",
    "aria-label": `Daily spend over the last ${days.length} days, ${formatUSD(total)} in total, stacked by model. `
      + "Use the left and right arrow keys to read each day.",
  }, container);

  // Grid and y-axis labels.
  const grid = el("g", { class: "chart-grid", "aria-hidden": "true" }, svg);
  for (let v = 0; v <= top + step / 2; v += step) {
    const yy = Math.round(y(v)) + 0.5;
    el("line", { x1: m.left, x2: width - m.right, y1: yy, y2: yy, class: v === 0 ? "axis" : "" }, grid);
    const label = el("text", { x: m.left - 8, y: yy, "text-anchor": "end", "dominant-baseline": "middle", class: "chart-label" }, grid);
    label.textContent = formatUSDShort(BigInt(Math.round(v * 1e6)));
  }

  const slot = plotW / days.length;
  const barW = Math.max(2, Math.min(28, slot * 0.68));
  const labelEvery = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(plotW / (compact ? 52 : 64)))));

  const bars = el("g", { class: "chart-bars", "aria-hidden": "true" }, svg);
  const highlight = el("rect", { class: "chart-highlight", x: 0, y: m.top, width: slot, height: plotH, visibility: "hidden" }, bars);
  days.forEach((d, i) => {
    const cx = m.left + slot * i + slot / 2;
    let acc = 0;
    const g = el("g", { "data-date": d.date }, bars);
    for (const s of series) {
      const part = d.parts.get(s.key);
      if (!part || part.micros <= 0n) continue;
      const usd = Number(part.micros) / 1e6;
      const y0 = y(acc);
      const y1 = y(acc + usd);
      acc += usd;
      el("rect", {
        x: (cx - barW / 2).toFixed(2), y: y1.toFixed(2), width: barW.toFixed(2),
        height: Math.max(0.5, y0 - y1).toFixed(2), class: `bar ${s.cls}`,
      }, g);
    }
    if (i % labelEvery === (days.length - 1) % labelEvery) {
      const t = el("text", { x: cx, y: height - 8, "text-anchor": "middle", class: "chart-label" }, svg);
      t.setAttribute("aria-hidden", "true");
      t.textContent = dayLabel(d.date);
    }
  });

  // Interaction: hover, touch and keyboard all select a day.
  let active = -1;
  const show = (i, fromKeyboard) => {
    if (i < 0 || i >= days.length) return;
    active = i;
    const d = days[i];
    highlight.setAttribute("x", (m.left + slot * i).toFixed(2));
    highlight.setAttribute("width", slot.toFixed(2));
    highlight.setAttribute("visibility", "visible");
    tooltip.textContent = "";
    const h = document.createElement("p");
    h.className = "tt-title";
    h.textContent = dayLabel(d.date, true);
    const sum = document.createElement("p");
    sum.className = "tt-total";
    sum.textContent = `${formatUSD(d.micros)} · ${formatCount(d.count)} ${d.count === 1 ? "request" : "requests"}`;
    tooltip.append(h, sum);
    const list = document.createElement("ul");
    for (const s of [...series].reverse()) {
      const part = d.parts.get(s.key);
      if (!part || (part.micros === 0n && !part.count)) continue;
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = `swatch ${s.cls}`;
      const name = document.createElement("span");
      name.className = "tt-model";
      name.textContent = s.label;
      const val = document.createElement("span");
      val.className = "tt-value";
      val.textContent = formatUSD(part.micros);
      li.append(sw, name, val);
      list.appendChild(li);
    }
    if (list.children.length) tooltip.appendChild(list);
    tooltip.hidden = false;
    // Beside the day's column (right of it when there is room, else left), never over it.
    const wrap = container.getBoundingClientRect();
    const scale = wrap.width / width || 1;
    const tw = tooltip.offsetWidth;
    const colLeft = (m.left + slot * i) * scale;
    const colRight = (m.left + slot * (i + 1)) * scale;
    let left = colRight + 8;
    if (left + tw > wrap.width) left = colLeft - 8 - tw;
    if (left < 0) left = Math.max(0, Math.min(wrap.width - tw, (colLeft + colRight - tw) / 2));
    tooltip.style.left = `${left + container.offsetLeft}px`;
    tooltip.style.top = `${container.offsetTop + m.top * scale}px`;
    if (fromKeyboard && announce) {
      const parts = [...series].reverse()
        .map((s) => [s, d.parts.get(s.key)])
        .filter(([, p]) => p && p.micros > 0n)
        .map(([s, p]) => `${s.label} ${formatUSD(p.micros)}`);
      announce(`${dayLabel(d.date, true)}: ${formatUSD(d.micros)}, ${formatCount(d.count)} requests. ${parts.join(", ")}`);
    }
  };
  const hide = () => {
    active = -1;
    tooltip.hidden = true;
    highlight.setAttribute("visibility", "hidden");
  };
  const indexAt = (clientX) => {
    const r = svg.getBoundingClientRect();
    const x = (clientX - r.left) * (width / r.width);
    const i = Math.floor((x - m.left) / slot);
    return i >= 0 && i < days.length ? i : -1;
  };
  svg.addEventListener("pointermove", (e) => {
    const i = indexAt(e.clientX);
    if (i === -1) hide(); else if (i !== active) show(i, false);
  });
  svg.addEventListener("pointerdown", (e) => {
    const i = indexAt(e.clientX);
    if (i !== -1) show(i, false);
  });
  svg.addEventListener("pointerleave", (e) => { if (e.pointerType === "mouse" && document.activeElement !== svg) hide(); });
  svg.addEventListener("focus", () => show(active === -1 ? days.length - 1 : active, true));
  svg.addEventListener("blur", hide);
  svg.addEventListener("keydown", (e) => {
    let i = active === -1 ? days.length - 1 : active;
    if (e.key === "ArrowLeft") i -= 1;
    else if (e.key === "ArrowRight") i += 1;
    else if (e.key === "Home") i = 0;
    else if (e.key === "End") i = days.length - 1;
    else if (e.key === "Escape") { hide(); return; }
    else return;
    e.preventDefault();
    show(Math.max(0, Math.min(days.length - 1, i)), true);
  });
  return svg;
}
