// 采集证据 Capture, and 待传队列 the outbox.
//
// A capture is a photo, video or audio from the device (file inputs with `capture`), any chosen file, or a text
// note (a UTF-8 text/plain file of kind `note`). At capture time the app records the browser's position and its
// accuracy (or why there is none), the time on the browser's clock (UTC), and the SHA-256 computed here
// (sha256.js); the bytes and all of that go to the outbox in IndexedDB (outbox.js) before anything is sent. The
// uploader (uploader.js) sends them when it can.

import { h, facts, formatGivenTime, formatPlace, formatBytes, formatInstant } from "../dom.js";
import { t, label } from "../i18n.js";
import { getJson, getAll, me } from "../api.js";
import { addRecord, newItemId, recordsOf, CHANGED } from "../outbox.js";
import { hashBlob } from "../sha256.js";
import { runUploader, retryRecord, requestBackgroundSync } from "../uploader.js";
import { heading, errorBox } from "./common.js";

export const GEOLOCATION_TIMEOUT_MS = 15_000;

/** The browser's position now: { location } or { location: null, error: { code, message } }. */
export function locate() {
  return new Promise((resolve) => {
    if (!("geolocation" in navigator)) {
      resolve({ location: null, error: { code: "unsupported", message: "navigator.geolocation is not available" } });
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const { latitude, longitude, accuracy, altitude } = position.coords;
        const location = { lat: latitude, lon: longitude, accuracy_m: Math.round(accuracy * 10) / 10, source: "browser" };
        if (altitude !== null && altitude !== undefined) location.alt = altitude;
        location.fix_age_s = Math.max(0, Math.round((Date.now() - position.timestamp) / 100) / 10);
        resolve({ location, error: null });
      },
      (failure) => {
        const code = { 1: "denied", 2: "unavailable", 3: "timeout" }[failure.code] || "unavailable";
        resolve({ location: null, error: { code, message: failure.message || "" } });
      },
      { enableHighAccuracy: true, timeout: GEOLOCATION_TIMEOUT_MS, maximumAge: 30_000 },
    );
  });
}

function kindOf(mediaType) {
  if (mediaType.startsWith("image/")) return "photo";
  if (mediaType.startsWith("video/")) return "video";
  if (mediaType.startsWith("audio/")) return "audio";
  return "document";
}

function noPlaceText(error) {
  if (!error) return t("noPlace");
  return t("noPlaceBecause", { reason: t(`geo_${error.code}`) });
}

function stateText(record) {
  switch (record.state) {
    case "uploading":
      return t("stateUploading", { percent: record.percent || 0 });
    case "received":
      return t("stateReceived", { index: record.log_index });
    case "verified":
      return t("stateVerified", { index: record.log_index });
    case "failed":
      return t("stateFailed");
    default:
      return t("stateQueued");
  }
}

function outboxRow(record, { showCase }) {
  const reason = record.error
    ? h(
        "div",
        { class: "error failure-reason", role: "alert" },
        h("p", { lang: "zh-CN" }, record.error.zh),
        h("p", { lang: "en", class: "small" }, record.error.en),
      )
    : null;
  let retry = null;
  if (record.state === "failed" && record.retry_from) {
    retry = h("button", { type: "button", class: "secondary retry" }, t("retryUpload"));
    retry.addEventListener("click", () => {
      retry.disabled = true;
      retryRecord(record.id);
    });
  }
  const progress =
    record.state === "uploading"
      ? h("progress", { max: 100, value: record.percent || 0, "aria-label": t("uploadProgress", { name: record.name }) })
      : null;
  return h(
    "li",
    { class: `outbox-item state-${record.state}`, "data-item-id": record.id, "data-state": record.state },
    h("h3", {}, h("span", { class: "chip" }, label("kind", record.kind)), " ", record.name),
    h("p", { class: `outbox-state state-text-${record.state}` }, stateText(record)),
    progress,
    record.state === "received" && record.verify_refused ? h("p", { class: "small" }, t("verifyNeedsOfficer")) : null,
    record.paused && record.state !== "verified" && record.state !== "failed"
      ? h("p", { class: "small paused-note" }, t(record.paused === "unauthorized" ? "pausedLogin" : "pausedNote"))
      : null,
    reason,
    facts(
      [
        [t("itemId"), h("code", {}, record.id)],
        showCase ? [t("caseId"), h("a", { href: `#/cases/${record.case_id}` }, String(record.case_id))] : [null, null],
        [t("visit"), record.visit_id ? String(record.visit_id) : null],
        [t("sha256"), h("code", { class: "sha256", "data-sha256": record.sha256 }, record.sha256)],
        [t("hashMethod"), t(record.hash_method === "incremental" ? "hashIncremental" : "hashWebCrypto")],
        [t("size"), formatBytes(record.size)],
        [t("captured"), [formatGivenTime(record.captured_at), h("span", { class: "source" }, `${t("timeSource")}：${label("timeSource", "browser-clock")}`)]],
        [
          t("place"),
          record.location
            ? h("span", { class: "outbox-place" }, formatPlace(record.location), h("span", { class: "source" }, `${t("placeSource")}：${label("placeSource", "browser")}`))
            : h("span", { class: "muted outbox-no-place", "data-reason": record.location_error ? record.location_error.code : "" }, noPlaceText(record.location_error)),
        ],
      ].filter(([term]) => term !== null),
      "facts compact",
    ),
    retry,
  );
}

/** The outbox of the user (of one case, or all), kept up to date as the uploader works. */
export async function outboxList({ caseId = null, level = 2 } = {}) {
  const owner = me() && me().username;
  const list = h("ul", { class: "outbox", "aria-live": "polite" });
  const empty = h("p", { class: "muted outbox-empty" }, t("outboxEmpty"));
  const rows = new Map();
  const place = (record) => {
    const row = outboxRow(record, { showCase: caseId === null });
    const old = rows.get(record.id);
    if (old) old.replaceWith(row);
    else list.prepend(row); // newest first
    rows.set(record.id, row);
    empty.hidden = true;
  };
  for (const record of await recordsOf(owner, caseId)) place(record);
  empty.hidden = rows.size > 0;
  const onChange = (event) => {
    if (list.dataset.mounted && !list.isConnected) {
      window.removeEventListener(CHANGED, onChange); // the screen was left
      return;
    }
    const record = event.detail;
    if (record.owner !== owner || (caseId !== null && String(record.case_id) !== String(caseId))) return;
    place(record);
  };
  window.addEventListener(CHANGED, onChange);
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "outbox-title" },
    heading(caseId === null ? t("outbox") : t("outboxOfCase"), level, "outbox-title"),
    h("p", { class: "small" }, t("outboxIntro")),
    caseId === null ? null : h("p", {}, h("a", { href: "#/outbox" }, t("outboxAll"))),
    empty,
    list,
  );
  section.mount = () => {
    list.dataset.mounted = "true";
  };
  return section;
}

function fileField(id, text, attrs) {
  return h("div", { class: "field capture-field" }, h("label", { for: id }, text), h("input", { id, type: "file", ...attrs }));
}

export async function captureView(caseId) {
  let kase = null;
  let visits = [];
  let problem = null;
  try {
    [kase, visits] = await Promise.all([getJson(`/cases/${encodeURIComponent(caseId)}`), getAll(`/cases/${encodeURIComponent(caseId)}/visits`)]);
  } catch (error) {
    if (error.status === 401 || error.status === 403 || error.status === 404) throw error;
    problem = error; // offline and never opened: capture still works, without the visit list
  }
  const owner = me() && me().username;
  const status = h("div", { class: "capture-status", role: "status", "aria-live": "polite", id: "capture-status" });
  const visitSelect = h(
    "select",
    { id: "capture-visit", name: "visit" },
    h("option", { value: "" }, t("noVisitChosen")),
    visits.map((visit) => h("option", { value: String(visit.id) }, `${visit.id}：${formatInstant(visit.started_at)}${visit.note ? ` · ${visit.note}` : ""}`)),
  );
  const photo = fileField("capture-photo", t("capturePhoto"), { accept: "image/*", capture: "environment" });
  const video = fileField("capture-video", t("captureVideo"), { accept: "video/*", capture: "environment" });
  const audio = fileField("capture-audio", t("captureAudio"), { accept: "audio/*", capture: "user" });
  const any = fileField("capture-file", t("captureFile"), {});
  const noteText = h("textarea", { id: "capture-note", name: "note", rows: 5 });
  const noteButton = h("button", { type: "button", class: "primary", id: "save-note" }, t("saveNote"));
  const inputs = [photo, video, audio, any].map((field) => field.querySelector("input"));
  const controls = [...inputs, noteText, noteButton, visitSelect];

  const say = (...parts) => status.replaceChildren(...parts);

  const capture = async (blob, { kind, name, mediaType }) => {
    controls.forEach((control) => {
      control.disabled = true;
    });
    const capturedAt = new Date();
    const bar = h("progress", { max: 100, value: 0, "aria-label": t("hashing") });
    const line = h("p", {}, t("hashingAndLocating"));
    say(line, bar);
    try {
      const [hash, place] = await Promise.all([
        hashBlob(blob, {
          onProgress: (doneBytes, total) => {
            const percent = total ? Math.floor((doneBytes / total) * 100) : 100;
            bar.value = percent;
            line.textContent = `${t("hashingAndLocating")} ${percent}%`;
          },
        }),
        locate(),
      ]);
      const record = {
        id: newItemId(capturedAt),
        owner,
        case_id: Number(caseId),
        visit_id: visitSelect.value ? Number(visitSelect.value) : null,
        kind,
        name,
        media_type: mediaType,
        size: blob.size,
        sha256: hash.sha256,
        hash_method: hash.method,
        captured_at: capturedAt.toISOString(),
        location: place.location,
        location_error: place.error,
        blob,
        state: "queued",
        percent: 0,
        upload_url: null,
        offset: 0,
        log_index: null,
        error: null,
        created: capturedAt.toISOString(),
      };
      await addRecord(record);
      say(h("p", { class: "good" }, t("capturedOk", { name })), h("p", { class: "small" }, `SHA-256 ${hash.sha256}`));
      if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
      requestBackgroundSync();
      runUploader();
      return true;
    } catch (error) {
      say(errorBox(error));
      return false;
    } finally {
      controls.forEach((control) => {
        control.disabled = false;
      });
    }
  };

  const fileKinds = { "capture-photo": "photo", "capture-video": "video", "capture-audio": "audio", "capture-file": null };
  for (const input of inputs) {
    input.addEventListener("change", async () => {
      const files = [...input.files];
      for (const file of files) {
        const mediaType = file.type || "application/octet-stream";
        await capture(file, { kind: fileKinds[input.id] || kindOf(mediaType), name: file.name || "capture", mediaType });
      }
      input.value = "";
    });
  }
  noteButton.addEventListener("click", async () => {
    const text = noteText.value;
    if (!text.trim()) {
      say(h("p", { class: "error" }, t("noteEmpty")));
      noteText.focus();
      return;
    }
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    const blob = new Blob([new TextEncoder().encode(text)], { type: "text/plain;charset=utf-8" });
    if (await capture(blob, { kind: "note", name: `note-${stamp}.txt`, mediaType: "text/plain; charset=utf-8" })) noteText.value = "";
  });

  const outbox = await outboxList({ caseId: Number(caseId) });
  const form = h(
    "section",
    { class: "card capture-card", "aria-labelledby": "capture-form-title" },
    heading(t("captureForm"), 2, "capture-form-title"),
    h("p", { class: "small" }, t("captureIntro")),
    h("div", { class: "field" }, h("label", { for: "capture-visit" }, t("visitOptional")), visitSelect),
    h("div", { class: "capture-grid" }, photo, video, audio, any),
    h("div", { class: "field" }, h("label", { for: "capture-note" }, t("noteText")), noteText),
    noteButton,
    status,
  );
  const title = kase ? `${t("captureTitle")}：${kase.title}` : `${t("captureTitle")}：${t("caseId")} ${caseId}`;
  const view = h(
    "div",
    { class: "capture-page", "data-case-id": String(caseId) },
    h("p", { class: "crumbs" }, h("a", { href: `#/cases/${caseId}` }, `← ${t("backToCase")}`)),
    heading(title, 1, "capture-title"),
    problem ? h("p", { class: "note" }, t("captureNoCase")) : null,
    form,
    outbox,
  );
  view.afterMount = () => outbox.mount();
  return view;
}

export async function outboxView() {
  const outbox = await outboxList({ level: 1 });
  const view = h("div", { class: "outbox-page" }, outbox);
  view.afterMount = () => outbox.mount();
  return view;
}
