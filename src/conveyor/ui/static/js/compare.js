// Compare runs: pick runs (the runs list, filtered and paged, at /compare), then see their
// parameters side by side (those that differ first, highlighted) and their metrics as charts.

import { get } from "./api.js";
import { barChart, lineChart, PALETTE } from "./charts.js";
import { add, h, link, num, on, section, shortId, status, text, when } from "./dom.js";
import { runList } from "./runs.js";
import { MAX, setPicked } from "./selection.js";

function picker(ctx, query) {
  return runList(ctx, query, {
    base: "/compare",
    title: "Compare runs",
    intro: h("p", { class: "muted" }, `Pick two to ${MAX} runs — filter and page through them; what you pick is kept while you do — then compare.`),
    tableId: "pick-runs",
  });
}

export async function render(ctx, params, query) {
  const ids = (query.get("runs") || "").split(",").filter(Boolean);
  if (ids.length < 1) return picker(ctx, query);
  const data = await get("/compare", { runs: ids.join(",") });
  const runs = data.runs;
  const color = (i) => PALETTE[i % PALETTE.length];
  const swatch = (i) => {
    const el = h("i", { class: "swatch" });
    el.style.background = color(i);
    return el;
  };
  // a header row per table: a node lives in one place, so each table gets its own
  const headerRow = () => h("thead", null, h("tr", null, h("th", null, ""),
    runs.map((r, i) => h("th", { "data-run": r.id }, swatch(i), link(shortId(r.id, 8), "runs", r.id)))));
  const paramRows = data.params.map((name) => h("tr", { class: data.differing.includes(name) ? "diff" : "" },
    h("td", null, name), runs.map((r) => h("td", { class: "mono" }, name in r.params ? text(r.params[name]) : "—"))));
  const metricRows = data.metrics.map((name) => h("tr", null, h("td", null, name),
    runs.map((r) => h("td", { class: "num" }, num(r.metrics[name])))));
  const pipelines = [...new Set(runs.map((r) => r.pipeline))];
  add(ctx.main,
    h("h1", null, `Compare ${runs.length} runs`),
    h("p", null, on(h("a", { href: `/compare?pipeline=${encodeURIComponent(pipelines[0])}`, id: "change-selection" }, "change the selection"),
      "click", () => setPicked(runs.map((r) => r.id))),
      pipelines.length > 1 ? h("span", { class: "muted" }, ` · pipelines: ${pipelines.join(", ")}`) : ""),
    h("div", { class: "table-wrap" }, h("table", { id: "compare-runs", class: "compact" }, headerRow(),
      h("tbody", null,
        h("tr", null, h("td", { class: "muted" }, "status"), runs.map((r) => h("td", null, status(r.status)))),
        h("tr", null, h("td", { class: "muted" }, "started"), runs.map((r) => h("td", { class: "mono" }, when(r.started_at))))))),
    section("Parameters", data.params.length ? h("div", { class: "table-wrap" }, h("table", { id: "compare-params", class: "compact" }, headerRow(), h("tbody", null, paramRows)))
      : h("p", { class: "muted" }, "no parameters"),
    data.differing.length ? h("p", { class: "muted small" }, `${data.differing.length} differ (highlighted)`) : h("p", { class: "muted small" }, "all equal")),
  );
  const charts = data.metrics.map((name) => barChart({
    title: name,
    bars: runs.map((r, i) => ({ label: shortId(r.id, 8), value: r.metrics[name], color: color(i) })),
  }));
  const seriesNames = [...new Set(runs.flatMap((r) => Object.keys(r.series)))].sort();
  const lines = seriesNames.map((name) => lineChart({
    title: `${name} by step`,
    series: runs.map((r, i) => ({ name: shortId(r.id, 8), color: color(i), points: r.series[name] || [] })),
  }));
  add(ctx.main, section("Metrics",
    data.metrics.length ? h("div", { class: "table-wrap" }, h("table", { id: "compare-metrics", class: "compact" }, headerRow(), h("tbody", null, metricRows))) : h("p", { class: "muted" }, "no metrics logged"),
    h("div", { class: "grid", id: "metric-charts" }, charts, lines)));
  ctx.ready();
  return null;
}
