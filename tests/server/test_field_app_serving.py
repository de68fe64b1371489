"""The field app's files at /app: the page, its service worker and manifest, with the headers that keep them fresh
and the page to its own origin."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from field_app import WWW
from server.app import create_app
from server.config import Settings


def test_app_redirects_to_the_page(client: TestClient) -> None:
    response = client.get("/app", follow_redirects=False)
    assert response.status_code in (307, 308)
    assert response.headers["location"].endswith("/app/")


def test_the_page_is_served_revalidated_under_a_strict_policy(client: TestClient) -> None:
    page = client.get("/app/")
    assert page.status_code == 200
    assert page.text == (WWW / "index.html").read_text(encoding="utf-8")
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy, "no inline or external scripts"
    assert page.headers["x-content-type-options"] == "nosniff"


def test_the_service_worker_and_manifest_have_their_types(client: TestClient) -> None:
    worker = client.get("/app/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/app/"
    assert worker.headers["cache-control"] == "no-cache"
    manifest = client.get("/app/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    assert urljoin("/app/manifest.webmanifest", manifest.json()["start_url"]).startswith("/app/")


def test_a_missing_file_is_404_and_nothing_outside_the_folder_is_served(client: TestClient) -> None:
    assert client.get("/app/no-such-file.js").status_code == 404
    assert client.get("/app/../server/app.py").status_code == 404
    assert client.get("/app/%2e%2e/%2e%2e/pyproject.toml").status_code == 404


def test_without_tiles_the_app_is_told_so_and_no_image_origin_is_allowed(client: TestClient) -> None:
    config = client.get("/app/config.json")
    assert config.json() == {"tiles": None}
    assert config.headers["cache-control"] == "no-cache"
    assert "img-src 'self' data: blob:;" in config.headers["content-security-policy"]


def test_a_configured_tile_layer_is_announced_and_allowed_as_images_only(settings: Settings) -> None:
    template = "https://webrd01.is.autonavi.com/appmaptile?lang=zh_cn&style=8&x={x}&y={y}&z={z}"
    tiled = Settings(**{**settings.model_dump(), "tile_url": template, "tile_attribution": "© 高德地图"})
    app = create_app(tiled)
    try:
        with TestClient(app) as tiled_client:
            config = tiled_client.get("/app/config.json")
            assert config.json() == {"tiles": {"url": template, "crs": "gcj02", "attribution": "© 高德地图"}}
            policy = tiled_client.get("/app/").headers["content-security-policy"]
    finally:
        app.state.engine.dispose()
    assert "img-src 'self' data: blob: https://webrd01.is.autonavi.com;" in policy
    assert "connect-src 'self';" in policy, "tiles are images: the page still talks to its own server only"


@pytest.mark.parametrize(
    "template", ["http://tiles.example/{z}/{x}/{y}.png", "https://tiles.example/static.png", "javascript:{z}"]
)
def test_a_tile_url_that_is_not_an_https_template_is_refused(settings: Settings, template: str) -> None:
    with pytest.raises(ValidationError):
        Settings(**{**settings.model_dump(), "tile_url": template})
