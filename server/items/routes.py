"""Items: ``POST /items`` (register), ``GET /items/{id}``, ``/content``, ``/custody``, ``POST /items/{id}/verify``,
``GET /cases/{id}/items``. Every read of an item's content is itself recorded in its custody (``accessed``)."""

from __future__ import annotations

from base64 import b64encode
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from server.api import Moment, Page, encode_cursor, idempotent, with_etag
from server.auth import Principal, require, session_of
from server.cases.routes import NO_CASE, CaseId, PageParams
from server.cases.schemas import NO_NUL
from server.cases.service import visible_case
from server.config import Settings
from server.devices.auth import SigningDeviceKey
from server.errors import FORBIDDEN, IDEMPOTENT, JSON_BODY, PAGED, SIGNED_IN, errors
from server.items.models import Item
from server.items.presentation import item_out
from server.items.schemas import CustodyEntry, ItemOut, Registered, RegisterItem, Verification
from server.items.service import receipt, register_item, visible_item
from server.items.verify import verification
from server.ledger import service as ledger
from server.storage import BlobStore

router = APIRouter(tags=["items"], responses=SIGNED_IN)
NO_ITEM = {404: "no such item (or not one of your units)"}

ItemId = Annotated[str, Path(max_length=64, pattern=NO_NUL, description="the id the collector gave the item")]
GeofenceStatus = Literal["inside", "outside", "unknown"]


@router.post(
    "/items",
    status_code=201,
    response_model=Registered,
    summary="Register an item: its bytes (upload or blob), metadata and signed custody events",
    responses={
        200: {"model": Registered, "description": "registered already by this very request: the same item again"},
        **errors(
            JSON_BODY,
            IDEMPOTENT,
            FORBIDDEN,
            {
                404: "no such case, or no such upload (or not yours)",
                409: "the item id is registered already with different content, or the upload is not complete",
                422: "no or two byte sources, an unknown blob, a malformed, broken or unsigned custody chain",
            },
        ),
    },
)
def register(
    request: Request,
    body: RegisterItem,
    principal: Annotated[Principal, Depends(require("items.register"))],
    device_key: SigningDeviceKey,
) -> Any:
    session = session_of(request)
    settings = request.app.state.settings

    def create() -> tuple[int, Any]:
        item, created = register_item(session, settings=settings, principal=principal, body=body, via_device=device_key)
        answer = {
            "item": item_out(session, item).model_dump(mode="json"),
            "receipt": receipt(session, settings, item),
            "created": created,
        }
        return (201 if created else 200), answer

    return idempotent(request, session, f"user:{principal.user_id}", body.model_dump(mode="json"), create)


@router.get(
    "/items/{item_id}",
    response_model=ItemOut,
    summary="One item: digests, capture time and place, log (and an ETag)",
    responses=errors(NO_ITEM),
)
def get_item(
    item_id: ItemId,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require("items.read"))],
) -> ItemOut:
    session = session_of(request)
    out = item_out(session, visible_item(session, principal, item_id))
    with_etag(response, out)
    return out


@router.get(
    "/items/{item_id}/content",
    summary="The item's original bytes (the read is recorded in custody)",
    response_class=FileResponse,
    responses=errors(NO_ITEM, FORBIDDEN),
)
def get_content(
    item_id: ItemId, request: Request, principal: Annotated[Principal, Depends(require("items.content"))]
) -> FileResponse:
    session = session_of(request)
    settings = request.app.state.settings
    item = visible_item(session, principal, item_id)
    _record(session, settings, principal=principal, item=item, action="accessed", details={"what": "content"})
    digest = b64encode(bytes.fromhex(item.sha256)).decode()
    headers = {"Digest": f"sha-256={digest}", "X-Content-SHA256": item.sha256}
    return FileResponse(
        BlobStore(settings).path(item.sha256), media_type=item.media_type, filename=item.name, headers=headers
    )


@router.get(
    "/items/{item_id}/custody",
    response_model=list[CustodyEntry],
    summary="The item's custody events, in order, with their places in the log",
    responses=errors(NO_ITEM),
)
def get_custody(
    item_id: ItemId, request: Request, principal: Annotated[Principal, Depends(require("items.read"))]
) -> list[CustodyEntry]:
    session = session_of(request)
    item = visible_item(session, principal, item_id)
    return [
        CustodyEntry(log_index=entry.index, event=entry.custody_event().to_json())
        for entry in ledger.entries_for_item(session, item.id)
    ]


@router.post(
    "/items/{item_id}/verify",
    response_model=Verification,
    summary="Check the item again: bytes, chain, signatures, log inclusion (recorded in custody)",
    responses=errors(NO_ITEM, FORBIDDEN),
)
def verify(
    item_id: ItemId, request: Request, principal: Annotated[Principal, Depends(require("items.verify"))]
) -> Verification:
    session = session_of(request)
    settings = request.app.state.settings
    item = visible_item(session, principal, item_id)
    result = verification(session, settings, item)
    failed = [check.step for check in result.checks if not check.ok]
    _record(
        session,
        settings,
        principal=principal,
        item=item,
        action="verified",
        details={"valid": result.valid, "failed": failed},
    )
    return result


@router.get(
    "/cases/{case_id}/items",
    response_model=Page[ItemOut],
    summary="A case's items, filtered",
    responses=errors(NO_CASE, PAGED),
)
def case_items(
    case_id: CaseId,
    request: Request,
    principal: Annotated[Principal, Depends(require("items.read"))],
    page: PageParams,
    *,
    kind: Annotated[str | None, Query(max_length=16, pattern=NO_NUL, description="only items of this kind")] = None,
    captured_from: Annotated[Moment | None, Query(alias="from", description="captured at or after")] = None,
    captured_until: Annotated[Moment | None, Query(alias="until", description="captured at or before")] = None,
    geofence: Annotated[GeofenceStatus | None, Query(description="place against the site geofence")] = None,
) -> Page[ItemOut]:
    session = session_of(request)
    case = visible_case(session, principal=principal, case_id=case_id)
    query = select(Item).where(Item.case_id == case.id)
    if kind:
        query = query.where(Item.kind == kind)
    if captured_from:
        query = query.where(Item.captured_at >= captured_from)
    if captured_until:
        query = query.where(Item.captured_at <= captured_until)
    return _filtered_page(session, query, page, geofence)


def _filtered_page(
    session: Session, query: Select[Item], page: tuple[int, int | None], geofence: str | None
) -> Page[ItemOut]:
    """Pages by registration order; the geofence filter is applied as items are shown (it is computed, not stored)."""
    limit, after = page
    if after is not None:
        query = query.where(Item.seq_no > after)
    shown: list[ItemOut] = []
    last_seq = after
    for item in session.scalars(query.order_by(Item.seq_no)):
        if len(shown) == limit:
            return Page[ItemOut](items=shown, next=encode_cursor(last_seq or 0))
        last_seq = item.seq_no
        out = item_out(session, item)
        if geofence is None or out.geofence.status == geofence:
            shown.append(out)
    return Page[ItemOut](items=shown, next=None)


def _record(
    session: Session, settings: Settings, *, principal: Principal, item: Item, action: str, details: dict[str, Any]
) -> None:
    """Append a server-signed event (an access or a verification) to the item's custody chain."""
    event = ledger.server_event(
        settings,
        item_id=item.id,
        item_sha256=item.sha256,
        action=action,
        previous=ledger.last_event(session, item.id),
        user=principal.username,
        details=details,
    )
    ledger.append(session, [event])
