// The JSON API, as the pages use it. The API key (when actions are enabled) lives in this tab's
// sessionStorage only, and is sent as a bearer token on POSTs.

const KEY = "conveyor.apiKey";

export class ApiError extends Error {
  constructor(status, kind, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.kind = kind;
  }
}

async function parse(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, body && body.error, (body && body.detail) || response.statusText);
  }
  return body;
}

function url(path, query) {
  const u = new URL("/api" + path, window.location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== null && v !== undefined && v !== "") u.searchParams.set(k, v);
  }
  return u.pathname + u.search;
}

export async function get(path, query, options) {
  return parse(await fetch(url(path, query), { headers: { accept: "application/json" }, ...(options || {}) }));
}

export async function post(path, body) {
  const headers = { "content-type": "application/json", accept: "application/json" };
  const key = apiKey();
  if (key) headers.authorization = `Bearer ${key}`;
  return parse(await fetch(url(path), { method: "POST", headers, body: JSON.stringify(body || {}) }));
}

export function apiKey() {
  return window.sessionStorage.getItem(KEY) || "";
}

export function setApiKey(value) {
  if (value) window.sessionStorage.setItem(KEY, value);
  else window.sessionStorage.removeItem(KEY);
}

let infoPromise = null;

/** /api/info, fetched once per page load. */
export function info() {
  if (!infoPromise) infoPromise = get("/info").catch((e) => { infoPromise = null; throw e; });
  return infoPromise;
}
