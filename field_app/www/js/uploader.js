// The uploader: sends the outbox (outbox.js) to the server, oldest capture first.
//
// For each record: tus 1.0.0 upload (POST /api/v1/uploads with the browser's SHA-256 in Upload-Metadata, PATCH in
// CHUNK pieces, HEAD to find where to resume after a failure or a reload), then the server's Upload-Sha256 must
// equal the browser's hash; then POST /items (Idempotency-Key: the item id) → 已接收 received with the log index;
// then POST /items/{id}/verify → 已校验 verified. A network failure, 5xx, 423 or 507 only pauses the run (the
// record keeps its state and offset and is sent on the next run); a refusal that will not change marks the record
// 失败 failed with the reason in Chinese and English. 401: the app asks to log in again; the outbox stays.
//
// It runs when the page loads, on the `online` event, every RUN_EVERY_MS, after each capture and when the service
// worker relays a Background Sync (see sw.js). Never two at once: a Web Lock (navigator.locks) across tabs, and a
// flag within the page (a run asked for meanwhile runs again afterwards).

import { token, me, request, errorOf, reportUnauthorized } from "./api.js";
import { recordsOf, updateRecord, getRecord } from "./outbox.js";
import { hashBlob } from "./sha256.js";

export const CHUNK = 4 * 1024 * 1024;
export const RUN_EVERY_MS = 30_000;
const UPLOADS = "/api/v1/uploads";
const LOCK = "fieldproof-outbox-uploader";
const MAX_RESTARTS = 3;

/** Stop this run; the record keeps its state and is tried again on the next run. */
class Pause extends Error {}

/** A refusal that will not change by itself: the record ends failed with this reason. */
class Failure extends Error {
  constructor(zh, en, retryFrom = null) {
    super(en);
    this.zh = zh;
    this.en = en;
    this.retryFrom = retryFrom; // "upload", "register", "verify", or null when retrying makes no sense
  }
}

let running = null;
let again = false;

function b64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  bytes.forEach((byte) => {
    binary += String.fromCharCode(byte);
  });
  return btoa(binary);
}

async function tus(method, url, { headers = {}, body } = {}) {
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: { "Tus-Resumable": "1.0.0", Authorization: `Bearer ${token()}`, ...headers },
      body,
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new Pause("network");
  }
  if (response.status === 401) {
    reportUnauthorized(await errorOf(response));
    throw new Pause("unauthorized");
  }
  if (response.status === 423 || response.status === 507 || response.status >= 500) throw new Pause(`server ${response.status}`);
  return response;
}

async function unexpected(response, what) {
  const error = await errorOf(response);
  return new Failure(
    `${what.zh}：服务器答复 ${response.status}（${error.message}）`,
    `${what.en}: the server answered ${response.status} (${error.message})`,
    response.status === 403 ? null : "upload", // 403: this user's role may not upload (a prosecutor, say)
  );
}

async function mismatch(record, received) {
  const { sha256: now } = await hashBlob(record.blob);
  if (now !== record.sha256) {
    return new Failure(
      `SHA-256 不一致：本机保存的文件在采集后已被改动（现为 ${now.slice(0, 16)}…，采集时为 ${record.sha256.slice(0, 16)}…）。服务器拒收，未保存任何内容。`,
      `SHA-256 mismatch: the copy kept on this device changed after capture (now ${now.slice(0, 16)}…, at capture ${record.sha256.slice(0, 16)}…). The server refused it and kept nothing.`,
    );
  }
  return new Failure(
    `SHA-256 不一致：服务器收到的内容（${(received || "?").slice(0, 16)}…）与采集时的哈希（${record.sha256.slice(0, 16)}…）不符，可能是传输出错。服务器未保存，可重试。`,
    `SHA-256 mismatch: what the server received (${(received || "?").slice(0, 16)}…) does not match the hash at capture (${record.sha256.slice(0, 16)}…), perhaps a transfer error. Nothing was kept; it can be retried.`,
    "upload",
  );
}

/** tus: create or resume the upload and send every byte; returns the record with upload_complete. */
async function upload(record) {
  let url = record.upload_url;
  let offset = 0;
  let serverSha = null;
  if (url) {
    const head = await tus("HEAD", url);
    if (head.status === 200) {
      offset = Number(head.headers.get("Upload-Offset") || 0);
      serverSha = head.headers.get("Upload-Sha256");
    } else if (head.status === 404 || head.status === 410) {
      url = null; // expired, failed or terminated: start a new upload
    } else {
      throw await unexpected(head, { zh: "无法续传", en: "cannot resume the upload" });
    }
  }
  if (!url) {
    const restarts = (record.restarts || 0) + (record.upload_url ? 1 : 0);
    if (restarts > MAX_RESTARTS) {
      throw new Failure("服务器多次终止上传，已停止重试。", "The server ended the upload several times; stopped retrying.", "upload");
    }
    const created = await tus("POST", UPLOADS, {
      headers: {
        "Upload-Length": String(record.size),
        "Upload-Metadata": `sha256 ${b64(record.sha256)},filename ${b64(record.name)}`,
      },
    });
    if (created.status === 413) {
      const error = await errorOf(created);
      throw new Failure(`文件过大，服务器不接受（${error.message}）。`, `The file is too large for the server (${error.message}).`);
    }
    if (created.status !== 201) throw await unexpected(created, { zh: "无法创建上传", en: "cannot create the upload" });
    url = new URL(created.headers.get("Location"), new URL(UPLOADS, location.href)).href;
    offset = 0;
    record = await updateRecord(record.id, { upload_url: url, offset: 0, percent: 0, restarts, state: "uploading", error: null });
  } else if (record.state !== "uploading") {
    record = await updateRecord(record.id, { state: "uploading", error: null });
  }
  while (offset < record.size) {
    const answer = await tus("PATCH", url, {
      headers: { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(offset) },
      body: record.blob.slice(offset, Math.min(offset + CHUNK, record.size)),
    });
    if (answer.status === 204) {
      offset = Number(answer.headers.get("Upload-Offset"));
      serverSha = answer.headers.get("Upload-Sha256");
      record = await updateRecord(record.id, { offset, percent: Math.floor((offset / record.size) * 100), paused: null });
    } else if (answer.status === 409 && answer.headers.get("Upload-Offset") !== null) {
      offset = Number(answer.headers.get("Upload-Offset")); // the server has more (or less) than we thought
    } else if (answer.status === 460) {
      const error = await errorOf(answer);
      if (error.code === "sha256_mismatch") throw await mismatch(record, error.details && error.details.received);
      throw new Pause("checksum"); // a damaged request (we send no Upload-Checksum): send it again next run
    } else if (answer.status === 404 || answer.status === 410) {
      await updateRecord(record.id, { upload_url: null, offset: 0, percent: 0 });
      throw new Pause("gone");
    } else {
      throw await unexpected(answer, { zh: "上传被拒绝", en: "the upload was refused" });
    }
  }
  if (!serverSha) {
    const head = await tus("HEAD", url);
    serverSha = head.status === 200 ? head.headers.get("Upload-Sha256") : null;
  }
  if (serverSha !== record.sha256) {
    if (!serverSha) throw new Pause("no Upload-Sha256 yet");
    throw new Failure(
      `SHA-256 不一致：服务器计算为 ${serverSha}，浏览器采集时计算为 ${record.sha256}。未登记为证据。`,
      `SHA-256 mismatch: the server computed ${serverSha}, the browser computed ${record.sha256} at capture. Not registered as evidence.`,
    );
  }
  return updateRecord(record.id, { upload_complete: true, offset: record.size, percent: 100 });
}

function registration(record) {
  const body = {
    item_id: record.id,
    case_id: Number(record.case_id),
    upload_id: record.upload_url.split("/").pop(),
    kind: record.kind,
    media_type: record.media_type,
    name: record.name,
    captured_at: record.captured_at,
    time_source: "browser-clock",
    events: [],
  };
  if (record.location) body.location = record.location;
  if (record.visit_id) body.visit_id = Number(record.visit_id);
  return body;
}

async function register(record) {
  const body = record.register_body || registration(record);
  if (!record.register_body) record = await updateRecord(record.id, { register_body: body });
  let answer;
  try {
    const response = await request("/items", { method: "POST", body, headers: { "Idempotency-Key": record.id } });
    answer = await response.json();
  } catch (error) {
    if (error.status === 0 || error.status === 401 || error.status >= 500 || error.code === "offline") throw new Pause("register");
    const retryFrom = error.status === 409 || error.status === 403 ? null : "upload";
    throw new Failure(
      `登记证据被拒绝（${error.status}）：${error.message}`,
      `Registering the item was refused (${error.status}): ${error.message}`,
      retryFrom,
    );
  }
  return updateRecord(record.id, {
    state: "received",
    log_index: answer.item.log_index,
    receipt: answer.receipt,
    percent: 100,
    error: null,
    paused: null,
  });
}

async function verify(record) {
  let result;
  try {
    const response = await request(`/items/${encodeURIComponent(record.id)}/verify`, { method: "POST", body: {} });
    result = await response.json();
  } catch (error) {
    if (error.status === 403) return updateRecord(record.id, { verify_refused: true, paused: null }); // an investigator may not verify
    if (error.status === 0 || error.status === 401 || error.status >= 500 || error.code === "offline") throw new Pause("verify");
    throw new Failure(`校验请求被拒绝（${error.status}）：${error.message}`, `Verification was refused (${error.status}): ${error.message}`, "verify");
  }
  if (!result.valid) {
    const failed = (result.checks || []).filter((check) => !check.ok).map((check) => `${check.step}: ${check.detail}`);
    throw new Failure(`服务器校验未通过：${failed.join("；")}`, `The server's verification failed: ${failed.join("; ")}`, "verify");
  }
  return updateRecord(record.id, { state: "verified", verified_at: new Date().toISOString(), error: null, paused: null });
}

async function process(record) {
  try {
    if (record.state === "queued" || record.state === "uploading") {
      if (!record.upload_complete) record = await upload(record);
      record = await register(record);
    }
    if (record.state === "received" && !record.verify_refused) await verify(record);
  } catch (error) {
    if (error instanceof Failure) {
      await updateRecord(record.id, { state: "failed", error: { zh: error.zh, en: error.en }, retry_from: error.retryFrom });
      return;
    }
    throw error;
  }
}

async function drain() {
  const owner = me() && me().username;
  if (!token() || !owner || !navigator.onLine) return;
  for (const listed of await recordsOf(owner)) {
    if (!token()) return;
    const record = await getRecord(listed.id);
    if (!record || record.state === "verified" || record.state === "failed") continue;
    try {
      await process(record);
    } catch (error) {
      if (error instanceof Pause) {
        await updateRecord(record.id, { paused: error.message }).catch(() => {});
        requestBackgroundSync();
        return;
      }
      console.warn("outbox:", record.id, error); // an unexpected error: keep the record, try again next run
      return;
    }
  }
}

async function runOnce() {
  if (navigator.locks && navigator.locks.request) {
    await navigator.locks.request(LOCK, { ifAvailable: true }, async (lock) => {
      if (lock) await drain();
    });
  } else {
    await drain();
  }
}

/** Send what can be sent now. Returns when this run (and any run asked for meanwhile) is over. */
export function runUploader() {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    try {
      do {
        again = false;
        await runOnce();
      } while (again);
    } finally {
      running = null;
    }
  })();
  return running;
}

/** Put a failed record back in the queue, from the step where it failed. */
export async function retryRecord(id) {
  const record = await getRecord(id);
  if (!record || record.state !== "failed" || !record.retry_from) return;
  const changes = { error: null, retry_from: null };
  if (record.retry_from === "verify") Object.assign(changes, { state: "received" });
  else Object.assign(changes, { state: "queued", upload_complete: false, upload_url: null, offset: 0, percent: 0, register_body: null, restarts: 0 });
  await updateRecord(id, changes);
  runUploader();
}

/** Ask the service worker to wake us when the network is back (Background Sync, where the browser has it). */
export function requestBackgroundSync() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.ready
    .then((registration) => (registration.sync ? registration.sync.register("outbox") : null))
    .catch(() => {});
}

/** Start the uploader: now, when the network comes back, on a timer, and when the service worker asks. */
export function startUploader() {
  runUploader();
  window.addEventListener("online", () => runUploader());
  setInterval(() => runUploader(), RUN_EVERY_MS);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "outbox-sync") runUploader();
    });
  }
}
