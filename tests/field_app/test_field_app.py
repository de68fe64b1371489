"""The field app in Chromium against a live server with a synced case: login, the case list, the map, the evidence
list with hashes and custody, verification, the language switch, and working offline from the service worker."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, Page, expect

from field_app import WWW
from tests.field_app.conftest import PASSWORDS, Seeded, log_in, screenshot


def open_case(page: Page, seeded: Seeded) -> None:
    page.locator(f'.case-card[data-case-id="{seeded.case_id}"] a').click()
    expect(page.get_by_role("heading", name=seeded.case["title"], level=1)).to_be_visible()
    expect(page.locator(".item")).to_have_count(len(seeded.items))


def test_login_refuses_a_wrong_password_in_chinese_and_accepts_the_right_one(watched: Page, seeded: Seeded) -> None:
    page = watched
    page.goto(seeded.app)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_label("用户名").fill("wang")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误，请重新输入。")
    expect(page.locator("#login-error")).to_be_visible()
    screenshot(page, "login")

    page.get_by_label("密码").fill(PASSWORDS["wang"])
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的案件")).to_be_visible()
    who = page.locator(".who")
    expect(who).to_contain_text("王磊")
    expect(who).to_contain_text("洛阳市人民检察院")
    expect(who).to_contain_text("调查人员")
    assert page.evaluate("localStorage.getItem('fieldproof.token')")

    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert page.evaluate("localStorage.getItem('fieldproof.token')") is None


def test_the_case_list_shows_the_seeded_case(watched: Page, seeded: Seeded) -> None:
    page = watched
    log_in(page, seeded, "zhao")
    card = page.locator(f'.case-card[data-case-id="{seeded.case_id}"]')
    expect(card).to_contain_text(seeded.case["title"])
    expect(card).to_contain_text(seeded.case["number"])
    expect(card.locator(".stage")).to_have_text("调查取证")
    expect(card).to_contain_text("水污染")
    expect(card).to_contain_text("民事公益诉讼")
    screenshot(page, "cases")


def test_the_map_has_one_point_per_item_with_a_place(watched: Page, seeded: Seeded) -> None:
    page = watched
    log_in(page, seeded, "zhao")
    open_case(page, seeded)
    located = seeded.located()
    assert located, "the synced photos carry EXIF GPS places"
    points = page.locator("svg.map .evidence-point")
    expect(points).to_have_count(len(located))
    shown = points.evaluate_all("points => points.map(p => p.dataset.itemId)")
    assert sorted(shown) == sorted(item["id"] for item in located)
    expect(page.locator("svg.map .geofence")).to_have_count(1)
    for item in located:
        drawn_as = "inside" if item["geofence"]["status"] == "inside" else "outside"
        expect(page.locator(f'.evidence-point[data-item-id="{item["id"]}"]')).to_have_class(
            re.compile(rf"\b{drawn_as}\b")
        )
    expect(page.locator(".chart-figure").first).to_be_visible()
    expect(page.locator(".limit-line").first).to_be_attached()
    expect(page.locator(".exceedance").first).to_be_attached()
    screenshot(page, "case")


def test_the_evidence_list_shows_each_items_sha256_place_and_time_sources(watched: Page, seeded: Seeded) -> None:
    page = watched
    log_in(page, seeded, "zhao")
    open_case(page, seeded)
    for item in seeded.items:
        article = page.locator(f'.item[data-item-id="{item["id"]}"]')
        expect(article.locator(".sha256")).to_have_text(item["sha256"])
        if item.get("location"):
            expect(article).to_contain_text("照片 EXIF 定位" if item["location"]["source"] == "exif-gps" else "定位")
            expect(article).to_contain_text("围栏内" if item["geofence"]["status"] == "inside" else "围栏")
        if item.get("time_source") == "gnss":
            expect(article).to_contain_text("卫星定位授时")
        expect(article.locator(".verification-state [data-verified]")).to_be_attached()


def test_the_custody_timeline_opens(watched: Page, seeded: Seeded) -> None:
    page = watched
    log_in(page, seeded, "zhao")
    item = seeded.located()[0]
    custody = seeded.server.api("GET", f"/items/{item['id']}/custody").json()
    open_case(page, seeded)
    article = page.locator(f'.item[data-item-id="{item["id"]}"]')
    toggle = article.get_by_role("button", name="查看保管链")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(article.get_by_role("button", name="收起保管链")).to_have_attribute("aria-expanded", "true")
    events = article.locator(".custody-event")
    expect(events).to_have_count(len(custody))
    actions = events.evaluate_all("events => events.map(e => e.dataset.action)")
    assert actions == [entry["event"]["action"] for entry in custody]
    expect(events.first).to_contain_text("采集")
    expect(article.locator('.custody-event[data-action="received"]')).to_contain_text("服务器接收")
    article.scroll_into_view_if_needed()
    screenshot(page, "custody")


def test_an_evidence_officer_sees_every_check_of_the_case_verification(watched: Page, seeded: Seeded) -> None:
    page = watched
    expected = seeded.server.api("POST", f"/cases/{seeded.case_id}/verify").json()
    log_in(page, seeded, "chen")
    page.goto(f"{seeded.app}#/cases/{seeded.case_id}/verify")
    expect(page.get_by_role("heading", name="校验与导出")).to_be_visible()
    page.get_by_role("button", name="校验案件").click()
    result = page.locator("#case-verification .case-result")
    expect(result).to_have_attribute("data-valid", "true")
    expect(result.locator(".verdict")).to_have_text("全部校验通过")
    for item in expected["items"]:
        shown = result.locator(f'.item-result[data-item-id="{item["item_id"]}"] .check')
        expect(shown).to_have_count(len(item["checks"]))
        assert shown.evaluate_all("checks => checks.map(c => c.dataset.ok)") == ["true"] * len(item["checks"])
        steps = shown.evaluate_all("checks => checks.map(c => c.dataset.step)")
        assert steps == [check["step"] for check in item["checks"]]
    expect(result.locator('.check[data-step="log-store"]')).to_have_attribute("data-ok", "true")
    checks = result.locator(".check")
    assert checks.count() == 1 + sum(len(item["checks"]) for item in expected["items"])
    for check in checks.all():
        assert check.get_attribute("data-ok") in {"true", "false"}
        expect(check.locator(".check-detail")).not_to_be_empty()

    one = seeded.items[0]["id"]
    row = page.locator(f'.verify-item[data-item-id="{one}"]')
    row.get_by_role("button", name="校验此证据").click()
    expect(row.locator(".check")).to_have_count(len(expected["items"][0]["checks"]))
    expect(row.locator('.check[data-ok="false"]')).to_have_count(0)

    page.get_by_role("button", name="生成证据包").click()
    link = page.locator("a.download-link")
    expect(link).to_have_attribute("href", re.compile(r"^blob:"))
    expect(link).to_have_attribute("download", re.compile(rf"^{re.escape(seeded.case['number'])}-.*\.zip$"))
    screenshot(page, "verify")


def test_an_investigator_is_told_why_verification_is_refused(watched: Page, seeded: Seeded) -> None:
    page = watched
    log_in(page, seeded, "wang")
    page.goto(f"{seeded.app}#/cases/{seeded.case_id}/verify")
    page.get_by_role("button", name="校验案件").click()
    refused = page.locator("#case-verification .error")
    expect(refused).to_have_attribute("data-status", "403")
    expect(refused).to_contain_text("无权操作：您的角色（调查人员）不能执行此操作。")
    expect(refused).to_contain_text("items.verify")
    expect(page.locator("#case-verification .check")).to_have_count(0)


def test_the_labels_are_chinese_and_the_english_switch_works(watched: Page, seeded: Seeded) -> None:
    page = watched
    log_in(page, seeded, "zhao")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.locator(".who")).to_contain_text("检察官")
    page.get_by_role("button", name="Switch to English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="My cases")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.locator(f'.case-card[data-case-id="{seeded.case_id}"] .stage')).to_have_text("investigation")
    screenshot(page, "cases-en")
    page.reload()
    expect(page.get_by_role("heading", name="My cases")).to_be_visible()
    assert page.evaluate("localStorage.getItem('fieldproof.lang')") == "en"
    page.get_by_role("button", name="切换到中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="我的案件")).to_be_visible()


def test_cases_opened_before_open_again_offline(context: BrowserContext, watched: Page, seeded: Seeded) -> None:
    page = watched
    log_in(page, seeded, "zhao")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.reload()  # now every answer passes through the service worker, which keeps the last good one
    expect(page.locator(f'.case-card[data-case-id="{seeded.case_id}"]')).to_be_visible()
    open_case(page, seeded)
    expect(page.locator(".verification-state [data-verified]")).to_have_count(len(seeded.items))
    page.get_by_role("link", name="返回我的案件").click()
    expect(page.get_by_role("heading", name="我的案件")).to_be_visible()
    expect(page.locator("#offline-banner")).to_be_hidden()

    context.set_offline(True)
    try:
        page.reload()
        expect(page.get_by_role("heading", name="我的案件")).to_be_visible()
        expect(page.locator(f'.case-card[data-case-id="{seeded.case_id}"]')).to_contain_text(seeded.case["title"])
        expect(page.locator("#offline-banner")).to_be_visible()
        expect(page.locator("#offline-banner")).to_contain_text("离线")
        expect(page.locator(".stale")).to_contain_text("离线缓存")
        screenshot(page, "offline")
        open_case(page, seeded)
        expect(page.locator("svg.map .evidence-point")).to_have_count(len(seeded.located()))
        page.get_by_role("link", name="校验与导出").click()
        page.get_by_role("button", name="校验案件").click()
        expect(page.locator("#case-verification")).to_contain_text("此操作需要联网。")
    finally:
        context.set_offline(False)


def test_the_service_worker_precaches_every_file_of_the_app() -> None:
    listed = re.search(r"const SHELL = \[(.*?)\];", (WWW / "sw.js").read_text(encoding="utf-8"), re.S)
    assert listed is not None
    shell = set(re.findall(r'"([^"]+)"', listed.group(1)))
    on_disk = {path.relative_to(WWW).as_posix() for path in WWW.rglob("*") if path.is_file()}
    assert shell - {"./"} == on_disk


def test_capture_is_offered_only_to_roles_that_may_register_evidence(watched: Page, seeded: Seeded) -> None:
    page = watched
    log_in(page, seeded, "zhao")  # a prosecutor: no uploads.write, no items.register on the server
    open_case(page, seeded)
    expect(page.locator("#capture-link")).to_have_count(0)
    expect(page.locator("#nav-capture")).to_have_count(0)
    page.get_by_role("button", name="退出登录").click()
    log_in(page, seeded, "chen")  # an evidence officer may
    open_case(page, seeded)
    expect(page.locator("#capture-link")).to_be_visible()
