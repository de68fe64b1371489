"""Every domain's API router, in the order they appear in the OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter

from server.users.routes import router as auth


def api_routers() -> list[APIRouter]:
    return [auth]
