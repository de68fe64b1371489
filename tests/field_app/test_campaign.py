"""The campaign view in Chromium: the city prosecutor opens it from the case list and sees each unit's counts (as the
API gives them), downloads the CSV, and opens it again offline; an investigator is not offered it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from server.admin import create_unit
from server.db import make_engine, session_factory, transaction
from tests.field_app.conftest import Seeded, log_in, screenshot

FIGURES = (
    "cases",
    "clues_received",
    "recommendations_issued",
    "recommendations_answered",
    "recommendations_overdue",
    "items_collected",
    "items_verified",
    "exceedances",
)


@pytest.fixture(scope="module")
def campaign(seeded: Seeded) -> dict[str, Any]:
    """Two counties under the city, with cases the city prosecutor opens for them; the API's answer."""
    engine = make_engine(seeded.server.database)
    with transaction(session_factory(engine)) as session:
        create_unit(session, code="LY-YC", name="伊川县人民检察院", parent_code="LY")
        create_unit(session, code="LY-SX", name="嵩县人民检察院", parent_code="LY")
    engine.dispose()
    server = seeded.server
    for unit, domain, stages in (
        ("LY-YC", "water", ("filed", "investigation", "recommendation")),
        ("LY-YC", "air", ()),
        ("LY-SX", "land", ("filed",)),
    ):
        body = {"title": "专项活动案件", "domain": domain, "type": "administrative", "unit": unit}
        created = server.api("POST", "/cases", json=body)
        assert created.status_code == 201, created.text
        for stage in stages:
            moved = server.api("POST", f"/cases/{created.json()['id']}/transitions", json={"to": stage})
            assert moved.status_code == 200, moved.text
    answer = server.api("GET", "/campaign")
    assert answer.status_code == 200, answer.text
    counts: dict[str, Any] = answer.json()
    return counts


def row_texts(page: Page, unit: str) -> list[str]:
    cells = page.locator(f'#campaign-units tr[data-unit="{unit}"] td')
    return [text.strip() for text in cells.all_inner_texts()]


def test_the_city_prosecutor_sees_the_campaign_by_unit(
    context: BrowserContext, watched: Page, seeded: Seeded, campaign: dict[str, Any]
) -> None:
    page = watched
    assert [row["unit"] for row in campaign["units"]] == ["LY", "LY-SX", "LY-YC"]
    yc = next(row for row in campaign["units"] if row["unit"] == "LY-YC")
    assert (yc["cases"], yc["recommendations_issued"], yc["by_stage"]["recommendation"]) == (2, 1, 1)
    log_in(page, seeded, "zhao")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.get_by_role("link", name="查看专项活动统计（各单位案件、检察建议、证据与超标预警）").click()
    expect(page.get_by_role("heading", name="专项活动统计", level=1)).to_be_visible()
    expect(page.locator("#campaign-units tbody tr")).to_have_count(3)
    for row in campaign["units"]:
        expect(page.locator(f'#campaign-units tr[data-unit="{row["unit"]}"] th')).to_have_text(row["name"])
        assert row_texts(page, row["unit"]) == [str(row[key]) for key in FIGURES], row["unit"]
    assert row_texts(page, "*") == [str(campaign["totals"][key]) for key in FIGURES]
    expect(page.locator('#campaign-units tr[data-unit="*"] th')).to_have_text("合计")
    expect(page.locator('#campaign-totals dd[data-key="cases"]')).to_have_text(str(campaign["totals"]["cases"]))
    stage_cell = page.locator('#campaign-stages tr[data-unit="LY-YC"] td[data-key="stage.recommendation"]')
    expect(stage_cell).to_have_text("1")
    expect(page.locator("#campaign-stages thead")).to_contain_text("诉前程序")
    expect(page.locator("#campaign-domains thead")).to_contain_text("水污染")
    screenshot(page, "campaign")

    page.get_by_role("button", name="导出 CSV（Excel）").click()
    with page.expect_download() as download:
        page.locator("#campaign-csv-link").click()
    assert download.value.suggested_filename == "campaign-all.csv"
    data = Path(download.value.path()).read_bytes()
    assert data.startswith("\ufeff单位代码 unit,".encode())
    assert "伊川县人民检察院" in data.decode("utf-8-sig")
    page.get_by_role("button", name="打印版报告").click()
    expect(page.locator("#campaign-report-link")).to_have_attribute("download", "campaign-all.html")

    context.set_offline(True)
    try:
        page.reload()
        expect(page.get_by_role("heading", name="专项活动统计", level=1)).to_be_visible()
        expect(page.locator(".stale")).to_contain_text("离线缓存")
        assert row_texts(page, "LY-YC") == [str(yc[key]) for key in FIGURES]
    finally:
        context.set_offline(False)


def test_the_campaign_filters_by_domain(watched: Page, seeded: Seeded, campaign: dict[str, Any]) -> None:
    page = watched
    log_in(page, seeded, "zhao")
    page.goto(seeded.app + "#/campaign")
    expect(page.get_by_role("heading", name="专项活动统计", level=1)).to_be_visible()
    page.get_by_label("领域").select_option("air")
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(seeded.app + "#/campaign?domain=air")
    expect(page.locator('#campaign-units tr[data-unit="LY-YC"] td[data-key="cases"]')).to_have_text("1")
    expect(page.locator('#campaign-units tr[data-unit="*"] td[data-key="cases"]')).to_have_text("1")


def test_an_investigator_is_not_offered_the_campaign(watched: Page, seeded: Seeded) -> None:
    page = watched
    log_in(page, seeded, "wang")
    expect(page.locator("#campaign-link")).to_have_count(0)
    expect(page.locator("#nav-campaign")).to_have_count(0)
