// The JSON API's reference, read from /api/openapi.json (offline: no Swagger UI from a CDN).

import { add, h, section, table } from "./dom.js";

/** A POST's JSON body: the fields of its schema. */
function body(spec, op) {
  const content = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
  if (!content) return null;
  let schema = content.schema || {};
  for (const option of schema.anyOf || []) if (option.$ref) schema = option;
  if (schema.$ref) schema = spec.components.schemas[schema.$ref.split("/").pop()] || {};
  const fields = Object.entries(schema.properties || {});
  if (!fields.length) return null;
  return h("p", { class: "small" }, "JSON body: ", fields.map(([name, f], i) => [i ? ", " : "", h("code", null, name),
    f.default !== undefined ? ` (default ${JSON.stringify(f.default)})` : ""]));
}

export async function render(ctx) {
  const response = await fetch("/api/openapi.json");
  const spec = await response.json();
  const byTag = new Map();
  for (const [route, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([route, method, op]);
    }
  }
  add(ctx.main, h("h1", null, spec.info.title, h("span", { class: "muted small" }, `v${spec.info.version}`)),
    h("p", null, spec.info.description || ""),
    h("p", null, "The machine-readable description: ", h("a", { href: "/api/openapi.json" }, "/api/openapi.json"), "."));
  for (const [tag, ops] of byTag) {
    add(ctx.main, section(tag, ops.map(([route, method, op]) => h("div", { class: "endpoint", "data-path": route },
      h("div", null, h("span", { class: `method ${method}` }, method.toUpperCase()), h("code", null, route), " ", h("span", { class: "muted" }, op.summary || "")),
      op.description ? h("p", { class: "small" }, op.description) : null,
      (op.parameters || []).length ? table(["parameter", "in", "required", "description"], op.parameters.map((p) => h("tr", null,
        h("td", { class: "mono" }, p.name), h("td", null, p.in), h("td", null, p.required ? "yes" : ""),
        h("td", { class: "small" }, p.description || "")))) : null,
      body(spec, op)))));
  }
  ctx.ready();
  return null;
}
