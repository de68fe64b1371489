"""Every domain's API router, in the order they appear in the OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter

from server.alerts.routes import router as alerts
from server.campaign.routes import router as campaign
from server.cases.routes import router as cases
from server.clients.routes import router as clients
from server.clues.routes import router as clues
from server.devices.routes import router as devices
from server.items.routes import router as items
from server.ledger.routes import router as ledger
from server.readings.routes import router as readings
from server.reports.routes import router as reports
from server.sites.routes import router as sites
from server.uploads.routes import router as uploads
from server.users.routes import router as auth
from server.visits.routes import router as visits
from server.webhooks.routes import router as webhooks


def api_routers() -> list[APIRouter]:
    return [
        auth,
        clients,
        clues,
        cases,
        sites,
        visits,
        devices,
        uploads,
        items,
        readings,
        alerts,
        webhooks,
        ledger,
        reports,
        campaign,
    ]
