// Compare runs: pick runs of a pipeline, then see their parameters side by side (those that
// differ first, highlighted) and their metrics as charts.

import { get, info } from "./api.js";
import { barChart, lineChart, PALETTE } from "./charts.js";
import { add, clear, h, link, num, on, section, shortId, status, table, text, when } from "./dom.js";

async function picker(ctx, query) {
  const about = await info();
  const chosen = query.get("pipeline") || about.pipelines[0] || "";
  const select = h("select", { name: "pipeline", "aria-label": "pipeline" }, about.pipelines.map((p) => h("option", { value: p }, p)));
  select.value = chosen;
  const list = h("div");
  const go = h("button", { type: "button", class: "primary", disabled: true, id: "compare-go" }, "Compare");
  add(ctx.main, h("h1", null, "Compare runs"),
    h("p", { class: "muted" }, "Pick two or more runs of a pipeline."),
    h("div", { class: "actions" }, h("label", null, "pipeline ", select), go), list);
  const picked = new Set();
  on(go, "click", () => ctx.navigate(`/compare?runs=${[...picked].join(",")}`));
  const load = async () => {
    picked.clear();
    go.disabled = true;
    add(clear(list), h("p", { class: "muted" }, "Loading…"));
    if (!select.value) { add(clear(list), h("p", { class: "muted" }, "No runs yet.")); return; }
    const data = await get("/runs", { pipeline: select.value, limit: 50, count: false });
    add(clear(list), table(["", "run", "status", "started", "parameters"], data.runs.map((r) => {
      const box = h("input", { type: "checkbox", value: r.id, "aria-label": `pick run ${shortId(r.id)}` });
      on(box, "change", () => {
        if (box.checked) picked.add(r.id); else picked.delete(r.id);
        go.disabled = picked.size < 2;
      });
      return h("tr", null, h("td", null, box), h("td", { class: "mono" }, link(shortId(r.id), "runs", r.id)), h("td", null, status(r.status)),
        h("td", { class: "mono" }, when(r.started_at)),
        h("td", { class: "mono truncate" }, Object.entries(r.params).map(([k, v]) => `${k}=${text(v)}`).join(", ")));
    }), { id: "pick-runs" }));
  };
  on(select, "change", load);
  await load();
  ctx.ready();
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
  const heads = ["", ...runs.map((r, i) => h("span", null, swatch(i), link(shortId(r.id, 8), "runs", r.id)))];
  const headerRow = (cells) => h("thead", null, h("tr", null, cells.map((c) => h("th", null, c))));
  const paramRows = data.params.map((name) => h("tr", { class: data.differing.includes(name) ? "diff" : "" },
    h("td", null, name), runs.map((r) => h("td", { class: "mono" }, name in r.params ? text(r.params[name]) : "—"))));
  const metricRows = data.metrics.map((name) => h("tr", null, h("td", null, name),
    runs.map((r) => h("td", { class: "num" }, num(r.metrics[name])))));
  const pipelines = [...new Set(runs.map((r) => r.pipeline))];
  add(ctx.main, 
    h("h1", null, `Compare ${runs.length} runs`),
    h("p", null, h("a", { href: `/compare?pipeline=${encodeURIComponent(pipelines[0])}` }, "change the selection"),
      pipelines.length > 1 ? h("span", { class: "muted" }, ` · pipelines: ${pipelines.join(", ")}`) : ""),
    h("div", { class: "table-wrap" }, h("table", { id: "compare-runs", class: "compact" }, headerRow(heads),
      h("tbody", null,
        h("tr", null, h("td", { class: "muted" }, "status"), runs.map((r) => h("td", null, status(r.status)))),
        h("tr", null, h("td", { class: "muted" }, "started"), runs.map((r) => h("td", { class: "mono" }, when(r.started_at))))))),
    section("Parameters", data.params.length ? h("div", { class: "table-wrap" }, h("table", { id: "compare-params", class: "compact" }, headerRow(heads), h("tbody", null, paramRows)))
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
    data.metrics.length ? h("div", { class: "table-wrap" }, h("table", { id: "compare-metrics", class: "compact" }, headerRow(heads), h("tbody", null, metricRows))) : h("p", { class: "muted" }, "no metrics logged"),
    h("div", { class: "grid", id: "metric-charts" }, charts, lines)));
  ctx.ready();
  return null;
}
