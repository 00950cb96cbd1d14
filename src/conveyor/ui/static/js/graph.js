// A laid-out graph (positions computed by the server) drawn as SVG: boxes that are links, and
// curved edges with arrowheads, and zoom controls for it (fit to the width by default). Used for
// a run's DAG and for an artifact's lineage.

import { h, on, s } from "./dom.js";

let uid = 0;

function fit(text, width, px) {
  const max = Math.max(3, Math.floor(width / px));
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/**
 * graph: {nodes: [{id, x, y}], edges: [[from, to]] or [{source, target, label}], width, height,
 *         node_width, node_height}
 * look: {href(node), classes(node), label(node), sub(node), title(node), selected}
 */
export function drawGraph(graph, look) {
  const w = graph.node_width;
  const hgt = graph.node_height;
  const marker = `arrow-${++uid}`;
  const back = graph.edges.some((e) => !Array.isArray(e) && e.back);
  const bottom = Math.max(graph.height, 60);
  const [width, height] = [Math.max(graph.width, 200), bottom + (back ? 28 : 0)];
  const svg = s("svg", {
    width, height, viewBox: `0 0 ${width} ${height}`, role: "img", class: "graph",
    preserveAspectRatio: "xMinYMin meet", dataset: { width, height },
  });
  svg.append(s("defs", null, s("marker", { id: marker, viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
  s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#9aa6ba" }))));
  const at = new Map(graph.nodes.map((n) => [n.id, n]));
  const edgeLayer = s("g");
  for (const e of graph.edges) {
    const [from, to, label, points] = Array.isArray(e) ? [e[0], e[1], "", e[2] || []] : [e.source, e.target, e.label, e.points || []];
    const a = at.get(from);
    const b = at.get(to);
    if (!a || !b) continue;
    if (!Array.isArray(e) && e.back) {
      // an edge closing a cycle, left out of the layout: a dashed arc below the graph
      const [x1, x2] = [a.x + w / 2, b.x + w / 2];
      const low = bottom + 20;
      edgeLayer.append(s("path", { class: "edge back", d: `M ${x1} ${a.y + hgt} C ${x1} ${low}, ${x2} ${low}, ${x2} ${b.y + hgt + 2}`,
        "marker-end": `url(#${marker})`, "data-from": from, "data-to": to },
      s("title", null, `${label || "edge"}: closes a cycle (the same bytes written again)`)));
      continue;
    }
    // through the slots a long edge was given, so it never crosses a box
    let [x, y] = [a.x + w, a.y + hgt / 2];
    let d = `M ${x} ${y}`;
    const curve = (x2, y2) => {
      const mid = (x + x2) / 2;
      d += ` C ${mid} ${y}, ${mid} ${y2}, ${x2} ${y2}`;
      [x, y] = [x2, y2];
    };
    for (const [px, py] of points) {
      curve(px, py + hgt / 2);
      d += ` L ${px + w} ${py + hgt / 2}`;
      x = px + w;
    }
    const [lx, ly] = [x, y];
    curve(b.x - 2, b.y + hgt / 2);
    const through = !Array.isArray(e) && e.passed_through;
    // an artifact a step wrote back unchanged: one edge, arrowheads both ways
    const path = s("path", { class: ["edge", through ? "passthrough" : ""], d, "marker-end": `url(#${marker})`,
      "marker-start": through ? `url(#${marker})` : null, "data-from": from, "data-to": to });
    if (through) path.append(s("title", null, `read as ${label} and written back unchanged as ${e.passed_through}: passed through`));
    edgeLayer.append(path);
    if (label) {
      edgeLayer.append(s("text", { class: ["edge-label", through ? "passthrough" : ""], x: (lx + x) / 2, y: (ly + y) / 2 - 3, "text-anchor": "middle" },
        fit(through ? `${label} ⇄` : label, 60, 5.5)));
    }
  }
  svg.append(edgeLayer);
  for (const n of graph.nodes) {
    const classes = ["node", ...(look.classes ? look.classes(n) : [])];
    if (look.selected && look.selected === n.id) classes.push("selected");
    const label = look.label(n);
    const sub = look.sub ? look.sub(n) : "";
    const g = s("g", { class: classes, transform: `translate(${n.x},${n.y})`, "data-node": n.id },
      s("title", null, look.title ? look.title(n) : label),
      s("rect", { class: "box", width: w, height: hgt, rx: 6 }),
      s("rect", { class: "stripe", width: 5, height: hgt - 2, x: 1, y: 1, rx: 2 }),
      s("text", { class: "name", x: 13, y: sub ? 19 : hgt / 2 + 4 }, fit(label, w - 20, 7.8)),
      sub ? s("text", { class: "sub", x: 13, y: 36 }, fit(sub, w - 20, 6.6)) : null);
    const href = look.href ? look.href(n) : null;
    svg.append(href ? s("a", { href, "aria-label": label }, g) : g);
  }
  return svg;
}

/** The smallest scale "fit" shrinks a graph to: names stay legible; wider graphs scroll. */
export const MIN_FIT = 0.5;
const STEPS = [0.25, 0.35, 0.5, 0.6, 0.75, 0.9, 1, 1.25, 1.5, 2];

/**
 * Zoom for the graph drawn in `scroller` (a scrolling box): by default "fit" — as wide as the
 * box, never larger than life nor smaller than MIN_FIT (then it scrolls) — or a scale the user
 * picked. `view` ({mode: "fit" | scale}) outlives redraws of the graph (a live run's).
 * Returns {tools, apply}: the buttons, and apply() to size the graph now in `scroller`.
 */
export function zoomControls(scroller, view) {
  const level = h("span", { class: "muted small zoom-level" });
  const natural = (svg) => [Number(svg.dataset.width), Number(svg.dataset.height)];
  const current = () => {
    const svg = scroller.querySelector("svg.graph");
    if (!svg) return null;
    const [w] = natural(svg);
    const room = scroller.clientWidth - 2;
    const fit = room > 0 ? Math.max(MIN_FIT, Math.min(1, room / w)) : 1;
    return { svg, scale: view.mode === "fit" ? fit : view.mode, fit };
  };
  const apply = () => {
    const now = current();
    if (!now) return;
    const [w, hgt] = natural(now.svg);
    now.svg.setAttribute("width", String(Math.round(w * now.scale)));
    now.svg.setAttribute("height", String(Math.round(hgt * now.scale)));
    now.svg.dataset.scale = now.scale.toFixed(3);
    level.textContent = `${Math.round(now.scale * 100)}%${view.mode === "fit" ? " (fit)" : ""}`;
  };
  const set = (mode) => () => { view.mode = mode; apply(); };
  const by = (direction) => () => {
    const now = current();
    if (!now) return;
    const next = direction > 0 ? STEPS.find((x) => x > now.scale + 1e-3) : [...STEPS].reverse().find((x) => x < now.scale - 1e-3);
    if (next) set(next)();
  };
  const button = (label, title, action, cls) => on(h("button", { type: "button", class: ["small", cls], title, "aria-label": title }, label), "click", action);
  const tools = h("div", { class: "graph-tools" },
    button("Fit", "fit the graph to the width", set("fit"), "zoom-fit"),
    button("−", "zoom out", by(-1), "zoom-out"),
    button("+", "zoom in", by(1), "zoom-in"),
    button("100%", "actual size", set(1), "zoom-actual"),
    level);
  if (window.ResizeObserver) new ResizeObserver(() => { if (view.mode === "fit") apply(); }).observe(scroller);
  return { tools, apply };
}
