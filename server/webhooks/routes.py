"""webhooks: API routes.

``GET|POST /webhooks``, ``GET|PATCH|DELETE /webhooks/{webhook_id}``, ``POST /webhooks/{webhook_id}/test``,
``GET /webhooks/{webhook_id}/deliveries``. All need ``webhooks.manage`` (unit administrators, integration clients
with the ``webhooks:manage`` scope). An endpoint belongs to its creator's unit; another unit's answers 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from server.api import Page, check_if_match, etag_of, idempotent, page_params, paginate, with_etag
from server.auth import Principal, require, session_of
from server.errors import FORBIDDEN, IDEMPOTENT, JSON_BODY, PAGED, SIGNED_IN, errors
from server.webhooks import service
from server.webhooks.models import WebhookDelivery, WebhookEndpoint
from server.webhooks.schemas import DeliveryOut, DeliveryStatus, WebhookCreated, WebhookIn, WebhookOut, WebhookPatch

router = APIRouter(tags=["webhooks"], responses=SIGNED_IN)

WebhookId = Annotated[int, Path(ge=1, le=2_147_483_647, description="the webhook endpoint's id")]
PageParams = Annotated[tuple[int, int | None], Depends(page_params)]
Manager = Annotated[Principal, Depends(require("webhooks.manage"))]
NO_WEBHOOK = {404: "no such webhook endpoint (or not one of your units)"}


def _now() -> datetime:
    return datetime.now(UTC)


@router.get(
    "/webhooks",
    response_model=Page[WebhookOut],
    summary="List the webhook endpoints of your units",
    responses=errors(PAGED, FORBIDDEN),
)
def list_webhooks(request: Request, principal: Manager, page: PageParams) -> Page[WebhookOut]:
    query = service.endpoint_query(principal)
    return paginate(session_of(request), query, WebhookEndpoint.id, page, service.render_endpoint)


@router.post(
    "/webhooks",
    status_code=201,
    response_model=WebhookCreated,
    summary="Add a webhook endpoint to your unit (its signing secret is in this answer only)",
    responses=errors(JSON_BODY, IDEMPOTENT, FORBIDDEN),
)
def create_webhook(
    data: WebhookIn,
    request: Request,
    principal: Manager,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", description="repeat-safe creation: same key → same answer")
    ] = None,
) -> Response:
    session = session_of(request)

    def create() -> tuple[int, Any]:
        endpoint = service.create_endpoint(session, principal=principal, data=data, now=_now())
        out = WebhookCreated(**service.render_endpoint(endpoint).model_dump(), secret=endpoint.secret)
        return 201, out.model_dump(mode="json")

    return idempotent(request, session, str(principal.user_id), data.model_dump(mode="json"), create)


@router.get(
    "/webhooks/{webhook_id}",
    response_model=WebhookOut,
    summary="One webhook endpoint (and an ETag)",
    responses=errors(NO_WEBHOOK, FORBIDDEN),
)
def get_webhook(webhook_id: WebhookId, request: Request, response: Response, principal: Manager) -> WebhookOut:
    endpoint = service.visible_endpoint(session_of(request), principal=principal, endpoint_id=webhook_id)
    out = service.render_endpoint(endpoint)
    with_etag(response, out)
    return out


@router.patch(
    "/webhooks/{webhook_id}",
    response_model=WebhookOut,
    summary="Change a webhook endpoint's URL, events, description or active flag (If-Match: its ETag)",
    responses=errors(NO_WEBHOOK, JSON_BODY, FORBIDDEN, {412: "If-Match does not match the endpoint's ETag"}),
)
def patch_webhook(
    *,
    webhook_id: WebhookId,
    changes: WebhookPatch,
    request: Request,
    response: Response,
    principal: Manager,
    if_match: Annotated[str | None, Header(alias="If-Match", description="the ETag you read")] = None,
) -> WebhookOut:
    session = session_of(request)
    endpoint = service.visible_endpoint(session, principal=principal, endpoint_id=webhook_id, lock=True)
    check_if_match(request, etag_of(service.render_endpoint(endpoint)))
    service.update_endpoint(session, endpoint=endpoint, changes=changes.model_dump(exclude_unset=True))
    out = service.render_endpoint(endpoint)
    with_etag(response, out)
    return out


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    summary="Deactivate a webhook endpoint (nothing more is sent; its delivery log stays)",
    responses=errors(NO_WEBHOOK, FORBIDDEN),
)
def delete_webhook(webhook_id: WebhookId, request: Request, principal: Manager) -> Response:
    session = session_of(request)
    endpoint = service.visible_endpoint(session, principal=principal, endpoint_id=webhook_id, lock=True)
    service.update_endpoint(session, endpoint=endpoint, changes={"active": False})
    return Response(status_code=204)


@router.post(
    "/webhooks/{webhook_id}/test",
    status_code=202,
    response_model=DeliveryOut,
    summary="Queue a webhook.test event to the endpoint (to check it receives and verifies)",
    responses=errors(NO_WEBHOOK, FORBIDDEN, {409: "the endpoint is not active (webhook_inactive)"}),
)
def ping_webhook(webhook_id: WebhookId, request: Request, principal: Manager) -> DeliveryOut:
    session = session_of(request)
    endpoint = service.visible_endpoint(session, principal=principal, endpoint_id=webhook_id)
    delivery = service.queue_test(session, endpoint=endpoint, now=_now())
    return service.render_delivery(delivery)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=Page[DeliveryOut],
    summary="The endpoint's delivery log: every event sent to it, with each attempt, oldest first",
    responses=errors(NO_WEBHOOK, PAGED, FORBIDDEN),
)
def list_deliveries(
    webhook_id: WebhookId,
    request: Request,
    principal: Manager,
    page: PageParams,
    status: Annotated[DeliveryStatus | None, Query(description="only deliveries with this status")] = None,
) -> Page[DeliveryOut]:
    session = session_of(request)
    endpoint = service.visible_endpoint(session, principal=principal, endpoint_id=webhook_id)
    query = service.deliveries_query(endpoint, status=status)
    return paginate(session, query, WebhookDelivery.id, page, service.render_delivery)
