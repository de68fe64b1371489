"""The map over a configured tile layer: tiles from the server's template, positions shifted from WGS-84 to GCJ-02
only for drawing, and the tile host allowed by the page's policy as an image source only.

The tile host cannot be reached from this machine (no network but the package registries), so its tiles are
answered by Playwright's request routing with a generated PNG: a stand-in for the provider, said so here. What is
checked is the app's part: which tiles it asks for, and where it draws the evidence on them.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator

import pytest
from PIL import Image
from playwright.sync_api import Page, Route, expect

from tests.field_app.conftest import Seeded, log_in, screenshot, seed

TILE_HOST = "https://tiles.example.cn"
TILE_URL = TILE_HOST + "/maps/{z}/{x}/{y}.png"
ATTRIBUTION = "© 测试底图 test tiles"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The seeded server, started with a GCJ-02 tile layer configured."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("FIELDPROOF_SERVER_TILE_URL", TILE_URL)
        environment.setenv("FIELDPROOF_SERVER_TILE_ATTRIBUTION", ATTRIBUTION)
        yield from seed(tmp_path_factory)


def _tile_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (222, 235, 214)).save(out, format="PNG")
    return out.getvalue()


# An independent statement of the published WGS-84 -> GCJ-02 approximation (Krasovsky 1940 ellipsoid), to check
# the app's JavaScript against.
_A, _EE = 6378245.0, 0.00669342162296594323


def _gcj02(lon: float, lat: float) -> tuple[float, float]:
    if not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271):
        return lon, lat
    x, y = lon - 105.0, lat - 35.0
    waves = (20 * math.sin(6 * x * math.pi) + 20 * math.sin(2 * x * math.pi)) * 2 / 3
    d_lat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x)) + waves
    d_lat += (20 * math.sin(y * math.pi) + 40 * math.sin(y / 3 * math.pi)) * 2 / 3
    d_lat += (160 * math.sin(y / 12 * math.pi) + 320 * math.sin(y * math.pi / 30)) * 2 / 3
    d_lon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x)) + waves
    d_lon += (20 * math.sin(x * math.pi) + 40 * math.sin(x / 3 * math.pi)) * 2 / 3
    d_lon += (150 * math.sin(x / 12 * math.pi) + 300 * math.sin(x / 30 * math.pi)) * 2 / 3
    rad_lat = lat / 180 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    d_lat = d_lat * 180 / ((_A * (1 - _EE)) / (magic * math.sqrt(magic)) * math.pi)
    d_lon = d_lon * 180 / (_A / math.sqrt(magic) * math.cos(rad_lat) * math.pi)
    return lon + d_lon, lat + d_lat


def _mercator(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    size = 256 * 2**zoom
    sin = math.sin(math.radians(lat))
    return (lon + 180) / 360 * size, (0.5 - math.log((1 + sin) / (1 - sin)) / (4 * math.pi)) * size


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    mean_lat = math.radians((a[1] + b[1]) / 2)
    dx = math.radians(b[0] - a[0]) * math.cos(mean_lat) * 6371008.8
    dy = math.radians(b[1] - a[1]) * 6371008.8
    return math.hypot(dx, dy)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(112.4540, 34.6197), (116.3913, 39.9073), (121.4737, 31.2304), (87.6168, 43.8256), (2.3522, 48.8566)],
)
def test_the_apps_gcj02_shift_matches_the_published_formula(page: Page, seeded: Seeded, lon: float, lat: float) -> None:
    page.goto(seeded.app)
    shifted = page.evaluate(
        "([lon, lat]) => import('./js/gcj02.js').then((m) => m.wgs84ToGcj02([lon, lat]))", [lon, lat]
    )
    expected = _gcj02(lon, lat)
    assert shifted == pytest.approx(expected, abs=1e-9)
    offset = _distance_m((lon, lat), expected)
    in_china = 72.004 <= lon <= 137.8347
    assert (100 < offset < 800) if in_china else offset == 0, f"the shift is {offset:.0f} m"


def test_the_map_draws_the_evidence_on_the_tiles_in_gcj02(page: Page, seeded: Seeded) -> None:
    asked: list[str] = []
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)

    def provider(route: Route) -> None:  # the stand-in for the unreachable tile host (see the module docstring)
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=_tile_png())

    page.route(f"{TILE_HOST}/**", provider)
    log_in(page, seeded, "chen")
    page.locator(f'.case-card[data-case-id="{seeded.case_id}"] a').click()
    expect(page.locator("svg.map[data-tiles='gcj02']")).to_be_visible()
    expect(page.locator("svg.map .map-attribution")).to_have_text(ATTRIBUTION)
    tiles = page.locator("svg.map image.tile")
    expect(tiles.first).to_be_attached()
    drawn = tiles.evaluate_all(
        "images => images.map(i => [i.getAttribute('href'), Number(i.getAttribute('x')), Number(i.getAttribute('y'))])"
    )
    pattern = re.compile(re.escape(TILE_HOST) + r"/maps/(\d+)/(\d+)/(\d+)\.png")
    parsed = [(pattern.fullmatch(href), x, y) for href, x, y in drawn]
    assert all(match is not None for match, _x, _y in parsed), drawn
    zoom = int(parsed[0][0].group(1))  # type: ignore[union-attr]
    first, x0, y0 = parsed[0]
    left = int(first.group(2)) * 256 - x0  # type: ignore[union-attr]
    top = int(first.group(3)) * 256 - y0  # type: ignore[union-attr]
    for item in seeded.located():
        place = item["location"]
        marker = page.locator(f'.evidence-point[data-item-id="{item["id"]}"]')
        cx, cy = float(marker.get_attribute("cx") or "nan"), float(marker.get_attribute("cy") or "nan")
        gx, gy = _mercator(*_gcj02(place["lon"], place["lat"]), zoom)
        assert (cx, cy) == pytest.approx((gx - left, gy - top), abs=0.1), "drawn where GCJ-02 puts it on the tiles"
        wx, wy = _mercator(place["lon"], place["lat"], zoom)
        assert math.hypot(wx - gx, wy - gy) > 5, "not where the unshifted WGS-84 place would be"
    page.wait_for_load_state("networkidle")
    assert asked, "the tiles were asked for"
    assert violations == [], "the tile host is allowed as an image source"
    screenshot(page, "map-tiles")


def test_without_a_network_the_tiles_fail_and_the_map_still_shows_the_evidence(page: Page, seeded: Seeded) -> None:
    page.route(f"{TILE_HOST}/**", lambda route: route.abort("internetdisconnected"))
    log_in(page, seeded, "chen")
    page.locator(f'.case-card[data-case-id="{seeded.case_id}"] a').click()
    expect(page.locator("svg.map .evidence-point")).to_have_count(len(seeded.located()))
    expect(page.locator("svg.map .geofence")).to_have_count(1)
