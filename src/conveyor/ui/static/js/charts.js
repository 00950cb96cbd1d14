// Small SVG charts: lines over time or steps, bars per run or version, grouped histogram bars.

import { h, s, num, when } from "./dom.js";

export const PALETTE = ["#1f5fa8", "#e07b39", "#2e9d5b", "#a23b72", "#7a6bd1", "#c9a227", "#3aa6b9",
  "#d04f4f", "#6b8e23", "#8c564b"];
const REF = "#8aa4c8";
const CUR = "#e07b39";

/** Round values between lo and hi, about `count` of them; whole numbers only if `integer`. */
export function ticks(lo, hi, count, integer = false) {
  if (!(hi > lo)) return [lo];
  const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / count)));
  const err = (hi - lo) / count / step;
  let nice = step * (err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1);
  if (integer) nice = Math.max(1, Math.round(nice));
  const out = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + nice * 1e-9; v += nice) out.push(Number(v.toPrecision(12)));
  return out;
}

function timeLabel(t, span) {
  const full = when(t);
  if (span > 2 * 86400) return full.slice(5, 10);
  return span > 3600 ? full.slice(11, 16) : full.slice(11, 19);
}

const CHAR_PX = 6; // about the width of a character of the axes' 10px labels

/** A label under the x axis at x, kept inside the chart: the end ones lean inwards. */
function xLabel(x, text, width) {
  const half = (text.length * CHAR_PX) / 2;
  let anchor = "middle";
  if (x + half > width - 1) [x, anchor] = [width - 1, "end"];
  else if (x - half < 1) [x, anchor] = [1, "start"];
  return { x, anchor };
}

function frame(title, svg, legend) {
  return h("div", { class: "chart" }, title ? h("h3", null, title) : null, svg, legend || null);
}

function legendOf(series) {
  if (series.length < 2) return null;
  return h("div", { class: "legend" }, series.map((x) => {
    const swatch = h("i");
    swatch.style.background = x.color;
    return h("span", null, swatch, x.name);
  }));
}

/**
 * Lines: series = [{name, color, points: [[x, y, flagged]]}]; xTime: x is UNIX seconds.
 * threshold draws a dashed line: a number, or [[x, value]] where it changed from point to point
 * (each report judged by its own), drawn as steps; flagged points are red.
 */
export function lineChart({ title, series, width = 520, height = 210, threshold = null, xTime = false,
  yZero = false, yLabel = "" }) {
  const pad = { l: 52, r: 14, t: 10, b: 30 };
  const all = series.flatMap((x) => x.points.filter((p) => p[1] !== null && p[1] !== undefined));
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  if (!all.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "axis" }, "no values"));
    return frame(title, svg);
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  const limits = Array.isArray(threshold)
    ? threshold.filter((p) => p[1] !== null && p[1] !== undefined).sort((a, b) => a[0] - b[0])
    : threshold === null || threshold === undefined ? [] : [[null, threshold]];
  const ys = all.map((p) => p[1]).concat(limits.map((p) => p[1]));
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (yZero) y0 = Math.min(0, y0);
  if (y1 === y0) { y1 += Math.abs(y1) * 0.1 || 1; y0 -= yZero ? 0 : Math.abs(y0) * 0.1 || 1; }
  const sx = (x) => pad.l + (width - pad.l - pad.r) * (x - x0) / (x1 - x0);
  const sy = (y) => height - pad.b - (height - pad.t - pad.b) * (y - y0) / (y1 - y0);
  const axis = s("g", { class: "axis" });
  for (const v of ticks(y0, y1, 4)) {
    axis.append(s("line", { class: "gridline", x1: pad.l, x2: width - pad.r, y1: sy(v), y2: sy(v) }));
    axis.append(s("text", { x: pad.l - 6, y: sy(v) + 3, "text-anchor": "end" }, num(v)));
  }
  // steps (whole numbers) get whole ticks: no "0.5" between step 0 and step 1
  const whole = !xTime && all.every((p) => Number.isInteger(p[0]));
  const xt = xTime ? ticks(x0, x1, 5) : ticks(x0, x1, 6, whole);
  let last = null;
  for (const v of xt) {
    const label = xTime ? timeLabel(v, x1 - x0) : num(v);
    if (label === last) continue; // ticks closer than the labels' resolution
    last = label;
    const at = xLabel(sx(v), label, width);
    axis.append(s("text", { class: "xtick", x: at.x, y: height - pad.b + 16, "text-anchor": at.anchor }, label));
  }
  axis.append(s("line", { x1: pad.l, x2: width - pad.r, y1: height - pad.b, y2: height - pad.b }));
  if (yLabel) axis.append(s("text", { x: 4, y: pad.t + 4 }, yLabel));
  svg.append(axis);
  if (limits.length) {
    const values = [...new Set(limits.map((p) => p[1]))];
    // each point's own level, stepping halfway to the next point when it changes
    let d = `M ${pad.l} ${sy(limits[0][1]).toFixed(1)}`;
    limits.slice(1).forEach(([x, v], i) => {
      if (v !== limits[i][1]) d += ` H ${sx((limits[i][0] + x) / 2).toFixed(1)} V ${sy(v).toFixed(1)}`;
    });
    d += ` H ${width - pad.r}`;
    const label = values.length > 1 ? `threshold per report: ${values.map(num).join(" → ")}` : `threshold ${num(values[0])}`;
    svg.append(s("path", { class: "threshold", d, dataset: { values: values.join(",") } }, s("title", null, label)));
  }
  for (const x of series) {
    const pts = x.points.filter((p) => p[1] !== null && p[1] !== undefined).sort((a, b) => a[0] - b[0]);
    if (pts.length > 1) {
      svg.append(s("polyline", { class: "series", stroke: x.color, points: pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ") }));
    }
    for (const p of pts) {
      const label = `${x.name ? x.name + ": " : ""}${num(p[1])} at ${xTime ? when(p[0]) : num(p[0])}${p[2] ? " (drifted)" : ""}`;
      svg.append(s("circle", { cx: sx(p[0]).toFixed(1), cy: sy(p[1]).toFixed(1), r: pts.length > 60 ? 2 : 3.2,
        fill: p[2] ? "#b3261e" : x.color }, s("title", null, label)));
    }
  }
  return frame(title, svg, legendOf(series));
}

/** One bar per label: bars = [{label, value, color}]. */
export function barChart({ title, bars, width = 420, height = 190 }) {
  const pad = { l: 52, r: 10, t: 16, b: 34 };
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const values = bars.map((b) => b.value).filter((v) => v !== null && v !== undefined);
  if (!values.length) return frame(title, svg);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values) || 1;
  const sy = (y) => height - pad.b - (height - pad.t - pad.b) * (y - lo) / (hi - lo || 1);
  const slot = (width - pad.l - pad.r) / bars.length;
  const axis = s("g", { class: "axis" });
  for (const v of ticks(lo, hi, 4)) {
    axis.append(s("line", { class: "gridline", x1: pad.l, x2: width - pad.r, y1: sy(v), y2: sy(v) }));
    axis.append(s("text", { x: pad.l - 6, y: sy(v) + 3, "text-anchor": "end" }, num(v)));
  }
  svg.append(axis);
  bars.forEach((b, i) => {
    if (b.value === null || b.value === undefined) return;
    const x = pad.l + i * slot + slot * 0.15;
    const top = Math.min(sy(b.value), sy(0));
    svg.append(s("rect", { x, y: top, width: slot * 0.7, height: Math.max(1, Math.abs(sy(b.value) - sy(0))),
      fill: b.color || PALETTE[i % PALETTE.length] }, s("title", null, `${b.label}: ${num(b.value)}`)));
    svg.append(s("text", { x: x + slot * 0.35, y: top - 3, "text-anchor": "middle", class: "axis" },
      s("tspan", { class: "axis" }, num(b.value))));
    svg.append(s("text", { x: x + slot * 0.35, y: height - pad.b + 14, "text-anchor": "middle", class: "axis" },
      String(b.label).slice(0, Math.max(4, Math.floor(slot / 7))), s("title", null, String(b.label))));
  });
  return frame(title, svg);
}

/** Reference and current share per bin or category, side by side. */
export function histogram({ title, labels, reference, current, width = 420, height = 180 }) {
  const pad = { l: 40, r: 8, t: 8, b: 34 };
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const n = Math.max(labels.length, 1);
  const top = Math.max(...reference, ...(current || []), 1e-9);
  const slot = (width - pad.l - pad.r) / n;
  const sy = (v) => (height - pad.t - pad.b) * v / top;
  const axis = s("g", { class: "axis" });
  for (const v of ticks(0, top, 3)) {
    const y = height - pad.b - sy(v);
    axis.append(s("line", { class: "gridline", x1: pad.l, x2: width - pad.r, y1: y, y2: y }));
    axis.append(s("text", { x: pad.l - 4, y: y + 3, "text-anchor": "end" }, `${Math.round(v * 100)}%`));
  }
  svg.append(axis);
  const groups = [[reference, REF, 0.08, "reference"]];
  if (current) groups.push([current, CUR, 0.5, "current"]);
  const w = current ? 0.42 : 0.84;
  labels.forEach((label, i) => {
    for (const [values, color, offset, name] of groups) {
      const v = values[i] || 0;
      svg.append(s("rect", { x: pad.l + i * slot + offset * slot, y: height - pad.b - sy(v), width: slot * w,
        height: sy(v), fill: color }, s("title", null, `${label} ${name}: ${(v * 100).toFixed(1)}%`)));
    }
  });
  const every = Math.max(1, Math.ceil(n / 6));
  labels.forEach((label, i) => {
    if (i % every) return;
    svg.append(s("text", { x: pad.l + (i + 0.5) * slot, y: height - pad.b + 14, "text-anchor": "middle", class: "axis" },
      String(label).slice(0, 12), s("title", null, String(label))));
  });
  const legend = [{ name: "reference", color: REF }];
  if (current) legend.push({ name: "current", color: CUR });
  return frame(title, svg, legendOf(legend.length > 1 ? legend : []));
}

/** A tiny histogram without axes (column statistics). */
export function spark(counts, width = 120, height = 26) {
  const svg = s("svg", { width, height, class: "spark", viewBox: `0 0 ${width} ${height}` });
  const top = Math.max(...counts, 1);
  const slot = width / Math.max(counts.length, 1);
  counts.forEach((c, i) => {
    const bh = Math.max(c ? 1 : 0, (height - 2) * c / top);
    svg.append(s("rect", { x: i * slot + 0.5, y: height - bh, width: Math.max(1, slot - 1), height: bh },
      s("title", null, String(c))));
  });
  return svg;
}
