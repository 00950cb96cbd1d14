// The runs list: filters (pipeline, status, time, parameters) and keyset pages, all on the
// server; the filters live in the URL so a filtered view can be bookmarked.

import { get, info } from "./api.js";
import { add, clear, duration, h, link, on, shortId, status, table, text, when } from "./dom.js";

const STATUSES = ["", "running", "succeeded", "failed", "interrupted"];
const PAGE = 50;
const history = []; // cursors of the pages before this one (for "Newer")

function toLocalInput(epoch) {
  if (!epoch) return "";
  const d = new Date(epoch * 1000 - new Date().getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

function fromLocalInput(value) {
  return value ? String(new Date(value).getTime() / 1000) : "";
}

export function paramsText(params) {
  return Object.entries(params || {}).map(([k, v]) => `${k}=${text(v)}`).join(", ");
}

export async function render(ctx, params, query) {
  const after = query.get("after");
  const page = Number(query.get("page") || 1);
  const pending = get("/runs", {
    pipeline: query.get("pipeline"), status: query.get("status"), since: query.get("since"),
    until: query.get("until"), params: query.get("params"), limit: PAGE, after,
  });
  const about = await info();
  const form = h("form", { class: "filters", role: "search" });
  const pipeline = h("select", { name: "pipeline" }, h("option", { value: "" }, "all pipelines"),
    about.pipelines.map((p) => h("option", { value: p }, p)));
  pipeline.value = query.get("pipeline") || "";
  const state = h("select", { name: "status" }, STATUSES.map((x) => h("option", { value: x }, x || "any status")));
  state.value = query.get("status") || "";
  const since = h("input", { type: "datetime-local", name: "since", value: toLocalInput(Number(query.get("since"))) });
  const until = h("input", { type: "datetime-local", name: "until", value: toLocalInput(Number(query.get("until"))) });
  const search = h("input", { type: "search", name: "params", placeholder: "C=0.5 adam", size: 22, value: query.get("params") || "" });
  form.append(
    h("label", null, "pipeline", pipeline),
    h("label", null, "status", state),
    h("label", null, "started after", since),
    h("label", null, "started before", until),
    h("label", { title: "key=value matches a parameter exactly; other words match anywhere" }, "parameters", search),
    h("button", { type: "submit", class: "primary" }, "Filter"),
    h("button", { type: "button", id: "clear-filters" }, "Clear"),
  );
  const filters = () => {
    const q = new URLSearchParams();
    const values = { pipeline: pipeline.value, status: state.value, since: fromLocalInput(since.value),
      until: fromLocalInput(until.value), params: search.value.trim() };
    for (const [k, v] of Object.entries(values)) if (v) q.set(k, v);
    return q;
  };
  on(form, "submit", (e) => {
    e.preventDefault();
    history.length = 0;
    const q = filters().toString();
    ctx.navigate(`/runs${q ? "?" + q : ""}`);
  });
  on(form.querySelector("#clear-filters"), "click", () => { history.length = 0; ctx.navigate("/runs"); });

  const compareButton = h("button", { type: "button", disabled: true, id: "compare-selected" }, "Compare selected");
  const body = h("div", { id: "runs-table" }, h("p", { class: "muted" }, "Loading runs…"));
  add(ctx.main, h("h1", null, "Runs"), form, body);

  const data = await pending;
  clear(body);
  const selected = new Set();
  on(compareButton, "click", () => ctx.navigate(`/compare?runs=${[...selected].join(",")}`));
  const rows = data.runs.map((r) => {
    const box = h("input", { type: "checkbox", "aria-label": `select run ${shortId(r.id)}`, value: r.id });
    on(box, "change", () => {
      if (box.checked) selected.add(r.id); else selected.delete(r.id);
      compareButton.disabled = selected.size < 2;
    });
    const ptext = paramsText(r.params);
    return h("tr", { "data-run": r.id },
      h("td", null, box),
      h("td", { class: "mono" }, link(shortId(r.id), "runs", r.id)),
      h("td", null, h("a", { href: `/runs?pipeline=${encodeURIComponent(r.pipeline)}` }, r.pipeline)),
      h("td", null, status(r.status)),
      h("td", { class: "mono" }, when(r.started_at)),
      h("td", { class: "num" }, duration(r.duration_s)),
      h("td", { class: "truncate mono", title: ptext }, ptext),
      h("td", { class: "mono" }, r.git_commit ? shortId(r.git_commit, 8) + (r.git_dirty ? "+" : "") : ""));
  });
  const first = (page - 1) * PAGE + 1;
  const shown = data.runs.length;
  const total = data.total === null ? "" : ` of ${data.total.toLocaleString("en-US")}`;
  const newer = h("button", { type: "button", disabled: page <= 1, id: "newer" }, "← Newer");
  const older = h("button", { type: "button", disabled: !data.next, id: "older" }, "Older →");
  on(newer, "click", () => {
    const q = filters();
    const previous = history.pop();
    if (previous && page > 2) { q.set("after", previous); q.set("page", String(page - 1)); }
    ctx.navigate(`/runs${q.toString() ? "?" + q : ""}`);
  });
  on(older, "click", () => {
    if (after) history.push(after);
    const q = filters();
    q.set("after", data.next);
    q.set("page", String(page + 1));
    ctx.navigate(`/runs?${q}`);
  });
  const pager = h("div", { class: "pager" }, newer, older,
    h("span", { class: "muted", id: "runs-count" }, shown ? `runs ${first.toLocaleString("en-US")}–${(first + shown - 1).toLocaleString("en-US")}${total}` : "no runs"),
    compareButton);
  add(body, pager, shown
    ? table(["", "run", "pipeline", "status", "started", { text: "duration", class: "num" }, "parameters", "commit"], rows, { id: "runs" })
    : h("p", { class: "muted" }, about.pipelines.length ? "No runs match these filters." : "No runs yet: start one with `conveyor run FILE.py:PIPELINE`."));
  ctx.ready();
  return null;
}
