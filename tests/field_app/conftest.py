"""A live server with a seeded case, and Chromium driven by Playwright, for the field app's browser tests.

The server is ``fieldproof server`` in a subprocess (``tests/device_gateway/sync_world``), bootstrapped with users
who have passwords (the field app logs in through ``POST /auth/token``). A gateway spool of photos with EXIF GPS and
a sensor batch is synced onto a case exactly as ``tests/device_gateway/test_sync.py`` does it, after a site whose
geofence surrounds the photos' place has been added. Everything is built once per module.

The browser is Debian's Chromium (``/usr/bin/chromium``): Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Geolocation,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from sqlalchemy import select

from fieldproof.cli import main
from server.admin import create_user
from server.auth import hash_password
from server.db import make_engine, session_factory, transaction
from server.users.models import User
from tests.device_gateway.sync_world import PLACE, LiveServer, fill_spool

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("FIELDPROOF_ARTIFACTS", REPO / "build" / "screenshots"))  # /work/main/build/...

GEOLOCATION: Geolocation = {
    "latitude": PLACE[0] + 0.0002,
    "longitude": PLACE[1] - 0.0001,
    "accuracy": 8.0,
}  # inside the site

PASSWORDS = {"wang": "wang-pass-2026", "zhao": "zhao-pass-2026", "chen": "chen-pass-2026"}
DISPLAY_NAMES = {"wang": "王磊", "zhao": "赵强", "chen": "陈静"}


@dataclass
class FieldAppServer(LiveServer):
    """A ``LiveServer`` whose users can log in with a password, plus an evidence officer (who may verify)."""

    officer: str = "chen"
    passwords: dict[str, str] = field(default_factory=lambda: dict(PASSWORDS))

    def bootstrap(self) -> None:
        super().bootstrap()
        engine = make_engine(self.database)
        with transaction(session_factory(engine)) as session:
            for user in session.scalars(select(User).where(User.username.in_(["wang", "zhao"]))):
                user.password_hash = hash_password(PASSWORDS[user.username])
                user.display_name = DISPLAY_NAMES[user.username]
            create_user(
                session,
                username="chen",
                unit_code="LY",
                role="evidence_officer",
                password=PASSWORDS["chen"],
                display_name=DISPLAY_NAMES["chen"],
            )
        engine.dispose()


@dataclass
class Seeded:
    """The live server and the case the gateway synced onto it."""

    server: FieldAppServer
    case_id: int
    case: dict[str, Any]
    items: list[dict[str, Any]]

    @property
    def app(self) -> str:
        return f"{self.server.url}/app/"

    def located(self) -> list[dict[str, Any]]:
        return [item for item in self.items if item.get("location")]


def _cli(*args: str | Path | int) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    assert status == 0, out.getvalue() + err.getvalue()


def _all_items(server: LiveServer, case_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = server.api("GET", f"/cases/{case_id}/items", params=params).json()
        found += page["items"]
        cursor = page["next"]
        if not cursor:
            return found


def _square_around(lat: float, lon: float, half: float) -> dict[str, Any]:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    yield from seed(tmp_path_factory)


def seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A live server (its settings from this process's environment) with the seeded case; stopped afterwards."""
    folder = tmp_path_factory.mktemp("field-app")
    server = FieldAppServer(folder / "server")
    server.bootstrap()
    server.start()
    try:
        case_id = server.new_case()
        for stage in ("filed", "investigation"):
            moved = server.api("POST", f"/cases/{case_id}/transitions", json={"to": stage})
            assert moved.status_code == 200, moved.text
        site = server.api(
            "POST",
            f"/cases/{case_id}/sites",
            json={
                "name": "洛河1号排污口",
                "address": "伊川县城关镇洛河东岸",
                "geofence": _square_around(*PLACE[:2], 0.002),
            },
        )
        assert site.status_code == 201, site.text
        visit = server.api(
            "POST",
            f"/cases/{case_id}/visits",
            json={
                "site": site.json()["id"],
                "started_at": "2026-05-12T09:30:00+08:00",
                "ended_at": "2026-05-12T11:10:00+08:00",
                "investigators": ["wang", "zhao"],
                "devices": ["yc-gateway-01"],
                "note": "雨后取样",
            },
        )
        assert visit.status_code == 201, visit.text
        gateway = folder / "gateway"
        fill_spool(gateway, photos=3)
        _cli("gateway", "enroll", "--server", server.url, "--code", server.codes[0], "--data", gateway, "--json")
        where: list[str | Path | int] = ["--server", server.url, "--data", gateway, "--token", server.investigator]
        _cli("gateway", "sync", *where, "--case", case_id, "--json")
        case = server.api("GET", f"/cases/{case_id}").json()
        yield Seeded(server, case_id, case, _all_items(server, case_id))
    finally:
        server.stop()


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        message = f"the field app's browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; .ci/run installs it")
        pytest.skip(message)
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    fresh = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900}, service_workers="allow")
    fresh.set_default_timeout(30_000)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def located_context(browser: Browser) -> Iterator[BrowserContext]:
    """A context whose geolocation is granted, at a place inside the seeded site's geofence."""
    fresh = browser.new_context(
        locale="zh-CN",
        viewport={"width": 1200, "height": 900},
        service_workers="allow",
        geolocation=GEOLOCATION,
        permissions=["geolocation"],
    )
    fresh.set_default_timeout(30_000)
    yield fresh
    fresh.close()


def watch(page: Page) -> list[str]:
    """Collect uncaught script errors and content security policy violations of the page."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(message.text)

    def on_error(error: Error) -> None:
        problems.append(f"{error.name}: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    return problems


@pytest.fixture
def watched(page: Page) -> Iterator[Page]:
    """The page, failing the test on an uncaught script error or a content security policy violation."""
    problems = watch(page)
    yield page
    assert problems == []


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot into FIELDPROOF_ARTIFACTS (the docs' images are copied from there)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"field-app-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, seeded: Seeded, username: str) -> None:
    """Open the app and log in through the form; returns on the case list."""
    page.goto(seeded.app)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORDS[username])
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的案件")).to_be_visible()
