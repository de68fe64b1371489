// The server's API (/api/v1, docs/api.md): bearer token from localStorage, the error shape, paging.
// GET answers may come from the service worker's cache when offline: it marks them X-Fieldproof-Cache: hit.

const BASE = "/api/v1";
const TOKEN_KEY = "fieldproof.token";
const ME_KEY = "fieldproof.me";
export const API_CACHE = "fieldproof-api";

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let staleSince = null;
const unauthorizedListeners = [];

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function me() {
  try {
    return JSON.parse(localStorage.getItem(ME_KEY) || "null");
  } catch {
    return null;
  }
}

// Who may capture: the roles the server gives uploads.write and items.register (server/auth.py PERMISSIONS).
const CAPTURE_ROLES = ["investigator", "evidence_officer"];

/** Whether the signed-in user may capture evidence (others are not offered the capture screen). */
export function mayCapture() {
  const who = me();
  return Boolean(who && CAPTURE_ROLES.includes(who.role));
}

// Who may read the campaign view: the roles the server gives campaign.read (server/auth.py PERMISSIONS).
const CAMPAIGN_ROLES = ["prosecutor", "unit_admin", "integration"];

/** Whether the signed-in user may open the campaign view (others are not offered it). */
export function mayReadCampaign() {
  const who = me();
  return Boolean(who && CAMPAIGN_ROLES.includes(who.role));
}

export function onUnauthorized(listener) {
  unauthorizedListeners.push(listener);
}

/** Tell the app that the server refused the token (for requests not sent through request(), e.g. tus). */
export function reportUnauthorized(error) {
  unauthorizedListeners.forEach((listener) => listener(error));
}

/** When the last render used cached answers: the oldest time they were saved, or null. */
export function takeStale() {
  const value = staleSince;
  staleSince = null;
  return value;
}

export async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error ? body.error : { code: String(response.status), message: response.statusText, details: {} };
  return new ApiError(response.status, error.code, error.message, error.details || {});
}

/** A request to the API; returns the Response when it is 2xx, throws ApiError otherwise. */
export async function request(path, { method = "GET", body, headers = {}, auth = true } = {}) {
  const sent = { Accept: "application/json", ...headers };
  const bearer = token();
  if (auth && bearer) sent.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (cause) {
    throw new ApiError(0, "network", cause && cause.message ? cause.message : "network error");
  }
  if (response.headers.get("X-Fieldproof-Cache") === "hit") {
    const saved = response.headers.get("X-Fieldproof-Cached-At");
    if (saved && (!staleSince || saved < staleSince)) staleSince = saved;
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (error.status === 401 && auth && bearer) unauthorizedListeners.forEach((listener) => listener(error));
    throw error;
  }
  return response;
}

export async function getJson(path) {
  const response = await request(path);
  return response.json();
}

export async function postJson(path, body) {
  const response = await request(path, { method: "POST", body: body === undefined ? {} : body });
  if (response.status === 204) return null;
  return response.json();
}

/** Every item of a paged list (docs/api.md "Lists"), up to maxPages pages of 500. */
export async function getAll(path, maxPages = 20) {
  const found = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const joiner = path.includes("?") ? "&" : "?";
    const query = `${joiner}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const answer = await getJson(path + query);
    found.push(...answer.items);
    cursor = answer.next;
    if (!cursor) break;
  }
  return found;
}

export async function logIn(username, password) {
  const response = await request("/auth/token", { method: "POST", body: { username, password }, auth: false });
  const answer = await response.json();
  await forgetCachedAnswers();
  localStorage.setItem(TOKEN_KEY, answer.access_token);
  const who = await getJson("/auth/me");
  localStorage.setItem(ME_KEY, JSON.stringify(who));
  return who;
}

export async function refreshMe() {
  const who = await getJson("/auth/me");
  localStorage.setItem(ME_KEY, JSON.stringify(who));
  return who;
}

/** Forget the token, the user and every cached API answer (another user of this phone must not see them). */
export async function logOut({ revoke = true } = {}) {
  if (revoke && token() && navigator.onLine) {
    try {
      await request("/auth/token", { method: "DELETE" });
    } catch {
      // the token is forgotten here anyway
    }
  }
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(ME_KEY);
  await forgetCachedAnswers();
}

async function forgetCachedAnswers() {
  if ("caches" in window) {
    try {
      await caches.delete(API_CACHE);
    } catch {
      // no cache storage (a private window): nothing cached
    }
  }
}

/** GET a file with the bearer token as a Blob, with the name from Content-Disposition. */
export async function getBlob(path) {
  const response = await request(path, { headers: { Accept: "*/*" } });
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : path.split("/").pop();
  return { blob: await response.blob(), name };
}
