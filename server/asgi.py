"""The ASGI application for uvicorn workers: ``uvicorn server.asgi:app``. Settings come from the environment
(``FIELDPROOF_SERVER_*``), which ``fieldproof server`` sets for its workers."""

from server.app import create_app
from server.config import Settings

app = create_app(Settings())
