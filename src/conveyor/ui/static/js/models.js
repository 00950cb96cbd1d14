// Models: the registry's list, and one model's versions (metrics, signature, evaluation, lineage
// back to the data and the code), its aliases and their history; promote and rollback when the
// dashboard has an API key.

import { get, info, post } from "./api.js";
import { barChart, PALETTE } from "./charts.js";
import {
  add, badge, clear, facts, h, link, num, on, path, section, shortId, status, table, text, when,
} from "./dom.js";

async function list(ctx) {
  const models = await get("/models");
  add(ctx.main, h("h1", null, "Models"));
  if (!models.length) {
    add(ctx.main, h("p", { class: "muted" }, "No model is registered yet (conveyor.components.register or ModelRegistry.register)."));
  } else {
    add(ctx.main, table(["model", { text: "versions", class: "num" }, "latest", "aliases", "updated", "latest metrics"],
      models.map((m) => h("tr", { "data-model": m.name },
        h("td", null, link(m.name, "models", m.name)), h("td", { class: "num" }, String(m.versions)), h("td", null, `v${m.latest}`),
        h("td", null, Object.entries(m.aliases).map(([a, v]) => [badge(`${a} → v${v}`, "alias"), " "])),
        h("td", { class: "mono" }, when(m.updated_at)),
        h("td", { class: "small" }, Object.entries(m.metrics).slice(0, 4).map(([k, v]) => `${k} ${num(v)}`).join(", ")))),
    { id: "models" }));
  }
  ctx.ready();
  return null;
}

function signature(sig) {
  if (!sig || !Object.keys(sig).length) return h("p", { class: "muted" }, "no signature recorded");
  const inputs = sig.inputs || (sig.columns ? null : sig);
  const out = [];
  if (inputs && typeof inputs === "object") {
    out.push(table(["input", "type"], Object.entries(inputs).map(([k, v]) => h("tr", null, h("td", null, k), h("td", { class: "mono" }, text(v)))), { class: "compact signature" }));
  }
  out.push(facts([
    sig.target ? ["target", `${sig.target}${sig.task ? ` (${sig.task})` : ""}`] : null,
    sig.classes ? ["classes", sig.classes.map(String).join(", ")] : null,
  ]));
  return out;
}

function evaluation(ev) {
  if (!ev || !Object.keys(ev).length) return null;
  const out = [];
  const gate = ev.gate;
  if (gate) {
    out.push(h("p", null, "gate ", gate.passed ? badge("passed", "s-succeeded") : badge("refused", "s-failed"),
      gate.baseline ? h("span", { class: "muted" }, ` vs ${gate.baseline.name || ""} v${gate.baseline.version}`) : ""));
    if (gate.reasons && gate.reasons.length) out.push(h("ul", { class: "small" }, gate.reasons.map((r) => h("li", null, r))));
  }
  for (const [column, groups] of Object.entries(ev.slices || {})) {
    out.push(h("h3", null, `slices by ${column}`), table(["value", { text: "rows", class: "num" }, "metrics"],
      Object.entries(groups).map(([value, entry]) => h("tr", null, h("td", null, value), h("td", { class: "num" }, num(entry.n)),
        h("td", { class: "small" }, Object.entries(entry.metrics || {}).map(([k, v]) => `${k} ${num(v)}`).join(", ")))), { class: "compact" }));
  }
  if (!gate && !ev.slices) out.push(h("pre", { class: "light" }, JSON.stringify(ev, null, 2)));
  return out;
}

function promoteForm(model, version, refresh) {
  const alias = h("input", { type: "text", value: "production", size: 12, "aria-label": "alias" });
  const reason = h("input", { type: "text", placeholder: "reason", size: 24, "aria-label": "reason" });
  const message = h("span", { class: "muted small" });
  const button = h("button", { type: "button", class: "promote" }, `Promote v${version.version}`);
  on(button, "click", async () => {
    message.textContent = "…";
    try {
      const r = await post(`/models/${encodeURIComponent(model)}/promote`, { version: version.version, alias: alias.value.trim(), reason: reason.value.trim() || null });
      message.textContent = `@${r.event.alias} → v${r.event.version}`;
      refresh();
    } catch (err) {
      message.textContent = err.message;
    }
  });
  return h("div", { class: "actions" }, button, "to", alias, reason, message);
}

function versionCard(model, v, actions, refresh) {
  const run = v.run;
  return h("div", { class: "card version", id: `v${v.version}`, "data-version": v.version },
    h("h2", null, `v${v.version} `, v.aliases.map((a) => [badge(a, "alias"), " "]),
      h("span", { class: "muted small registered" }, `registered ${when(v.created_at)} by ${v.created_by || "?"}`)),
    v.description ? h("p", { class: "description" }, v.description) : null,
    h("div", { class: "row" },
      h("div", { class: "grow" },
        h("h3", null, "Lineage"),
        facts([
          ["model artifact", link(shortId(v.artifact_id), "artifacts", v.artifact_id)],
          ["trained by", run ? h("span", null, "run ", link(shortId(run.id), "runs", run.id), ` of ${run.pipeline} `, status(run.status),
            v.step ? [" · step ", link(v.step, "runs", run.id, "steps", v.step)] : "") : h("span", { class: "muted" }, "no run recorded")],
          ["code", run && run.git_commit ? h("span", { class: "mono" }, run.git_commit + (run.git_dirty ? " + uncommitted changes" : "")) : h("span", { class: "muted" }, "no git commit")],
          run && run.pipeline_ref ? ["pipeline file", h("span", { class: "mono small" }, run.pipeline_ref)] : null,
          ...Object.entries(v.data).map(([name, id]) => [`data: ${name}`, link(shortId(id), "artifacts", id)]),
          ["monitoring", v.has_reference ? link("reference captured · drift", "monitoring", model) : h("span", { class: "muted" }, "no reference statistics")],
        ]),
        h("h3", null, "Metrics"),
        Object.keys(v.metrics).length ? table(["metric", { text: "value", class: "num" }],
          Object.entries(v.metrics).map(([k, x]) => h("tr", null, h("td", null, k), h("td", { class: "num" }, num(x)))), { class: "compact" })
          : h("p", { class: "muted" }, "none")),
      h("div", { class: "grow" }, h("h3", null, "Signature"), signature(v.signature), evaluation(v.evaluation) ? [h("h3", null, "Evaluation"), evaluation(v.evaluation)] : null)),
    actions ? promoteForm(model, v, refresh) : null);
}

async function detail(ctx, params) {
  const [m, about] = await Promise.all([get(`/models/${encodeURIComponent(params.model)}`), info()]);
  const body = h("div");
  const refresh = async () => {
    const fresh = await get(`/models/${encodeURIComponent(params.model)}`);
    add(clear(body), ...content(fresh));
  };
  const rollbackButton = (alias) => {
    const message = h("span", { class: "muted small" });
    const b = h("button", { type: "button", class: "rollback" }, "Roll back");
    on(b, "click", async () => {
      try {
        const r = await post(`/models/${encodeURIComponent(m.name)}/rollback`, { alias, reason: "rolled back from the dashboard" });
        message.textContent = `→ v${r.event.version}`;
        refresh();
      } catch (err) {
        message.textContent = err.message;
      }
    });
    return [b, message];
  };
  const content = (model) => {
    const metricNames = [...new Set(model.versions.flatMap((v) => Object.keys(v.metrics).filter((k) => typeof v.metrics[k] === "number")))].slice(0, 6);
    const ordered = [...model.versions].reverse();
    return [
      section("Aliases", Object.keys(model.aliases).length ? table(["alias", "version", ""],
        Object.entries(model.aliases).map(([a, version]) => h("tr", { "data-alias": a }, h("td", null, badge(a, "alias")),
          h("td", null, h("a", { href: `#v${version}` }, `v${version}`)), h("td", null, about.actions ? rollbackButton(a) : ""))), { id: "aliases" })
        : h("p", { class: "muted" }, "no aliases")),
      model.history.length ? section("Alias history", table(["when", "alias", "action", "version", "before", "by", "reason"],
        model.history.map((e) => h("tr", null, h("td", { class: "mono" }, when(e.at)), h("td", null, e.alias), h("td", null, e.action),
          h("td", null, `v${e.version}`), h("td", null, e.previous_version ? `v${e.previous_version}` : "—"), h("td", null, e.by || ""),
          h("td", null, e.reason || ""))), { id: "history", class: "compact" })) : null,
      metricNames.length ? section("Metrics by version", h("div", { class: "grid" }, metricNames.map((name) => barChart({
        title: name, bars: ordered.map((v, i) => ({ label: `v${v.version}`, value: v.metrics[name] ?? null, color: PALETTE[i % PALETTE.length] })),
      })))) : null,
      section("Versions", model.versions.map((v) => versionCard(model.name, v, about.actions, refresh))),
    ];
  };
  add(ctx.main, h("h1", null, m.name, h("span", { class: "muted small" }, `${m.versions.length} version${m.versions.length === 1 ? "" : "s"}`),
    h("a", { class: "small", href: path("monitoring", m.name) }, "monitoring")), body);
  add(body, ...content(m));
  ctx.ready();
  return null;
}

export const pages = { models: { render: list }, model: { render: detail } };
