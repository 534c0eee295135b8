// The operator API: one fetch wrapper that signs every call and turns the API's error shape into ApiError.
import { session } from "./auth.js";

let apiBase = "/prod/";

export function setApiBase(base) {
  apiBase = base.endsWith("/") ? base : `${base}/`;
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// Called when the API refuses the sign-in (expired token, wrong key): the app returns to the sign-in page.
let onSignInRefused = () => {};
export function whenSignInRefused(handler) {
  onSignInRefused = handler;
}

export async function api(method, path, { query, body, checkingSignIn = false } = {}) {
  const url = new URL(apiBase + path.replace(/^\//, ""), window.location.href);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Authorization: session.authorization() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let payload = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = { message: text };
  }
  if (response.ok) return payload;
  if (response.status === 401 || response.status === 403) {
    if (!checkingSignIn) onSignInRefused();
    throw new ApiError(response.status, "sign_in_refused", "Your sign-in was refused or has expired; sign in again.");
  }
  // The API's own shape: {"error": {"code", "message", "details"}}; API Gateway's: {"message"}.
  const error = (payload && payload.error) || {};
  throw new ApiError(
    response.status,
    error.code || "http_" + response.status,
    error.message || (payload && payload.message) || response.statusText,
    error.details,
  );
}

// A reason the console shows for a failed call: the API's code and message, and its field problems.
export function reasonOf(error) {
  if (!(error instanceof ApiError)) return String(error && error.message ? error.message : error);
  let text = `${error.message} (${error.code}, HTTP ${error.status})`;
  if (Array.isArray(error.details)) {
    text += ": " + error.details.map((d) => `${(d.location || []).slice(1).join(".")} ${d.problem}`).join("; ");
  } else if (error.details && typeof error.details === "object") {
    text += ": " + Object.entries(error.details).map(([k, v]) => `${k} ${v}`).join("; ");
  }
  return text;
}
