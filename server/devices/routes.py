"""``POST /devices/enroll`` (with a one-time code, no user token) and ``GET /devices``."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from server.api import Page, idempotent, page_params, paginate
from server.auth import Principal, require, session_of
from server.cases.schemas import NO_NUL
from server.devices.models import Device
from server.devices.service import enroll
from server.errors import IDEMPOTENT, JSON_BODY, PAGED, SIGNED_IN, errors
from server.units.models import Unit

router = APIRouter(tags=["devices"])


class Enrollment(BaseModel):
    code: str = Field(
        min_length=4,
        max_length=40,
        pattern="^[A-Za-z0-9-]+$",
        description="the one-time code from `fieldproof admin enroll-code`",
    )
    kind: str = Field(pattern="^(gateway|monitor|camera)$")
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    public_key: str = Field(
        min_length=10,
        max_length=500,
        pattern="^[!-~]+$",  # printable ASCII, as key names and base64 are
        description="verifier key: <name>+<hash>+<base64>",
    )


class DeviceOut(BaseModel):
    id: int
    kind: str
    name: str
    unit: str
    key_id: str
    public_key: str
    enrolled_at: datetime


def _device_out(device: Device, unit_code: str) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        kind=device.kind,
        name=device.name,
        unit=unit_code,
        key_id=device.key_id,
        public_key=device.public_key,
        enrolled_at=device.enrolled_at,
    )


@router.post(
    "/devices/enroll",
    status_code=201,
    response_model=DeviceOut,
    summary="Enroll a device's public key with a one-time code (no user token)",
    responses=errors(
        JSON_BODY,
        IDEMPOTENT,
        {
            401: "the enrollment code is unknown, used or expired",
            409: "a device with this key is enrolled already",
            422: "a public_key that is not a verifier key",
        },
    ),
)
def enroll_device(
    body: Enrollment,
    request: Request,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", description="repeat-safe enrollment: same key → same answer")
    ] = None,
) -> Response:
    session = session_of(request)

    def create() -> tuple[int, Any]:
        device = enroll(session, code=body.code, kind=body.kind, name=body.name, public_key=body.public_key)
        unit = session.get(Unit, device.unit_id)
        return 201, _device_out(device, unit.code if unit else "").model_dump(mode="json")

    # No user yet: the one-time code is whose request this is (its hash, so the code itself is not kept).
    caller = "enrollment:" + hashlib.sha256(body.code.encode()).hexdigest()
    return idempotent(request, session, caller, body.model_dump(mode="json"), create)


@router.get(
    "/devices",
    response_model=Page[DeviceOut],
    summary="Devices enrolled in the units you see",
    responses={**SIGNED_IN, **errors(PAGED)},
)
def list_devices(
    request: Request,
    principal: Principal = Depends(require("items.read")),  # noqa: B008
    page: tuple[int, int | None] = Depends(page_params),
) -> Page[DeviceOut]:
    session = session_of(request)
    codes = {unit.id: unit.code for unit in session.scalars(select(Unit))}
    query = select(Device).where(Device.unit_id.in_(principal.visible_units))
    return paginate(session, query, Device.id, page, lambda d: _device_out(d, codes[d.unit_id]))
