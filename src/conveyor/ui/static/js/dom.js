// Building the DOM safely: every piece of data becomes a text node or an attribute value set
// through the DOM API — never HTML parsed from strings — so names, parameters and logs show
// exactly as written, script payloads included, and nothing in them runs.

const SVG_NS = "http://www.w3.org/2000/svg";

function setAttributes(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (/^on/i.test(name) || name === "style" || name === "srcdoc") {
      throw new Error(`refusing to set attribute ${name}`); // handlers are added with .on()
    }
    if (name === "href" && !safeHref(String(value))) {
      throw new Error("refusing a link outside the dashboard");
    }
    if (name === "class") el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

function safeHref(value) {
  return value.startsWith("/") && !value.startsWith("//") || value.startsWith("#") || value.startsWith("?");
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Append children (nodes or text; null, undefined and false are skipped) to `el`. */
export function add(el, ...children) {
  return append(el, children);
}

/** An HTML element: h("a", {href: "/runs"}, "Runs"). Children: nodes or text. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttributes(el, attrs);
  return append(el, children);
}

/** An SVG element, the same way. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttributes(el, attrs);
  return append(el, children);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** A link inside the dashboard, built from path segments (each URL-encoded). */
export function link(text, ...segments) {
  return h("a", { href: path(...segments) }, text);
}

export function path(...segments) {
  return "/" + segments.map((p) => encodeURIComponent(String(p))).join("/");
}

export function badge(text, kind) {
  return h("span", { class: ["badge", kind] }, text);
}

export function status(value) {
  return badge(value, `s-${value}`);
}

export function shortId(id, n = 12) {
  return id ? String(id).slice(0, n) : "";
}

function pad(n) {
  return String(n).padStart(2, "0");
}

export function when(epoch) {
  if (epoch === null || epoch === undefined) return "—";
  const d = new Date(epoch * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

export function num(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
}

/** A value as short text: JSON for objects, as-is for the rest. */
export function text(v) {
  if (v === null || v === undefined) return "null";
  return typeof v === "string" ? v : JSON.stringify(v);
}

export function table(headers, rows, attrs) {
  return h("div", { class: "table-wrap" },
    h("table", attrs || {},
      h("thead", null, h("tr", null, headers.map((x) =>
        typeof x === "string" ? h("th", null, x) : h("th", { class: x.class }, x.text)))),
      h("tbody", null, rows)));
}

export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

export function section(title, ...children) {
  return h("section", null, h("h2", null, title), ...children);
}

export function on(el, event, handler) {
  el.addEventListener(event, handler);
  return el;
}

export function errorBox(err) {
  return h("div", { class: "error", role: "alert" }, err && err.message ? err.message : String(err));
}
