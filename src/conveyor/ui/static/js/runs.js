// The runs list: filters (pipeline, status, time, parameters) and keyset pages, all on the
// server. Everything that names the view lives in the URL — the filters and the page's cursor
// (`after=` the next page's, `before=` the previous page's) — so a reload, a bookmark or the
// back button lands on the same page. Runs picked for comparison are kept in sessionStorage
// (selection.js), so a pick spans pages. The compare picker is this list, at /compare.

import { get, info } from "./api.js";
import { add, clear, duration, h, link, on, shortId, status, table, text, when } from "./dom.js";
import { MAX, pick, picked, setPicked } from "./selection.js";

const STATUSES = ["", "running", "succeeded", "failed", "interrupted"];
const PAGE = 50;
const FILTERS = ["pipeline", "status", "since", "until", "params"];

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

function pageSize(query) {
  const n = Number(query.get("limit"));
  return Number.isInteger(n) && n >= 1 && n <= 500 ? n : PAGE;
}

function count(n) {
  return n.toLocaleString("en-US");
}

/** The picked runs: how many, each as a removable chip, and the button that compares them. */
function selectionBar(ctx, onChange) {
  const bar = h("div", { class: "selection", id: "selection" });
  const draw = () => {
    const ids = picked();
    clear(bar);
    const go = h("button", { type: "button", class: "primary", id: "compare-go", disabled: ids.length < 2 || ids.length > MAX },
      `Compare ${ids.length} selected`);
    on(go, "click", () => ctx.navigate(`/compare?runs=${picked().join(",")}`));
    const none = h("button", { type: "button", id: "clear-selection", disabled: !ids.length }, "Clear selection");
    on(none, "click", () => { setPicked([]); onChange(); });
    add(bar, go, none, h("span", { class: "muted small", id: "selection-count" },
      ids.length ? `${ids.length} run${ids.length === 1 ? "" : "s"} selected${ids.length > MAX ? ` (at most ${MAX} at once)` : ""}` : "select runs to compare them (across pages)"),
    ids.map((id) => {
      const remove = h("button", { type: "button", class: "chip-x", "aria-label": `unselect run ${shortId(id)}` }, "×");
      on(remove, "click", () => { pick(id, false); onChange(); });
      return h("span", { class: "chip mono", "data-run": id }, link(shortId(id, 8), "runs", id), remove);
    }));
  };
  draw();
  return { bar, draw };
}

/**
 * A filtered, paged list of runs at `base` ("/runs" or "/compare"), each with a checkbox that
 * picks it for comparison. options: {title, intro, tableId}.
 */
export async function runList(ctx, query, options) {
  const base = options.base;
  const after = query.get("after");
  const before = query.get("before");
  const limit = pageSize(query);
  const pending = get("/runs", {
    pipeline: query.get("pipeline"), status: query.get("status"), since: query.get("since"),
    until: query.get("until"), params: query.get("params"), limit, after, before,
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
  // the URL of this list with the filters in the form (or in the URL) and `extra`
  const target = (fromForm, extra) => {
    const q = new URLSearchParams();
    const values = fromForm
      ? { pipeline: pipeline.value, status: state.value, since: fromLocalInput(since.value), until: fromLocalInput(until.value), params: search.value.trim() }
      : Object.fromEntries(FILTERS.map((k) => [k, query.get(k)]));
    for (const [k, v] of Object.entries(values)) if (v) q.set(k, v);
    if (query.get("limit")) q.set("limit", String(limit));
    for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
    const s = q.toString();
    return s ? `${base}?${s}` : base;
  };
  on(form, "submit", (e) => {
    e.preventDefault();
    ctx.navigate(target(true));
  });
  on(form.querySelector("#clear-filters"), "click", () => ctx.navigate(base));

  const body = h("div", { id: "runs-table" }, h("p", { class: "muted" }, "Loading runs…"));
  const boxes = [];
  const selection = selectionBar(ctx, () => {
    selection.draw();
    const ids = new Set(picked());
    for (const box of boxes) box.checked = ids.has(box.value);
  });
  add(ctx.main, h("h1", null, options.title), options.intro || null, form, selection.bar, body);

  const data = await pending;
  clear(body);
  const chosen = new Set(picked());
  const rows = data.runs.map((r) => {
    const box = h("input", { type: "checkbox", "aria-label": `select run ${shortId(r.id)}`, value: r.id, checked: chosen.has(r.id) });
    boxes.push(box);
    on(box, "change", () => {
      pick(r.id, box.checked);
      selection.draw();
    });
    const ptext = paramsText(r.params);
    return h("tr", { "data-run": r.id },
      h("td", null, box),
      h("td", { class: "mono" }, link(shortId(r.id), "runs", r.id)),
      h("td", null, h("a", { href: `${base}?pipeline=${encodeURIComponent(r.pipeline)}` }, r.pipeline)),
      h("td", null, status(r.status)),
      h("td", { class: "mono" }, when(r.started_at)),
      r.duration_s === null && r.seen_s !== null && r.seen_s !== undefined
        ? h("td", { class: "num", title: "its end was never recorded: until its runner's last heartbeat" }, `≥ ${duration(r.seen_s)}`)
        : h("td", { class: "num" }, duration(r.duration_s)),
      h("td", { class: "truncate mono", title: ptext }, ptext),
      h("td", { class: "mono" }, r.git_commit ? shortId(r.git_commit, 8) + (r.git_dirty ? "+" : "") : ""));
  });
  const shown = data.runs.length;
  const first = (data.offset || 0) + 1;
  const total = data.total === null ? "" : ` of ${count(data.total)}`;
  const newest = h("button", { type: "button", disabled: !data.prev, id: "newest" }, "⇤ Newest");
  const newer = h("button", { type: "button", disabled: !data.prev, id: "newer" }, "← Newer");
  const older = h("button", { type: "button", disabled: !data.next, id: "older" }, "Older →");
  on(newest, "click", () => ctx.navigate(target(false)));
  on(newer, "click", () => ctx.navigate(target(false, { before: data.prev })));
  on(older, "click", () => ctx.navigate(target(false, { after: data.next })));
  const label = shown ? `runs ${count(first)}–${count(first + shown - 1)}${total}` : "no runs";
  const pager = h("div", { class: "pager" }, newest, newer, older, h("span", { class: "muted", id: "runs-count" }, label));
  const empty = after || before ? "No runs on this page: the list has changed since it was linked."
    : about.pipelines.length ? "No runs match these filters." : "No runs yet: start one with `conveyor run FILE.py:PIPELINE`.";
  add(body, pager, shown
    ? table(["", "run", "pipeline", "status", "started", { text: "duration", class: "num" }, "parameters", "commit"], rows, { id: options.tableId })
    : h("p", { class: "muted" }, empty));
  ctx.ready();
  return null;
}

export async function render(ctx, params, query) {
  return runList(ctx, query, { base: "/runs", title: "Runs", tableId: "runs" });
}
