"""Serving the field app (``field_app/www``) at ``/app``.

The files are served as they are, and ``/app/config.json`` tells the app the server's settings that concern it
(today the optional tile layer: ``{"tiles": null}`` or ``{"tiles": {"url", "crs", "attribution"}}``). The service
worker, the manifest and the page itself are sent with
``Cache-Control: no-cache`` so that a new version reaches phones on their next visit (the service worker caches the
app shell for offline use; it must see the new files to refresh that cache). A content security policy keeps the
page to its own origin: no external scripts, and no external images but the configured tile layer's.
"""

from __future__ import annotations

import mimetypes

from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from field_app import WWW
from server.config import Settings

mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("text/javascript", ".js")

APP_PATH = "/app"
_REVALIDATED = ("", ".", "index.html", "sw.js", "manifest.webmanifest")
CONFIG = "config.json"


def content_security_policy(tile_origin: str | None = None) -> str:
    images = "'self' data: blob:" + (f" {tile_origin}" if tile_origin else "")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; media-src 'self' blob:; connect-src 'self'; "
        "worker-src 'self'; manifest-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


class FieldAppFiles(StaticFiles):
    """``field_app/www`` with the headers above (``/app`` itself is redirected to ``/app/`` by the router)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(directory=WWW, html=True, check_dir=False)
        self.policy = content_security_policy(settings.tile_origin)
        self.config = app_config(settings)

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.strip("/") == CONFIG:
            response: Response = JSONResponse(self.config)
        else:
            response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = self.policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if path.strip("/") in (*_REVALIDATED, CONFIG) or path.endswith(("/", "index.html")):
            response.headers["Cache-Control"] = "no-cache"
        if path.endswith("sw.js"):
            response.headers["Service-Worker-Allowed"] = f"{APP_PATH}/"
        return response


def app_config(settings: Settings) -> dict[str, object]:
    if settings.tile_url is None:
        return {"tiles": None}
    return {"tiles": {"url": settings.tile_url, "crs": settings.tile_crs, "attribution": settings.tile_attribution}}
