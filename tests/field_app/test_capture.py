"""Capture in the field app: the SHA-256 computed in the browser, the IndexedDB outbox that survives reloads, being
offline and a browser restart, and the uploader (tus, registration, verification) that sends it by itself when the
network is back; a copy changed after capture ends failed and never reaches the server."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Locator, Page, Playwright, Route, expect

from tests.field_app.conftest import CHROMIUM, GEOLOCATION, PASSWORDS, Seeded, log_in, screenshot, watch

ITEM_ID = re.compile(r"^APP-[0-9a-f]{8}-\d{8}T\d{9}Z$")
SERVER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
UPLOADED = 90_000  # ms: upload, registration and verification of a capture (a 33 MiB one included)
WEB_CRYPTO_LIMIT = 32 * 1024 * 1024

STORED_RECORD = """async (id) => {
  const db = await new Promise((ok, no) => {
    const opening = indexedDB.open("fieldproof-outbox");
    opening.onsuccess = () => ok(opening.result);
    opening.onerror = () => no(opening.error);
  });
  const record = await new Promise((ok, no) => {
    const reading = db.transaction("items").objectStore("items").get(id);
    reading.onsuccess = () => ok(reading.result);
    reading.onerror = () => no(reading.error);
  });
  db.close();
  const { blob, receipt, register_body, ...rest } = record;
  return { ...rest, blob_size: blob.size, blob_type: blob.type };
}"""

TAMPER = """async (id) => {
  const open = () => new Promise((ok, no) => {
    const opening = indexedDB.open("fieldproof-outbox");
    opening.onsuccess = () => ok(opening.result);
    opening.onerror = () => no(opening.error);
  });
  const db = await open();
  const record = await new Promise((ok, no) => {
    const reading = db.transaction("items").objectStore("items").get(id);
    reading.onsuccess = () => ok(reading.result);
    reading.onerror = () => no(reading.error);
  });
  const bytes = new Uint8Array(await record.blob.arrayBuffer());
  bytes[bytes.length >> 1] ^= 0xff;
  record.blob = new Blob([bytes], { type: record.blob.type });
  await new Promise((ok, no) => {
    const writing = db.transaction("items", "readwrite");
    writing.objectStore("items").put(record);
    writing.oncomplete = () => ok();
    writing.onerror = () => no(writing.error);
  });
  db.close();
  return bytes.length;
}"""

VECTORS = """async () => {
  const { Sha256, hashBlob } = await import("./js/sha256.js");
  const text = (value) => new TextEncoder().encode(value);
  const one = (bytes) => new Sha256().update(bytes).hex();
  const million = new Uint8Array(1000000).fill(97);
  const pieces = new Sha256();
  for (let i = 0; i < million.length; i += 4093) pieces.update(million.subarray(i, i + 4093));
  const random = new Uint8Array(300007);
  for (let i = 0; i < random.length; i += 65536) crypto.getRandomValues(random.subarray(i, i + 65536));
  const raw = new Uint8Array(await crypto.subtle.digest("SHA-256", random));
  const subtle = Array.from(raw, (b) => b.toString(16).padStart(2, "0")).join("");
  const chunked = await hashBlob(new Blob([random]), { limit: 0, chunk: 1000 });
  return {
    empty: one(text("")),
    abc: one(text("abc")),
    nist448: one(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
    million: pieces.hex(),
    million_at_once: one(million),
    random_js: one(random),
    random_chunked: chunked.sha256,
    random_chunked_method: chunked.method,
    random_subtle: subtle,
  };
}"""


@pytest.fixture
def located(located_context: BrowserContext) -> Iterator[Page]:
    """A page with geolocation granted, failing the test on a script error or a CSP violation."""
    page = located_context.new_page()
    problems = watch(page)
    yield page
    assert problems == []


def jpeg(path: Path, colour: tuple[int, int, int] = (40, 120, 90)) -> bytes:
    """A real JPEG written by Pillow; returns its bytes."""
    image = Image.new("RGB", (320, 240), colour)
    for x in range(0, 320, 8):
        for y in range(0, 240, 8):
            image.putpixel((x, y), ((x * 7) % 256, (y * 5) % 256, (x + y) % 256))
    image.save(path, "JPEG", quality=90)
    return path.read_bytes()


def open_capture(page: Page, seeded: Seeded, username: str = "chen") -> None:
    """Log in, let the service worker take the page, open the case and its capture screen (so both are cached)."""
    log_in(page, seeded, username)
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.goto(f"{seeded.app}#/cases/{seeded.case_id}")
    expect(page.get_by_role("heading", name=seeded.case["title"], level=1)).to_be_visible()
    page.get_by_role("link", name="采集证据").first.click()
    expect(page.get_by_role("heading", name=f"采集证据：{seeded.case['title']}", level=1)).to_be_visible()
    expect(page.locator("#capture-visit option")).to_have_count(2)  # none, and the seeded visit


def stored(page: Page, item_id: str) -> dict[str, Any]:
    record: dict[str, Any] = page.evaluate(STORED_RECORD, item_id)
    return record


def only_row(page: Page) -> tuple[Locator, str]:
    row = page.locator(".outbox-item")
    expect(row).to_have_count(1)
    item_id = row.get_attribute("data-item-id")
    assert item_id is not None
    assert ITEM_ID.match(item_id), item_id
    assert SERVER_ID.match(item_id), item_id
    return row, item_id


def row_of(page: Page, item_id: str) -> Locator:
    return page.locator(f'.outbox-item[data-item-id="{item_id}"]')


def check_server_item(seeded: Seeded, item_id: str, content: bytes, kind: str) -> dict[str, Any]:
    answer = seeded.server.api("GET", f"/items/{item_id}")
    assert answer.status_code == 200, answer.text
    item: dict[str, Any] = answer.json()
    assert item["sha256"] == hashlib.sha256(content).hexdigest()
    assert item["size"] == len(content)
    assert item["kind"] == kind
    assert item["case_id"] == seeded.case_id
    assert item["time_source"] == "browser-clock"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", item["captured_at"]), item["captured_at"]
    custody = seeded.server.api("GET", f"/items/{item_id}/custody").json()
    actions = [entry["event"]["action"] for entry in custody]
    assert actions[0] == "received"
    assert "verified" in actions
    assert item["log_index"] == custody[0]["log_index"]
    return item


def check_browser_place(item: dict[str, Any]) -> None:
    location = item["location"]
    assert location["source"] == "browser"
    assert location["accuracy_m"] == GEOLOCATION["accuracy"]
    assert location["lat"] == pytest.approx(GEOLOCATION["latitude"])
    assert location["lon"] == pytest.approx(GEOLOCATION["longitude"])


def test_a_photo_captured_offline_waits_in_the_outbox_and_uploads_itself_when_online(
    located: Page, seeded: Seeded, tmp_path: Path
) -> None:
    page = located
    content = jpeg(tmp_path / "排污口-01.jpg")
    digest = hashlib.sha256(content).hexdigest()
    open_capture(page, seeded)
    visit_id = page.locator("#capture-visit option").nth(1).get_attribute("value")
    assert visit_id
    page.get_by_label("关联现场勘查（可选）").select_option(visit_id)

    page.context.set_offline(True)
    expect(page.locator("#offline-banner")).to_be_visible()
    page.get_by_label("拍照").set_input_files(tmp_path / "排污口-01.jpg")
    row, item_id = only_row(page)
    expect(row).to_have_attribute("data-state", "queued")
    expect(row.locator(".outbox-state")).to_have_text("排队")
    expect(row.locator(".sha256")).to_have_text(digest)
    expect(row.locator(".outbox-place")).to_contain_text("浏览器定位")
    expect(row.locator(".outbox-place")).to_contain_text("精度 ±8 米")
    expect(page.locator("#capture-status")).to_contain_text(digest)
    record = stored(page, item_id)
    assert record["sha256"] == digest
    assert record["hash_method"] == "web-crypto"
    assert record["blob_size"] == len(content)
    assert record["blob_type"] == "image/jpeg"
    assert record["kind"] == "photo"
    assert record["name"] == "排污口-01.jpg"
    assert record["case_id"] == seeded.case_id
    assert record["visit_id"] == int(visit_id)
    assert record["owner"] == "chen"
    assert record["state"] == "queued"
    assert record["location"]["source"] == "browser"
    assert record["location"]["accuracy_m"] == GEOLOCATION["accuracy"]
    assert record["location_error"] is None
    assert record["captured_at"].endswith("Z")
    screenshot(page, "capture")

    page.reload()  # offline: the shell comes from the service worker, the outbox from IndexedDB
    expect(page.get_by_role("heading", name=f"采集证据：{seeded.case['title']}", level=1)).to_be_visible()
    expect(row_of(page, item_id)).to_have_attribute("data-state", "queued")
    expect(row_of(page, item_id).locator(".sha256")).to_have_text(digest)
    assert stored(page, item_id)["state"] == "queued"

    page.context.set_offline(False)  # no click: the `online` event starts the uploader
    row = row_of(page, item_id)
    expect(row).to_have_attribute("data-state", "verified", timeout=UPLOADED)
    item = check_server_item(seeded, item_id, content, "photo")
    expect(row.locator(".outbox-state")).to_have_text(f"已校验（日志序号 {item['log_index']}）")
    check_browser_place(item)
    assert item["visit_id"] == int(visit_id)
    assert item["name"] == "排污口-01.jpg"
    assert item["media_type"] == "image/jpeg"
    assert item["geofence"]["status"] == "inside"
    assert item["registered_by"] == "chen"
    record = stored(page, item_id)
    assert record["log_index"] == item["log_index"]
    assert record["upload_url"].startswith(f"{seeded.server.url}/api/v1/uploads/")
    assert record["offset"] == len(content)


def launch_profile(playwright_driver: Playwright, profile: Path) -> BrowserContext:
    context = playwright_driver.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        args=["--no-sandbox"],
        locale="zh-CN",
        viewport={"width": 1200, "height": 900},
        service_workers="allow",
        geolocation=GEOLOCATION,
        permissions=["geolocation"],
    )
    context.set_default_timeout(30_000)
    return context


def test_the_outbox_survives_a_browser_restart(playwright_driver: Playwright, seeded: Seeded, tmp_path: Path) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM}")
    profile = tmp_path / "profile"
    content = jpeg(tmp_path / "DSC-restart.jpg", colour=(150, 60, 30))
    first = launch_profile(playwright_driver, profile)
    try:
        page = first.pages[0] if first.pages else first.new_page()
        problems = watch(page)
        open_capture(page, seeded)
        first.set_offline(True)
        page.get_by_label("选择文件").set_input_files(tmp_path / "DSC-restart.jpg")
        row, item_id = only_row(page)
        expect(row).to_have_attribute("data-state", "queued")
        assert stored(page, item_id)["sha256"] == hashlib.sha256(content).hexdigest()
        assert problems == []
    finally:
        first.close()

    second = launch_profile(playwright_driver, profile)
    try:
        second.set_offline(True)
        page = second.pages[0] if second.pages else second.new_page()
        problems = watch(page)
        page.goto(f"{seeded.app}#/outbox")  # offline, after a restart: the service worker serves the app
        expect(page.get_by_role("heading", name="待传队列", level=1)).to_be_visible()
        row = row_of(page, item_id)
        expect(row).to_have_attribute("data-state", "queued")
        assert stored(page, item_id)["blob_size"] == len(content)
        second.set_offline(False)
        expect(row_of(page, item_id)).to_have_attribute("data-state", "verified", timeout=UPLOADED)
        item = check_server_item(seeded, item_id, content, "photo")
        check_browser_place(item)
        assert problems == []
    finally:
        second.close()


def test_a_text_note_is_uploaded_as_a_note_item(located: Page, seeded: Seeded) -> None:
    page = located
    text = "2026年11月29日 洛河1号排污口：出水呈黄褐色，有刺鼻气味。\nColour brownish, strong smell.\n"
    open_capture(page, seeded)
    page.get_by_label("笔记内容").fill(text)
    page.get_by_role("button", name="保存笔记").click()
    row, item_id = only_row(page)
    expect(row).to_have_attribute("data-state", "verified", timeout=UPLOADED)
    expect(page.get_by_label("笔记内容")).to_have_value("")
    content = text.encode("utf-8")
    expect(row.locator(".sha256")).to_have_text(hashlib.sha256(content).hexdigest())
    item = check_server_item(seeded, item_id, content, "note")
    assert item["media_type"].startswith("text/plain")
    assert re.fullmatch(r"note-\d{8}T\d{6}Z\.txt", item["name"]), item["name"]
    check_browser_place(item)
    body = seeded.server.api("GET", f"/items/{item_id}/content")
    assert body.content == content


def test_a_copy_changed_after_capture_is_refused_and_marked_failed(
    located: Page, seeded: Seeded, tmp_path: Path
) -> None:
    page = located
    content = jpeg(tmp_path / "tampered.jpg", colour=(200, 200, 30))
    open_capture(page, seeded)
    page.context.set_offline(True)
    expect(page.locator("#offline-banner")).to_be_visible()
    page.get_by_label("笔记内容").fill("取样瓶编号 LH-07，已封存。")
    page.get_by_role("button", name="保存笔记").click()
    expect(page.locator(".outbox-item")).to_have_count(1)
    note_id = page.locator(".outbox-item").get_attribute("data-item-id")
    assert note_id is not None
    page.get_by_label("拍照").set_input_files(tmp_path / "tampered.jpg")
    expect(page.locator(".outbox-item")).to_have_count(2)
    photo = page.locator('.outbox-item:not([data-item-id="' + note_id + '"])')
    photo_id = photo.get_attribute("data-item-id")
    assert photo_id is not None
    expect(photo).to_have_attribute("data-state", "queued")
    digest = hashlib.sha256(content).hexdigest()
    assert stored(page, photo_id)["sha256"] == digest

    assert page.evaluate(TAMPER, photo_id) == len(content)
    record = stored(page, photo_id)
    assert record["sha256"] == digest  # the hash recorded at capture is kept
    assert record["blob_size"] == len(content)

    page.context.set_offline(False)
    failed = row_of(page, photo_id)
    expect(failed).to_have_attribute("data-state", "failed", timeout=UPLOADED)
    expect(row_of(page, note_id)).to_have_attribute("data-state", "verified", timeout=UPLOADED)
    reason = failed.locator(".failure-reason")
    expect(reason).to_contain_text("SHA-256 不一致")
    expect(reason).to_contain_text("本机保存的文件在采集后已被改动")
    expect(reason).to_contain_text("SHA-256 mismatch")
    expect(reason).to_contain_text("changed after capture")
    expect(failed.locator(".outbox-state")).to_have_text("失败")
    expect(failed.get_by_role("button", name="重试")).to_have_count(0)  # the same bytes would fail again
    assert stored(page, photo_id)["state"] == "failed"
    assert seeded.server.api("GET", f"/items/{photo_id}").status_code == 404
    assert seeded.server.api("GET", f"/items/{note_id}").status_code == 200
    page.get_by_role("link", name="待传队列").click()
    expect(page.get_by_role("heading", name="待传队列", level=1)).to_be_visible()
    expect(page.locator(".outbox-item")).to_have_count(2)
    screenshot(page, "capture-outbox")


def test_the_javascript_sha256_matches_the_known_vectors(located: Page, seeded: Seeded) -> None:
    page = located
    page.goto(seeded.app)
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    found = page.evaluate(VECTORS)
    assert found["empty"] == hashlib.sha256(b"").hexdigest()
    assert found["empty"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert found["abc"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert found["nist448"] == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    assert found["million"] == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    assert found["million_at_once"] == found["million"]
    assert found["random_js"] == found["random_subtle"]
    assert found["random_chunked"] == found["random_subtle"]
    assert found["random_chunked_method"] == "incremental"


def test_a_file_above_the_web_crypto_limit_is_hashed_in_chunks(located: Page, seeded: Seeded, tmp_path: Path) -> None:
    page = located
    big = tmp_path / "现场录像-大文件.bin"
    content = os.urandom(WEB_CRYPTO_LIMIT + 1024 * 1024 + 12345)
    big.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    open_capture(page, seeded)
    page.context.set_offline(True)  # hash and queue first, then watch it go up in 4 MiB pieces
    page.get_by_label("选择文件").set_input_files(big)
    row, item_id = only_row(page)
    expect(row.locator(".sha256")).to_have_text(digest)
    record = stored(page, item_id)
    assert record["hash_method"] == "incremental"
    assert record["sha256"] == digest
    assert record["size"] == len(content)
    assert record["kind"] == "document"
    expect(row).to_contain_text("浏览器分块计算")
    page.context.set_offline(False)
    expect(row_of(page, item_id)).to_have_attribute("data-state", "verified", timeout=UPLOADED)
    item = check_server_item(seeded, item_id, content, "document")
    assert item["media_type"] == "application/octet-stream"


def outbox_size(page: Page) -> int:
    size: int = page.evaluate(
        """() => new Promise((ok, no) => {
  const opening = indexedDB.open("fieldproof-outbox");
  opening.onerror = () => no(opening.error);
  opening.onsuccess = () => {
    const counting = opening.result.transaction("items").objectStore("items").count();
    counting.onsuccess = () => { opening.result.close(); ok(counting.result); };
    counting.onerror = () => no(counting.error);
  };
})"""
    )
    return size


def test_an_investigators_capture_is_received_and_kept_for_its_owner_only(located: Page, seeded: Seeded) -> None:
    page = located
    open_capture(page, seeded, "wang")
    page.get_by_label("笔记内容").fill("王磊现场笔记：排污口旁发现暗管。")
    page.get_by_role("button", name="保存笔记").click()
    row, item_id = only_row(page)
    # an investigator may upload and register, not verify (items.verify): the item stays received
    expect(row).to_have_attribute("data-state", "received", timeout=UPLOADED)
    item = seeded.server.api("GET", f"/items/{item_id}").json()
    expect(row.locator(".outbox-state")).to_have_text(f"已接收（日志序号 {item['log_index']}）")
    expect(row).to_contain_text("重新校验需由证据管理员")
    assert item["registered_by"] == "wang"
    assert item["kind"] == "note"

    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert outbox_size(page) == 1  # evidence is never dropped at logout
    log_in(page, seeded, "chen")
    page.get_by_role("link", name="待传队列").click()
    expect(page.get_by_role("heading", name="待传队列", level=1)).to_be_visible()
    expect(page.locator(".outbox-empty")).to_be_visible()
    expect(page.locator(".outbox-item")).to_have_count(0)  # wang's capture is not shown to chen
    page.get_by_role("button", name="退出登录").click()
    log_in(page, seeded, "wang")
    page.get_by_role("link", name="待传队列").click()
    expect(row_of(page, item_id)).to_have_attribute("data-state", "received")


def test_an_expired_login_keeps_the_outbox_and_it_is_sent_after_logging_in_again(
    located: Page, seeded: Seeded, tmp_path: Path
) -> None:
    page = located
    content = jpeg(tmp_path / "relogin.jpg", colour=(10, 30, 200))
    open_capture(page, seeded)
    page.context.set_offline(True)
    page.get_by_label("拍照").set_input_files(tmp_path / "relogin.jpg")
    row, item_id = only_row(page)
    expect(row).to_have_attribute("data-state", "queued")
    token = page.evaluate("localStorage.getItem('fieldproof.token')")
    revoked = seeded.server.api("DELETE", "/auth/token", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code in {200, 204}, revoked.text

    page.context.set_offline(False)  # the server now answers 401: log in again, the capture stays
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text("登录已失效，请重新登录。")
    assert stored(page, item_id)["state"] in {"queued", "uploading"}
    assert seeded.server.api("GET", f"/items/{item_id}").status_code == 404
    page.get_by_label("用户名").fill("chen")
    page.get_by_label("密码").fill(PASSWORDS["chen"])
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的案件")).to_be_visible()
    page.get_by_role("link", name="待传队列").click()
    expect(row_of(page, item_id)).to_have_attribute("data-state", "verified", timeout=UPLOADED)
    check_server_item(seeded, item_id, content, "photo")


def test_an_interrupted_upload_resumes_where_it_stopped(located: Page, seeded: Seeded, tmp_path: Path) -> None:
    page = located
    chunk = 4 * 1024 * 1024
    content = os.urandom(2 * chunk + 54321)
    (tmp_path / "录音-长.m4a").write_bytes(content)
    sent: list[tuple[str, str | None]] = []

    def cut_the_second_patch(route: Route) -> None:
        request = route.request
        sent.append((request.method, request.headers.get("upload-offset")))
        if request.method == "PATCH" and sum(1 for method, _ in sent if method == "PATCH") == 2:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.context.route("**/api/v1/uploads**", cut_the_second_patch)
    open_capture(page, seeded)
    page.get_by_label("录音").set_input_files(tmp_path / "录音-长.m4a")
    row, item_id = only_row(page)
    expect(row).to_have_attribute("data-state", "uploading", timeout=UPLOADED)
    expect(row.locator(".outbox-state")).to_have_text(f"上传中 {chunk * 100 // len(content)}%")
    expect(row.locator(".paused-note")).to_contain_text("将自动续传")
    record = stored(page, item_id)
    assert record["offset"] == chunk
    assert record["kind"] == "audio"
    screenshot(page, "capture-uploading")

    page.reload()  # the uploader runs at load: HEAD, then the rest from the server's offset
    expect(row_of(page, item_id)).to_have_attribute("data-state", "verified", timeout=UPLOADED)
    assert stored(page, item_id)["upload_url"] == record["upload_url"]  # the same upload, resumed
    assert [method for method, _ in sent].count("POST") == 1
    resumed = sent[sent.index(("PATCH", str(chunk))) + 1 :]
    assert resumed[0] == ("HEAD", None)
    assert ("PATCH", str(chunk)) in resumed
    assert ("PATCH", str(2 * chunk)) in resumed
    assert ("PATCH", "0") not in resumed
    check_server_item(seeded, item_id, content, "audio")


def test_a_failed_registration_can_be_retried(located: Page, seeded: Seeded) -> None:
    page = located
    refusal = {"error": {"code": "invalid", "message": "the case is being moved, try again", "details": {}}}

    def refuse_registration(route: Route) -> None:
        if route.request.method == "POST":
            route.fulfill(status=422, json=refusal)
        else:
            route.continue_()

    page.context.route("**/api/v1/items", refuse_registration)
    open_capture(page, seeded)
    page.get_by_label("笔记内容").fill("重试测试笔记")
    page.get_by_role("button", name="保存笔记").click()
    row, item_id = only_row(page)
    expect(row).to_have_attribute("data-state", "failed", timeout=UPLOADED)
    expect(row.locator(".failure-reason")).to_contain_text("登记证据被拒绝（422）：the case is being moved, try again")
    expect(row.locator(".failure-reason")).to_contain_text("Registering the item was refused (422)")
    assert seeded.server.api("GET", f"/items/{item_id}").status_code == 404

    page.context.unroute("**/api/v1/items", refuse_registration)
    retry = row.get_by_role("button", name="重试")
    retry.focus()
    page.keyboard.press("Enter")
    expect(row_of(page, item_id)).to_have_attribute("data-state", "verified", timeout=UPLOADED)
    check_server_item(seeded, item_id, "重试测试笔记".encode(), "note")
