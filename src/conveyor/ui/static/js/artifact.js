// An artifact: what it is, who produced it, a preview (DataFrame head and column statistics,
// array shape, JSON value, estimator), the models that use it, and its lineage graph.

import { get } from "./api.js";
import { spark } from "./charts.js";
import {
  add, badge, bytes, clear, facts, h, link, num, on, path, section, shortId, table, text, when,
} from "./dom.js";
import { drawGraph, zoomControls } from "./graph.js";

function dataFrame(summary, profile) {
  const out = [];
  if (summary.shape) out.push(h("p", null, `${num(summary.shape[0])} rows × ${num(summary.shape[1])} columns`));
  const head = summary.head;
  if (head && head.columns) {
    out.push(h("h3", null, "Head"), table(["", ...head.columns.map(String)],
      (head.data || []).map((row, i) => h("tr", null, h("td", { class: "muted" }, text((head.index || [])[i])),
        row.map((v) => h("td", { class: "mono" }, text(v))))), { id: "head", class: "compact" }));
  }
  const dtypes = summary.dtypes || {};
  const columns = (profile && profile.columns) || {};
  const names = Object.keys(columns).length ? Object.keys(columns) : Object.keys(dtypes);
  if (names.length) {
    out.push(h("h3", null, "Columns"));
    if (profile && profile.note) out.push(h("p", { class: "note" }, profile.note));
    out.push(table(["column", "dtype", "type", { text: "count", class: "num" }, { text: "missing", class: "num" },
      { text: "mean", class: "num" }, { text: "std", class: "num" }, { text: "min", class: "num" }, { text: "max", class: "num" }, "distribution / top values"],
    names.map((name) => {
      const c = columns[name] || {};
      const top = c.top ? Object.entries(c.top).slice(0, 5).map(([k, v]) => `${k} (${v})`).join(", ") : "";
      return h("tr", null, h("td", null, name), h("td", { class: "mono" }, dtypes[name] || ""), h("td", null, c.type || ""),
        h("td", { class: "num" }, num(c.count)), h("td", { class: "num" }, c.missing ? `${num(c.missing)} (${(100 * c.missing_fraction).toFixed(1)}%)` : num(c.missing)),
        h("td", { class: "num" }, num(c.mean)), h("td", { class: "num" }, num(c.std)),
        h("td", { class: "num" }, c.min === undefined ? "" : num(c.min)), h("td", { class: "num" }, c.max === undefined ? "" : num(c.max)),
        h("td", null, c.histogram ? spark(c.histogram.counts) : top ? h("span", { class: "small" }, top, c.unique > 5 ? ` … ${num(c.unique)} distinct` : "") : ""));
    }), { id: "columns", class: "compact" }));
  }
  return out;
}

const FOLDED_LINES = 30;

/** A JSON value pretty-printed; past FOLDED_LINES lines, folded with a button to unfold it. */
function jsonBlock(value) {
  const full = JSON.stringify(value, null, 2);
  const lines = full.split("\n");
  const pre = h("pre", { class: "light", id: "value" }, full);
  if (lines.length <= FOLDED_LINES) return pre;
  const folded = lines.slice(0, FOLDED_LINES).join("\n") + "\n…";
  const button = h("button", { type: "button", class: "small", id: "value-toggle" });
  const show = (open) => {
    pre.textContent = open ? full : folded;
    pre.dataset.folded = open ? "no" : "yes";
    button.textContent = open ? "Fold" : `Show all ${lines.length} lines`;
  };
  on(button, "click", () => show(pre.dataset.folded === "yes"));
  show(false);
  return h("div", null, pre, button);
}

function preview(a) {
  const sm = a.summary || {};
  if (a.materializer.startsWith("pandas.parquet") || sm.head) return dataFrame(sm, a.profile);
  const out = [];
  if (sm.shape) out.push(facts([["shape", `(${sm.shape.join(", ")})`], sm.dtype ? ["dtype", sm.dtype] : null, sm.name ? ["name", sm.name] : null]));
  if (sm.estimator) {
    out.push(facts([["estimator", h("span", { class: "mono" }, sm.estimator)]]));
    const params = Object.entries(sm.params || {});
    if (params.length) out.push(table(["parameter", "value"], params.map(([k, v]) => h("tr", null, h("td", null, k), h("td", { class: "mono" }, text(v)))), { class: "compact" }));
  }
  if ("value" in sm) out.push(jsonBlock(sm.value));
  else if (a.value) out.push(jsonBlock(a.value.json));
  else if (sm.preview) out.push(h("pre", { class: "light", id: "value" }, sm.preview), h("p", { class: "muted small" }, "The first 500 characters."));
  if (sm.length !== undefined && sm.head) out.push(facts([["bytes", num(sm.length)], ["first bytes", h("span", { class: "mono" }, sm.head)]]));
  if (!out.length) out.push(h("p", { class: "muted" }, "No preview recorded for this format."));
  return out;
}

async function lineage(box, id, depth) {
  add(clear(box), h("p", { class: "muted" }, "Loading lineage…"));
  const g = await get(`/artifacts/${encodeURIComponent(id)}/lineage`, { depth });
  const svg = drawGraph(g, {
    href: (n) => (n.kind === "artifact" ? path("artifacts", n.artifact_id) : path("runs", n.run_id, "steps", n.node)),
    classes: (n) => [n.kind, n.root ? "root" : "", n.kind === "step" ? `st-${n.status}` : "", n.cached ? "cached" : ""],
    label: (n) => (n.kind === "artifact" ? (n.type_name || "artifact").split(".").pop() : n.node),
    sub: (n) => (n.kind === "artifact" ? `${shortId(n.artifact_id, 10)} · ${bytes(n.size)}` : `run ${shortId(n.run_id, 8)}${n.count > 1 ? ` · ${n.count} runs` : ""}`),
    title: (n) => (n.kind === "artifact" ? `artifact ${n.artifact_id}\n${n.type_name || ""}` : `step ${n.node} (${n.step})\nrun ${n.run_id} of ${n.pipeline}\ncode ${n.git_commit || "no git commit"}`),
    selected: `a:${id}`,
  });
  const scroller = h("div", { class: "dag-wrap", id: "lineage" }, svg);
  const zoom = zoomControls(scroller, { mode: "fit" });
  add(clear(box), zoom.tools, scroller);
  zoom.apply();
  const through = g.edges.filter((e) => e.passed_through);
  if (through.length) {
    const steps = [...new Set(through.map((e) => (g.nodes.find((n) => n.id === e.target) || {}).node).filter(Boolean))];
    add(box, h("p", { class: "muted small", id: "passed-through" },
      `⇄ passed through: ${steps.join(", ")} read the artifact and wrote it back unchanged (the same bytes), so it shows as an input of ${steps.length > 1 ? "those steps" : "that step"}, not as ${steps.length > 1 ? "their" : "its"} output.`));
  }
  if (g.edges.some((e) => e.back)) add(box, h("p", { class: "muted small" }, "A dashed arc closes a cycle: a step wrote bytes equal to an artifact upstream of it."));
  if (g.truncated) add(box, h("p", { class: "muted small" }, "The graph was cut at its size limit."));
}

export async function render(ctx, params) {
  const a = await get(`/artifacts/${encodeURIComponent(params.artifact)}`);
  const p = a.producer;
  add(ctx.main, 
    h("h1", null, `Artifact ${shortId(a.id)}`, a.safe ? null : badge("unsafe format: loading needs trust", "s-failed")),
    facts([
      ["id", h("span", { class: "mono" }, a.id)],
      ["type", h("span", { class: "mono" }, a.type_name)],
      ["format", `${a.materializer} v${a.materializer_version}`],
      ["size", bytes(a.size)],
      ["created", when(a.created_at)],
      ["produced by", p ? h("span", null, "step ", link(p.step, "runs", p.run_id, "steps", p.step), " of run ", link(shortId(p.run_id), "runs", p.run_id),
        ` (${p.pipeline}), code `, h("span", { class: "mono" }, p.code), p.git_commit ? ` @ ${shortId(p.git_commit, 10)}` : "") : h("span", { class: "muted" }, "not recorded")],
      ["read by", `${num(a.consumers)} step run${a.consumers === 1 ? "" : "s"}`],
      ["stored at", h("span", { class: "mono small" }, a.uri)],
    ]),
    a.models.length ? section("Models", table(["model", "version", "role", "aliases"], a.models.map((m) => h("tr", null,
      h("td", null, link(m.model, "models", m.model)), h("td", null, `v${m.version}`), h("td", null, m.role),
      h("td", null, m.aliases.map((x) => badge(x, "alias"))))), { id: "artifact-models" })) : null,
    section("Preview", ...preview(a)),
  );
  const depth = h("select", { "aria-label": "depth" }, [1, 2, 3, 5, 8].map((d) => h("option", { value: d }, `${d} level${d > 1 ? "s" : ""}`)));
  depth.value = "3";
  const box = h("div");
  add(ctx.main, h("section", null, h("h2", null, "Lineage ", h("span", { class: "muted small" }, "upstream ← this artifact → downstream "), depth), box));
  on(depth, "change", () => lineage(box, a.id, depth.value));
  await lineage(box, a.id, 3);
  ctx.ready();
  return null;
}
