// A run: its DAG with each step's state (polled every second while the run is in progress),
// the selected step's details beside it, the steps as a table, metrics and outputs below.

import { get, info, post } from "./api.js";
import { lineChart, PALETTE } from "./charts.js";
import {
  add, badge, bytes, clear, duration, errorBox, facts, h, link, num, on, path, section, shortId, status, table, text, when,
} from "./dom.js";
import { drawGraph, zoomControls } from "./graph.js";

const POLL_MS = 1000;
let active = null; // {runId, select(name)} of the run on screen

function itemsText(items) {
  if (!items) return "";
  return items.total === null || items.total === undefined ? `${items.done} items done, ${items.started - items.done} running` : `${items.done}/${items.total} items done`;
}

function nodeSub(step) {
  if (step.items) { // a map node: "running · 1/3 done" (items), short enough for its box
    const { done, total } = step.items;
    return `${step.status} · ${done}/${total === null || total === undefined ? "?" : total} done`;
  }
  if (step.status === "succeeded") return step.cached ? "cache hit" : duration(step.duration_s);
  if (step.status === "failed" || step.status === "timed_out") return `${step.status} · ${duration(step.duration_s)}`;
  if (step.status === "interrupted") return "never finished";
  if (step.status === "not-run") return "not run";
  return step.status;
}

function legend() {
  return h("div", { class: "legend" },
    [["succeeded", "succeeded"], ["cached", "cache hit"], ["failed", "failed"], ["running", "running / ready"], ["interrupted", "interrupted"], ["skipped", "skipped / pending / not run"]]
      .map(([k, label]) => h("span", null, h("i", { class: `k-${k}` }), label)),
    h("span", null, "· select a step for its parameters, inputs, outputs, metrics, output and errors"));
}

function durationFact(run, live, lastSeen) {
  if (live) return `${duration(Date.now() / 1000 - run.started_at)} so far`;
  if (run.duration_s === null && lastSeen) {
    const until = lastSeen.by === "heartbeat" ? "its runner's last heartbeat" : "the end of its last step";
    return h("span", { id: "run-duration", title: `last seen ${when(lastSeen.at)}` }, `at least ${duration(lastSeen.duration_s)} `,
      h("span", { class: "muted" }, `(until ${until}: its end was never recorded)`));
  }
  return duration(run.duration_s);
}

function header(run, live, about, ctx, lastSeen) {
  const ptext = Object.entries(run.params).map(([k, v]) => h("span", null, `${k}=${text(v)}`));
  const box = h("div", { id: "run-header" },
    h("h1", null, `Run ${shortId(run.id)}`, status(run.status), live ? h("span", { class: "live" }, "live") : null),
    facts([
      ["pipeline", h("a", { href: `/runs?pipeline=${encodeURIComponent(run.pipeline)}` }, run.pipeline)],
      ["run id", h("span", { class: "mono" }, run.id)],
      ["started", when(run.started_at)],
      ["duration", durationFact(run, live, lastSeen)],
      ["parameters", ptext.length ? h("div", { class: "kv" }, ptext) : h("span", { class: "muted" }, "none")],
      ["cache", run.cache ? "on" : "off (--no-cache)"],
      ["code", run.git_commit ? h("span", { class: "mono" }, run.git_commit + (run.git_dirty ? ` + uncommitted changes (${shortId(run.git_dirty, 8)})` : "")) : h("span", { class: "muted" }, "no git commit recorded")],
      run.pipeline_ref ? ["pipeline file", h("span", { class: "mono" }, run.pipeline_ref)] : null,
      run.resumed_from ? ["resumed from", link(shortId(run.resumed_from), "runs", run.resumed_from)] : null,
    ]),
    run.error ? h("div", { class: "error", id: "run-error" }, run.error) : null);
  const acts = h("div", { class: "actions" },
    h("a", { href: `/compare?pipeline=${encodeURIComponent(run.pipeline)}` }, "Compare with other runs of this pipeline"));
  if (about.actions && run.pipeline_ref && run.status !== "running") {
    const message = h("span", { class: "muted", id: "action-result" });
    const launch = (mode) => async () => {
      message.textContent = `starting ${mode}…`;
      try {
        const result = await post(`/runs/${encodeURIComponent(run.id)}/rerun`, { mode });
        if (result.run_id) ctx.navigate(path("runs", result.run_id));
        else message.textContent = result.exit_code ? `failed to start (exit ${result.exit_code}): ${result.output || ""}` : `started (pid ${result.pid}); the run appears in the list once recorded`;
      } catch (err) {
        message.textContent = err.message;
      }
    };
    add(acts, on(h("button", { type: "button", id: "rerun", title: `conveyor run ${run.pipeline_ref} with this run's parameters${run.cache ? "" : " and --no-cache"}` },
      "Re-run with the same parameters"), "click", launch("rerun")));
    if (run.status === "failed" || run.status === "interrupted") {
      add(acts, on(h("button", { type: "button", id: "resume" }, "Resume"), "click", launch("resume")));
    }
    add(acts, message);
  }
  add(box, acts);
  return box;
}

function stepsTable(data, runId) {
  const rows = data.steps.map((st) => h("tr", { "data-step": st.name, "data-status": st.status },
    h("td", null, h("a", { href: path("runs", runId, "steps", st.name) }, st.name)),
    h("td", null, status(st.status), st.cached ? [" ", badge("cache hit", "s-cached")] : null),
    h("td", { class: "num" }, duration(st.duration_s)),
    h("td", { class: "num" }, st.attempts ? String(st.attempts) : ""),
    h("td", { class: "truncate", title: st.error_message || "" }, st.error_type ? `${st.error_type}: ${st.error_message || ""}` : "")));
  return table(["step", "status", { text: "duration", class: "num" }, { text: "attempts", class: "num" }, "error"], rows, { id: "steps", class: "compact" });
}

function metricsSection(metrics) {
  if (!metrics.length) return null;
  const stepped = new Map();
  const single = [];
  for (const m of metrics) {
    if (m.index === null || m.index === undefined) single.push(m);
    else {
      const key = m.name;
      if (!stepped.has(key)) stepped.set(key, new Map());
      const bySteps = stepped.get(key);
      if (!bySteps.has(m.step)) bySteps.set(m.step, []);
      bySteps.get(m.step).push([m.index, m.value]);
    }
  }
  const charts = [...stepped.entries()].map(([name, bySteps]) => lineChart({
    title: name,
    series: [...bySteps.entries()].map(([stepName, points], i) => ({ name: stepName, color: PALETTE[i % PALETTE.length], points })),
  }));
  return section("Metrics",
    charts.length ? h("div", { class: "grid" }, charts) : null,
    single.length ? table(["step", "metric", { text: "value", class: "num" }],
      single.map((m) => h("tr", null, h("td", null, m.step || ""), h("td", null, m.name), h("td", { class: "num" }, num(m.value)))),
      { id: "metrics", class: "compact" }) : null);
}

function artifactRows(refs) {
  return refs.map((r) => h("tr", null, h("td", { class: "wrap" }, r.label), h("td", { class: "mono nowrap" }, link(shortId(r.artifact_id), "artifacts", r.artifact_id)),
    h("td", { class: "wrap" }, r.type_name || ""), h("td", { class: "num nowrap" }, bytes(r.size))));
}

const MAX_DEPTH = 6;

/**
 * A recorded argument as text. A multi-line repr (an sklearn estimator's) indents its lines to
 * line up under an opening bracket 80 columns wide; in a narrow cell that indentation wraps
 * into blank lines. So each depth of indentation becomes two spaces (at most MAX_DEPTH), which
 * do not break (no-break spaces): a line too long wraps inside its text, never after its indent.
 */
export function shown(value) {
  const t = text(value);
  if (!t.includes("\n")) return t;
  const lines = t.split("\n");
  const indent = (line) => line.length - line.trimStart().length;
  const depths = [...new Set(lines.slice(1).filter((l) => l.trim()).map(indent).filter((n) => n > 0))].sort((a, b) => a - b);
  const depth = new Map(depths.map((n, i) => [n, Math.min(i + 1, MAX_DEPTH)]));
  const pad = (line) => "\u00a0\u00a0".repeat(depth.get(indent(line)) || 0);
  return lines.map((line, i) => (i && line.trim() ? pad(line) + line.trimStart() : line)).join("\n");
}

function servedFrom(st, origin) {
  if (!origin) return h("span", { class: "mono" }, `step run ${shortId(st.origin_id)}`);
  const same = origin.run_id === st.run_id;
  return h("span", null, h("a", { class: "mono", id: "served-from", href: path("runs", origin.run_id, "steps", origin.name) },
    `step run ${shortId(origin.step_run_id)}`), same ? "" : h("span", { class: "muted" }, ` (${origin.name} of run ${shortId(origin.run_id)})`));
}

/** Steps of a run as links, separated by commas. */
function stepLinks(runId, list) {
  return list.map((n, i) => [i ? ", " : "", h("a", { href: path("runs", runId, "steps", n) }, n)]);
}

/** What a step without a record is doing, or why it has none. */
function unrecorded(d) {
  const out = [];
  const note = (cls, ...text) => out.push(h("p", { class: cls, id: "step-state" }, ...text));
  const log = (title, empty) => out.push(h("h3", null, title), h("pre", { id: "live-log" }, d.live_log || empty));
  const items = d.items ? ` ${itemsText(d.items)}.` : "";
  if (d.state === "interrupted") {
    note("note", "Never finished: the run stopped (its process died or was killed) while this step was running, so nothing of it was recorded — no parameters, outputs or metrics.", items, " Resume the run to compute it.");
    log("Output before it stopped", "(nothing printed)");
  } else if (d.state === "running") {
    note("muted", d.items ? `Its items are running:${items}` : "Running: its record (parameters, outputs, metrics) is written when it ends.");
    log("Output so far", "(nothing printed yet)");
  } else if (d.state === "ready") {
    note("muted", "Ready: every step it needs has succeeded; it starts when a worker is free.");
  } else if (d.state === "pending") {
    note("muted", "Pending: waits for ", stepLinks(d.run_id, d.waits_for), ".");
  } else if (d.state === "not-run") {
    if (d.waits_for.length) {
      note("muted", `Not run: the run ${d.run_status === "interrupted" ? "stopped" : "ended"} before it could start — it needed `, stepLinks(d.run_id, d.waits_for), ", which did not succeed.");
    } else {
      note("muted", "Not run: the run ended without it — it was outside the steps asked for (--from / --to), so nothing of it was recorded.");
    }
  }
  return out;
}

function stepPanel(d) {
  const state = d.step ? d.step.status : d.state;
  const out = [h("h2", null, d.name, status(state), d.step && d.step.cached ? badge("cache hit", "s-cached") : null)];
  if (!d.recorded) {
    out.push(...unrecorded(d));
    return out;
  }
  const st = d.step;
  out.push(facts([
    ["code", h("span", { class: "mono" }, st.step)],
    ["started", when(st.started_at)],
    ["duration", duration(st.duration_s)],
    ["attempts", String(st.attempts)],
    st.seed !== null && st.seed !== undefined ? ["seed", String(st.seed)] : null,
    st.cached && st.origin_id ? ["served from", servedFrom(st, d.origin)] : null,
  ]));
  if (d.error_type || d.traceback) {
    out.push(h("h3", null, "Error"), h("div", { class: "error", id: "step-error" }, `${d.error_type || "error"}: ${d.error_message || ""}`));
    if (d.traceback) out.push(h("pre", { id: "traceback" }, d.traceback));
  }
  const args = Object.entries(st.arguments || {});
  if (args.length) {
    out.push(h("h3", null, "Arguments"), table(["argument", "value"],
      args.map(([k, v]) => h("tr", null, h("td", { class: "wrap" }, k), h("td", { class: "mono wrap" }, shown(v)))), { id: "step-arguments", class: "compact" }));
  }
  const params = Object.entries(d.params);
  if (params.length) {
    out.push(h("h3", null, "Logged parameters"), table(["name", "value"],
      params.map(([k, v]) => h("tr", null, h("td", { class: "wrap" }, k), h("td", { class: "mono wrap" }, text(v)))), { id: "step-params", class: "compact" }));
  }
  if (d.inputs.length) out.push(h("h3", null, "Inputs"), table(["argument", "artifact", "type", { text: "size", class: "num" }], artifactRows(d.inputs), { id: "step-inputs", class: "compact" }));
  if (d.outputs.length) out.push(h("h3", null, "Outputs"), table(["output", "artifact", "type", { text: "size", class: "num" }], artifactRows(d.outputs), { id: "step-outputs", class: "compact" }));
  if (d.metrics.length) {
    out.push(h("h3", null, "Metrics"), table(["metric", { text: "step", class: "num" }, { text: "value", class: "num" }],
      d.metrics.map((m) => h("tr", null, h("td", null, m.name), h("td", { class: "num" }, m.index === null ? "" : String(m.index)), h("td", { class: "num" }, num(m.value)))), { class: "compact" }));
  }
  if (d.attempts.length > 1) {
    out.push(h("h3", null, "Attempts"), table(["#", "status", "duration", "error"], d.attempts.map((a) => h("tr", null,
      h("td", null, String(a.attempt)), h("td", null, status(a.status)), h("td", null, duration(a.ended_at - a.started_at)),
      h("td", null, a.error_type ? `${a.error_type}: ${a.error_message || ""}` : "")))));
  }
  out.push(h("h3", null, "Captured output"));
  if (d.stdout) out.push(h("pre", { id: "stdout" }, d.stdout));
  if (d.stderr) out.push(h("div", { class: "muted small" }, "stderr"), h("pre", { id: "stderr" }, d.stderr));
  if (!d.stdout && !d.stderr) out.push(h("p", { class: "muted" }, "nothing printed"));
  return out;
}

export async function render(ctx, params) {
  const about = info();
  let data = await get(`/runs/${encodeURIComponent(params.run)}`);
  const runId = data.run.id;
  let selected = params.step || null;
  let timer = null;
  let stopped = false;
  let shownFinal = null; // the selected step, once its final record is on screen
  const top = h("div");
  const dagBox = h("div", { class: "dag-wrap", id: "dag" });
  const zoom = zoomControls(dagBox, { mode: "fit" }); // kept across the live redraws
  const stepsBox = h("div");
  const panel = h("aside", { class: "panel card", id: "step-panel" });
  const below = h("div");
  const columns = h("div", { class: "run-layout" },
    h("div", null, legend(), zoom.tools, dagBox, h("h2", null, "Steps"), stepsBox), panel);
  add(ctx.main, top, columns, below);
  const abouts = await about;

  const draw = () => {
    add(clear(top), header(data.run, data.live, abouts, ctx, data.last_seen));
    const graph = { ...data.dag, nodes: data.steps.map((st) => ({ ...st, id: st.name })) };
    const svg = drawGraph(graph, {
      href: (n) => path("runs", runId, "steps", n.name),
      classes: (n) => [`st-${n.status}`, n.cached ? "cached" : ""],
      label: (n) => n.name,
      sub: nodeSub,
      title: (n) => `${n.name}: ${n.status}${n.cached ? " (cache hit)" : ""}${n.duration_s !== null && n.duration_s !== undefined ? ", " + duration(n.duration_s) : ""}`,
      selected,
    });
    add(clear(dagBox), svg);
    zoom.apply();
    if (!data.dag.complete && !data.dag.traced && !data.template_run) {
      add(dagBox, h("p", { class: "muted small" }, "Steps appear as they finish (this pipeline version has no earlier run to take the whole graph from)."));
    }
    add(clear(stepsBox), stepsTable(data, runId));
    add(clear(below), metricsSection(data.metrics) || "", data.outputs && Object.keys(data.outputs).length ? section("Outputs",
      table(["output", "artifact"], Object.entries(data.outputs).map(([k, v]) => h("tr", null, h("td", null, k), h("td", { class: "mono" }, link(shortId(v), "artifacts", v)))), { id: "outputs" })) : "");
  };

  const showStep = async () => {
    columns.classList.toggle("no-step", !selected);
    if (!selected) {
      clear(panel);
      return;
    }
    try {
      const d = await get(`/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(selected)}`);
      shownFinal = d.recorded ? selected : null; // a finished step's record does not change
      add(clear(panel), ...stepPanel(d));
    } catch (err) {
      add(clear(panel), errorBox(err));
    }
  };

  const poll = async () => {
    if (stopped) return;
    try {
      data = await get(`/runs/${encodeURIComponent(runId)}`);
      draw();
      if (selected && shownFinal !== selected) await showStep();
    } catch (err) {
      // keep the last view; try again
    }
    if (data.live && !stopped) timer = setTimeout(poll, POLL_MS);
  };

  draw();
  await showStep();
  ctx.ready();
  if (data.live) timer = setTimeout(poll, POLL_MS);
  active = {
    runId,
    select: (name) => {
      selected = name || null;
      draw();
      showStep();
    },
  };
  return () => {
    stopped = true;
    active = null;
    if (timer) clearTimeout(timer);
  };
}

/** Another step of the run on screen: select it in place. */
export function update(params) {
  if (!active || !(params.run === active.runId)) return false;
  active.select(params.step);
  return true;
}
