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

/** A parameter's allowed values, when it has a fixed set. */
function allowed(schema) {
  const values = (schema && (schema.enum || (schema.anyOf || []).flatMap((x) => x.enum || []))) || [];
  return values.length ? h("span", { class: "muted" }, ` One of: ${values.join(", ")}.`) : null;
}

function refName(schema) {
  return schema && schema.$ref ? schema.$ref.split("/").pop() : null;
}

/** A field's type as short text: `string`, `RunSummary[]`, `number | null`. */
function typeOf(schema) {
  if (!schema) return "any";
  const ref = refName(schema);
  if (ref) return ref;
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(" | ");
  if (schema.type === "array") return schema.items && (schema.items.prefixItems || schema.items.type === "array") ? "array" : `${typeOf(schema.items)}[]`;
  if (schema.type === "object" && schema.additionalProperties) return `{string: ${typeOf(schema.additionalProperties)}}`;
  return schema.type || "any";
}

/** What an operation answers: the success schema's fields, and each error status. */
function responses(spec, op) {
  const out = [];
  const schemas = spec.components.schemas;
  for (const [code, response] of Object.entries(op.responses || {})) {
    const schema = ((response.content || {})["application/json"] || {}).schema || {};
    const list = schema.type === "array";
    const name = refName(list ? schema.items : schema);
    if (!code.startsWith("2")) continue;
    const model = name ? schemas[name] || {} : {};
    const fields = Object.entries(model.properties || {});
    out.push(h("p", { class: "small" }, h("span", { class: "status-code ok" }, code), " ", response.description || "",
      name ? [" — ", h("code", null, list ? `${name}[]` : name)] : null));
    if (fields.length) {
      out.push(h("details", { class: "fields" }, h("summary", { class: "small" }, `${name}: ${fields.length} fields`),
        table(["field", "type", "description"], fields.map(([field, f]) => h("tr", null,
          h("td", { class: "mono" }, field, (model.required || []).includes(field) ? "" : h("span", { class: "muted" }, "?")),
          h("td", { class: "mono small" }, typeOf(f)), h("td", { class: "small" }, f.description || ""))), { class: "compact" })));
    }
  }
  const errors = Object.entries(op.responses || {}).filter(([code]) => !code.startsWith("2"));
  if (errors.length) {
    out.push(table(["error", "when"], errors.map(([code, response]) => h("tr", { "data-status": code },
      h("td", { class: "mono" }, code), h("td", { class: "small" }, response.description || ""))), { class: "compact errors" }));
  }
  return out;
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
    h("p", null, "The machine-readable description: ", h("a", { href: "/api/openapi.json" }, "/api/openapi.json"), ". ",
      "Every error is ", h("code", null, '{"error": KIND, "detail": MESSAGE}'), " (", h("code", null, "Problem"), ")."));
  for (const [tag, ops] of byTag) {
    add(ctx.main, section(tag, ops.map(([route, method, op]) => h("div", { class: "endpoint", "data-path": route },
      h("div", null, h("span", { class: `method ${method}` }, method.toUpperCase()), h("code", null, route), " ", h("span", { class: "muted" }, op.summary || "")),
      op.description ? h("p", { class: "small" }, op.description) : null,
      (op.parameters || []).length ? table(["parameter", "in", "required", "description"], op.parameters.map((p) => h("tr", null,
        h("td", { class: "mono" }, p.name), h("td", null, p.in), h("td", null, p.required ? "yes" : ""),
        h("td", { class: "small" }, p.description || "", allowed(p.schema))))) : null,
      body(spec, op),
      responses(spec, op)))));
  }
  ctx.ready();
  return null;
}
