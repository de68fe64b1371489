"""``create_app``: the server as an ASGI application, its routers under ``/api/v1``, one transaction per request.

Each request gets a database session (``request.state.session``) from the ``UnitOfWork`` middleware: it is
committed when the request succeeded (status below 400) and rolled back otherwise, so a request is all or nothing.
Services flush; only this middleware commits.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from server.config import Settings
from server.db import make_engine, session_factory
from server.errors import install_error_handlers
from server.field_app import APP_PATH, FieldAppFiles
from server.not_modified import NotModified
from server.routers import api_routers
from server.unit_of_work import UnitOfWork
from server.webhooks.worker import webhook_lifespan

API_PREFIX = "/api/v1"


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="fieldproof",
        version="1",
        summary="Field evidence for environmental public-interest litigation: cases, evidence, custody ledger.",
        docs_url="/api/docs",
        openapi_url="/api/v1/openapi.json",
        lifespan=webhook_lifespan,
    )
    engine = make_engine(settings.database)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    install_error_handlers(app)
    app.add_middleware(UnitOfWork, sessions=app.state.sessions)
    app.add_middleware(NotModified)  # outside the unit of work: a 304 is still a committed 200 underneath
    api = APIRouter(prefix=API_PREFIX)
    for router in api_routers():
        api.include_router(router)
    app.include_router(api)
    app.mount(APP_PATH, FieldAppFiles(settings), name="field-app")
    return app
