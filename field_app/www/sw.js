// The field app's service worker (scope /app/).
//
// - The app shell (every file under /app/, listed in SHELL) is pre-cached at install and served cache-first.
//   Change VERSION whenever a file changes: the server sends sw.js with Cache-Control: no-cache, so browsers see
//   the new version on their next visit, install it and drop the old shell.
// - GET /api/v1/... is network-first: each good answer (2xx) is kept, and when the network fails the last good
//   answer is served, marked "X-Fieldproof-Cache: hit" with the time it was saved. Without one: 503 "offline".
//   The page deletes this cache at login and logout (the cache is per URL, not per user).
// - Items' bytes and court packages (and any other request) are never cached.
// - Background Sync: the page registers the tag "outbox" when captures wait for the network. When the browser fires
//   `sync`, this worker asks every open window of the app to run its uploader (postMessage {type: "outbox-sync"}).
//   The worker does not upload by itself (it would need the token and the IndexedDB outbox logic twice): with no
//   window of the app open, nothing is sent until the app is opened again.

const VERSION = "fieldproof-app-2026-11-29.5-campaign";
const SHELL_CACHE = `${VERSION}-shell`;
const API_CACHE = "fieldproof-api";
const SHELL = [
  "./",
  "index.html",
  "styles.css",
  "manifest.webmanifest",
  "sw.js",
  "icons/icon.svg",
  "icons/icon-192.png",
  "icons/icon-512.png",
  "js/api.js",
  "js/app.js",
  "js/chart.js",
  "js/config.js",
  "js/dom.js",
  "js/gcj02.js",
  "js/i18n.js",
  "js/map.js",
  "js/outbox.js",
  "js/sha256.js",
  "js/uploader.js",
  "js/views/campaign.js",
  "js/views/case.js",
  "js/views/capture.js",
  "js/views/cases.js",
  "js/views/common.js",
  "js/views/login.js",
  "js/views/verify.js",
];
const NEVER_CACHED = [/\/items\/[^/]+\/content$/, /\/cases\/[^/]+\/package$/, /^\/api\/v1\/uploads/, /^\/api\/v1\/auth\/token$/];

const scopePath = new URL(self.registration.scope).pathname;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL_CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name.endsWith("-shell") && name !== SHELL_CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/v1/")) {
    if (NEVER_CACHED.some((pattern) => pattern.test(url.pathname))) return;
    event.respondWith(networkFirst(request));
    return;
  }
  if (url.pathname === `${scopePath}config.json`) {
    event.respondWith(networkFirst(request)); // the server's settings: fresh when online, the last ones offline
    return;
  }
  if (url.pathname.startsWith(scopePath)) event.respondWith(cacheFirst(request));
});

async function cacheFirst(request) {
  const cache = await caches.open(SHELL_CACHE);
  const hit = await cache.match(request, { ignoreSearch: true });
  if (hit) return hit;
  if (request.mode === "navigate") {
    const page = await cache.match("./");
    if (page) return page;
  }
  const response = await fetch(request);
  if (response.ok && response.type === "basic") await cache.put(request, response.clone());
  return response;
}

async function networkFirst(request) {
  const cache = await caches.open(API_CACHE);
  let response;
  try {
    response = await fetch(request);
  } catch {
    const saved = await cache.match(request, { ignoreVary: true });
    if (saved) {
      const headers = new Headers(saved.headers);
      headers.set("X-Fieldproof-Cache", "hit");
      return new Response(saved.body, { status: saved.status, statusText: saved.statusText, headers });
    }
    const body = { error: { code: "offline", message: "offline, and this answer was never saved on this device", details: {} } };
    return new Response(JSON.stringify(body), {
      status: 503,
      headers: { "Content-Type": "application/json", "X-Fieldproof-Cache": "miss" },
    });
  }
  if (response.ok) {
    const headers = new Headers(response.headers);
    headers.set("X-Fieldproof-Cached-At", new Date().toISOString());
    const copy = new Response(await response.clone().blob(), { status: response.status, statusText: response.statusText, headers });
    await cache.put(request, copy);
  }
  return response;
}

self.addEventListener("sync", (event) => {
  if (event.tag !== "outbox") return;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      windows.forEach((client) => client.postMessage({ type: "outbox-sync" }));
    }),
  );
});
