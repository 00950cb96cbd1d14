// Monitoring: which models are watched and how they last fared, trigger firings and the runs
// they started; per model, drift per feature over time, the drift share, the latest report and
// its histograms.

import { get } from "./api.js";
import { histogram, lineChart, PALETTE } from "./charts.js";
import {
  add, badge, clear, facts, h, link, num, section, shortId, status, table, text, when,
} from "./dom.js";

function verdict(drifted) {
  if (drifted === null || drifted === undefined) return h("span", { class: "muted" }, "—");
  return drifted ? badge("drift", "drifted") : badge("stable", "stable");
}

function triggersTable(events, none = "No trigger has fired (conveyor watch).") {
  if (!events.length) return h("p", { class: "muted" }, none);
  return table(["fired", "trigger", "reason", "status", "pipeline", "parameters", "run", "finished"], events.map((e) => h("tr", { "data-trigger": e.trigger },
    h("td", { class: "mono" }, when(e.fired_at)), h("td", null, e.trigger), h("td", { class: "small" }, e.reason),
    h("td", null, status(e.status)), h("td", { class: "mono small" }, e.pipeline || ""),
    h("td", { class: "mono small truncate" }, Object.entries(e.params || {}).map(([k, v]) => `${k}=${text(v)}`).join(", ")),
    h("td", { class: "mono" }, e.run_id ? link(shortId(e.run_id), "runs", e.run_id) : "—"),
    h("td", { class: "mono" }, when(e.finished_at)))), { id: "triggers", class: "compact" });
}

async function overview(ctx) {
  const data = await get("/monitoring");
  add(ctx.main, h("h1", null, "Monitoring"),
    section("Models", data.models.length ? table(["model", "version", { text: "evaluations", class: "num" }, "last", { text: "drift share", class: "num" }, "verdict"],
      data.models.map((m) => h("tr", { "data-model": m.model }, h("td", null, link(m.model, "monitoring", m.model)), h("td", null, m.version ? `v${m.version}` : ""),
        h("td", { class: "num" }, num(m.reports)), h("td", { class: "mono" }, when(m.last_at)),
        h("td", { class: "num" }, m.drift_share === null ? "—" : `${Math.round(m.drift_share * 100)}%`), h("td", null, verdict(m.drifted)))), { id: "monitored" })
      : h("p", { class: "muted" }, "No monitoring results yet (conveyor monitor MODEL).")),
    section("Trigger history", triggersTable(data.triggers)));
  ctx.ready();
  return null;
}

function latestCard(model, latest) {
  if (!latest) return null;
  const warnings = latest.warnings || [];
  const window = latest.window_start ? `${when(latest.window_start)} → ${when(latest.window_end)}` : "data given directly";
  const features = latest.features.slice().sort((a, b) => Number(b.drifted) - Number(a.drifted));
  return section("Latest report",
    facts([
      ["evaluated", when(latest.at)],
      ["model version", latest.version ? link(`v${latest.version}`, "models", model) : "—"],
      ["rows", num(latest.rows)],
      ["window", window],
      ["dataset", h("span", null, verdict(latest.drifted), latest.drift_share === null ? "" : ` ${Math.round(latest.drift_share * 100)}% of features drifted`)],
      latest.thresholds ? ["judged by", h("span", { class: "small", id: "report-thresholds" },
        `drift when ≥ ${Math.round(latest.thresholds.share * 100)}% of features drift; a feature drifts at PSI ≥ ${num(latest.thresholds.psi)} (numeric) or JS ≥ ${num(latest.thresholds.js)} (categorical), p < ${num(latest.thresholds.pvalue)}`)] : null,
      Object.keys(latest.performance || {}).length ? ["live performance", Object.entries(latest.performance).map(([k, v]) => `${k} ${num(v)}`).join(", ")] : null,
    ]),
    warnings.length ? h("div", { class: "note", id: "report-warnings" }, h("strong", null, `${warnings.length} warning${warnings.length > 1 ? "s" : ""}`),
      h("ul", null, warnings.map((w) => h("li", { "data-feature": w.feature || "" }, w.message)))) : null,
    table(["feature", "verdict", "statistics", "quality"], features.map((f) => h("tr", { "data-feature": f.feature },
      h("td", null, f.feature), h("td", null, verdict(f.drifted)),
      h("td", { class: "small mono" }, Object.entries(f.statistics).map(([k, v]) => `${k}=${num(v)}`).join(", ")),
      h("td", { class: "small" }, Object.entries(latest.quality[f.feature] || {}).filter(([, v]) => v).map(([k, v]) => `${k} ${num(v)}`).join(", ")))),
    { id: "latest-features", class: "compact" }));
}

async function histograms(box, model) {
  try {
    const data = await get(`/monitoring/${encodeURIComponent(model)}/histograms`);
    clear(box);
    if (data.note) add(box, h("p", { class: "note", id: "histogram-note" }, data.note));
    add(box, h("div", { class: "grid", id: "histograms" }, data.features.map((f) => histogram({
      title: `${f.feature}${f.drifted ? " (drifted)" : ""}`, labels: f.labels, reference: f.reference, current: f.current,
    }))));
  } catch (err) {
    add(clear(box), h("p", { class: "error" }, err.message));
  }
}

/** Prediction drift and live performance per metric; data quality as one line per feature. */
function otherSection(other) {
  const charts = [];
  const quiet = [];
  const quality = new Map(); // metric -> [[feature, points]]
  for (const [group, metrics] of Object.entries(other)) {
    const [kind, feature] = group.split(/: (.*)/s);
    for (const [metric, points] of Object.entries(metrics)) {
      if (kind === "quality") {
        if (!quality.has(metric)) quality.set(metric, []);
        quality.get(metric).push([feature, points]);
      } else if (kind !== "prediction" || metric === "js") {
        charts.push(lineChart({ title: `${kind}: ${metric}`, xTime: true, yZero: kind === "prediction",
          series: [{ name: metric, color: PALETTE[2], points: points.map((p) => [p[0], p[1], p[2]]) }] }));
      }
    }
  }
  for (const [metric, entries] of quality) {
    const busy = entries.filter(([, points]) => points.some((p) => p[1]));
    if (!busy.length) { quiet.push(metric); continue; }
    charts.push(lineChart({ title: `quality: ${metric}`, xTime: true, yZero: true,
      series: busy.map(([feature, points], i) => ({ name: feature, color: PALETTE[i % PALETTE.length], points: points.map((p) => [p[0], p[1]]) })) }));
  }
  if (!charts.length && !quiet.length) return "";
  return section("Predictions, data quality and performance", h("div", { class: "grid" }, charts),
    quiet.length ? h("p", { class: "muted small" }, `Zero in every evaluation, for every feature: ${quiet.join(", ")}.`) : null);
}

async function model(ctx, params) {
  const data = await get(`/monitoring/${encodeURIComponent(params.model)}`);
  const name = data.model;
  const byFeature = Object.entries(data.features).sort(([a], [b]) => a.localeCompare(b));
  const histBox = h("div", null, h("p", { class: "muted" }, "Loading histograms…"));
  add(ctx.main, 
    h("h1", null, `Monitoring: ${name}`, h("a", { class: "small", href: `/models/${encodeURIComponent(name)}` }, "model")),
    section("Drift share over time", h("div", { id: "drift-share" }, lineChart({
      title: "share of features drifted", xTime: true, yZero: true, width: 760, height: 220,
      threshold: data.drift_share.map((p) => [p.at, p.threshold]),
      series: [{ name: "drift share", color: PALETTE[0], points: data.drift_share.map((p) => [p.at, p.value, p.drifted]) }],
    }))),
    latestCard(name, data.latest) || "",
    section("Latest report: distributions", histBox),
    section("Drift per feature over time", h("div", { class: "grid", id: "feature-drift" }, byFeature.map(([feature, entry]) => {
      const metric = entry.primary || Object.keys(entry.metrics)[0];
      const points = entry.metrics[metric];
      return lineChart({
        title: `${feature} — ${metric}`, xTime: true, yZero: true,
        threshold: metric === entry.primary ? points.map((p) => [p[0], p[5]]) : null,
        series: [{ name: metric, color: PALETTE[1], points: points.map((p) => [p[0], p[1], p[2]]) }],
      });
    }))),
    otherSection(data.other),
    section("Trigger history", h("p", { class: "muted small" }, "Firings of the triggers that watch this model (drift, performance); every trigger's on ",
      h("a", { href: "/monitoring" }, "Monitoring"), "."), triggersTable(data.triggers, "No trigger watching this model has fired.")),
  );
  ctx.ready();
  histograms(histBox, name);
  return null;
}

export const pages = { monitoring: { render: overview }, monitor: { render: model } };
