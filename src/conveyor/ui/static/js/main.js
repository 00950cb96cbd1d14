// The dashboard's router: one HTML shell for every page; the path picks a page module, which
// renders into <main> from the JSON API. Links inside the dashboard navigate without reloading.

import { apiKey, info, setApiKey } from "./api.js";
import { add, clear, errorBox, h, on } from "./dom.js";

const ROUTES = [
  [/^\/(?:runs)?$/, "runs", () => import("./runs.js"), () => ({})],
  [/^\/runs\/([^/]+)(?:\/steps\/([^/]+))?$/, "run", () => import("./run.js"), (m) => ({ run: m[1], step: m[2] })],
  [/^\/artifacts\/([^/]+)$/, "artifact", () => import("./artifact.js"), (m) => ({ artifact: m[1] })],
  [/^\/compare$/, "compare", () => import("./compare.js"), () => ({})],
  [/^\/models$/, "models", () => import("./models.js"), () => ({})],
  [/^\/models\/([^/]+)$/, "model", () => import("./models.js"), (m) => ({ model: m[1] })],
  [/^\/monitoring$/, "monitoring", () => import("./monitoring.js"), () => ({})],
  [/^\/monitoring\/([^/]+)$/, "monitor", () => import("./monitoring.js"), (m) => ({ model: m[1] })],
  [/^\/api-docs$/, "api-docs", () => import("./apidocs.js"), () => ({})],
];

const main = document.getElementById("main");
let current = null; // {name, key, page, cleanup}

function decode(params) {
  const out = {};
  for (const [k, v] of Object.entries(params)) out[k] = v === undefined ? undefined : decodeURIComponent(v);
  return out;
}

async function route() {
  const previous = main.dataset.ready;
  main.removeAttribute("data-ready"); // at once: tests and tools wait for the new page's mark
  const { pathname, search } = window.location;
  const query = new URLSearchParams(search);
  const found = ROUTES.find(([re]) => re.test(pathname));
  if (!found) {
    failed("not-found", h("p", { class: "error", role: "alert" }, `No page at ${pathname}.`));
    return;
  }
  const [re, name, load, paramsOf] = found;
  let params;
  try {
    params = decode(paramsOf(pathname.match(re)));
  } catch (err) { // a malformed escape in the address (%E0%A4%A): say so, do not hang
    failed("error", h("div", { class: "error", role: "alert", id: "bad-address" },
      `This address is not valid: ${pathname} has a malformed %-escape (${err.message}). `,
      h("a", { href: "/runs" }, "Go to the runs list"), "."));
    return;
  }
  const section = name === "run" ? "runs" : name === "model" ? "models" : name === "monitor" ? "monitoring" : name;
  for (const a of document.querySelectorAll(".top nav a")) a.classList.toggle("active", a.dataset.section === section);
  try {
    const module = await load();
    // the same page showing the same thing (a run, another of its steps): let it update in place
    if (current && current.name === name && current.page.update && current.page.update(params, query)) {
      main.dataset.ready = previous || name;
      return;
    }
    if (current && current.cleanup) current.cleanup();
    main.dataset.page = name;
    clear(main);
    const page = module.pages ? module.pages[name] : module;
    const ctx = {
      main,
      ready: () => {
        if (!main.dataset.ready) performance.mark(`conveyor:rendered:${name}`);
        main.dataset.ready = name;
      },
      navigate,
    };
    current = { name, page, cleanup: null };
    current.cleanup = await page.render(ctx, params, query);
  } catch (err) {
    add(clear(main), errorBox(err));
    main.dataset.ready = name;
  }
}

/** A page that could not be shown: its message, marked ready (as `kind`) for tests and tools. */
function failed(kind, message) {
  if (current && current.cleanup) current.cleanup();
  current = null;
  main.dataset.page = kind;
  add(clear(main), message);
  main.dataset.ready = kind;
}

export function navigate(target, replace = false) {
  if (replace) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  route();
}

on(document, "click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest("a");
  if (!a) return;
  const href = a.getAttribute("href");
  if (!href || !href.startsWith("/") || href.startsWith("/api/") || href.startsWith("/static/") || a.target) return;
  event.preventDefault();
  navigate(href);
});
window.addEventListener("popstate", route);

async function showMode() {
  const mode = document.getElementById("mode");
  try {
    const about = await info();
    if (!about.actions) {
      add(mode, h("span", { title: "Start with --api-key-env VAR to allow promote, rollback and re-run" }, "read-only"));
      return;
    }
    const input = h("input", { type: "password", placeholder: "API key for actions", autocomplete: "off", "aria-label": "API key" });
    input.value = apiKey();
    on(input, "change", () => setApiKey(input.value.trim()));
    add(mode, h("span", null, "actions:"), input);
  } catch (err) {
    add(mode, h("span", null, "offline"));
  }
}

showMode();
route();
