// Calls to odecast's public HTTP API, with the API key the user gave, and its failures in words.

const KEY_STORAGE = "odecast-api-key";

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

// A failed call: `message` is what to show the user; `status` is the HTTP status (0: no answer),
// `details` the API's list of {loc, msg}, `code` its error code.
export class ApiProblem extends Error {
  constructor(message, { status = 0, code = "", details = [] } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// The query string of `query`: arrays become repeated parameters; null and undefined are left out.
function queryString(query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value === null || value === undefined || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(name, String(item));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

// `method path` with an optional JSON body; the parsed JSON answer (null for 204), or an
// ApiProblem saying what went wrong.
export async function call(method, path, { query, body } = {}) {
  const headers = { Accept: "application/json" };
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path + queryString(query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiProblem(
      `The odecast API at ${location.origin} did not answer (${error.message}). ` +
        "Is the server running, and is this machine on the network?",
    );
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (response.ok) {
    if (parsed === null) throw new ApiProblem(`${method} ${path} answered something that is not JSON.`, { status: response.status });
    return parsed;
  }
  throw problemOf(response.status, parsed, method, path);
}

function problemOf(status, parsed, method, path) {
  const error = parsed && parsed.error ? parsed.error : {};
  const said = error.message || `${method} ${path} failed with HTTP ${status}`;
  const details = Array.isArray(error.details) ? error.details : [];
  const options = { status, code: error.code || "", details };
  if (status === 401) {
    return new ApiProblem(`The API key was refused (401): ${said}. Enter a key above.`, options);
  }
  if (status === 503) {
    return new ApiProblem(
      `The service is not ready (503): ${said}. The job queue (Redis) may be away; ` +
        "stored models can still be browsed and predicted.",
      options,
    );
  }
  if (status === 413) return new ApiProblem(`Too large (413): ${said}`, options);
  return new ApiProblem(`${said} (HTTP ${status})`, options);
}
