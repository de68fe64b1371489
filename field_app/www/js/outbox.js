// 待传队列 The outbox: every capture, with its bytes (the File or Blob itself), kept in IndexedDB until the server has
// it. Records are never deleted by the app: evidence is not dropped silently, not even at logout (each record names
// its owner, and only the owner's records are shown and sent).
//
// Record: id (the item id, APP-<8 hex>-<UTC time>), owner, case_id, visit_id, kind, name, media_type, size, sha256,
// hash_method, captured_at, location or location_error, blob, state (queued, uploading, received, verified,
// failed), percent, upload_url, offset, log_index, error {zh, en}, retryable, register_body, created, updated.

export const DB_NAME = "fieldproof-outbox";
export const STORE = "items";
export const CHANGED = "outbox-change";

let opening = null;

export function openOutbox() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        const store = request.result.createObjectStore(STORE, { keyPath: "id" });
        store.createIndex("owner", "owner");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    opening.catch(() => {
      opening = null;
    });
  }
  return opening;
}

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function finished(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error || new Error("IndexedDB transaction aborted"));
  });
}

function announce(record) {
  window.dispatchEvent(new CustomEvent(CHANGED, { detail: record }));
}

export async function addRecord(record) {
  const db = await openOutbox();
  const transaction = db.transaction(STORE, "readwrite");
  transaction.objectStore(STORE).add(record);
  await finished(transaction);
  announce(record);
  return record;
}

export async function getRecord(id) {
  const db = await openOutbox();
  return done(db.transaction(STORE).objectStore(STORE).get(id));
}

/** Change some fields of a record (read and written in one transaction, so other fields, the blob, stay as stored). */
export async function updateRecord(id, changes) {
  const db = await openOutbox();
  const transaction = db.transaction(STORE, "readwrite");
  const store = transaction.objectStore(STORE);
  let updated = null;
  const read = store.get(id);
  read.onsuccess = () => {
    if (!read.result) return;
    updated = { ...read.result, ...changes, updated: new Date().toISOString() };
    store.put(updated);
  };
  await finished(transaction);
  if (updated) announce(updated);
  return updated;
}

/** The records of one user, oldest first (optionally of one case). */
export async function recordsOf(owner, caseId = null) {
  if (!owner) return [];
  const db = await openOutbox();
  const all = await done(db.transaction(STORE).objectStore(STORE).index("owner").getAll(owner));
  return all
    .filter((record) => caseId === null || String(record.case_id) === String(caseId))
    .sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
}

/** A new item id: APP-<8 random hex digits>-<UTC time>, e.g. APP-3f2a9c01-20261129T083015123Z. */
export function newItemId(now = new Date()) {
  const random = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0")).join("");
  const stamp = now.toISOString().replace(/[-:.]/g, "");
  return `APP-${random}-${stamp}`;
}
