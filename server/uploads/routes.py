"""uploads: resumable uploads by tus 1.0.0 at ``/uploads`` (core, creation, checksum, termination, expiration).

``OPTIONS /uploads`` says what the server supports; ``POST /uploads`` creates an upload of ``Upload-Length`` bytes
whose SHA-256 the client declares in ``Upload-Metadata``; ``HEAD /uploads/{id}`` tells how many bytes are stored;
``PATCH /uploads/{id}`` appends bytes at ``Upload-Offset``; ``DELETE /uploads/{id}`` terminates it. When the last
byte is in, the server hashes the whole file: a match makes it a blob (answered with ``Upload-Sha256``), a mismatch
fails the upload and deletes its bytes (460). Every response carries ``Tus-Resumable: 1.0.0``; every request but
OPTIONS must carry it too (412 otherwise). Errors have the API's one JSON shape; tus clients read the status.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from server.api import idempotent_response
from server.auth import Principal, require, session_of
from server.config import Settings
from server.devices.auth import SigningDeviceKey
from server.errors import INVALID, ApiError, ErrorOut, errors
from server.uploads import partial as disk
from server.uploads import receive, service
from server.uploads.models import COMPLETE, RECEIVING
from server.uploads.service import UploadView
from server.uploads.tus import (
    CHECKSUM_ALGORITHMS,
    CHECKSUM_MISMATCH,
    EXTENSIONS,
    OFFSET_OCTET_STREAM,
    TUS_VERSION,
    http_date,
    parse_checksum,
    parse_metadata,
)


class TusRoute(APIRoute):
    """A route whose every response, errors included, carries ``Tus-Resumable: 1.0.0``."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"tus-resumable", TUS_VERSION.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await super().handle(scope, receive, send_with_header)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def tus_resumable(
    version: Annotated[str | None, Header(alias="Tus-Resumable", description="must be 1.0.0")] = None,
) -> None:
    """412 (with ``Tus-Version``) unless the request speaks tus 1.0.0."""
    if version != TUS_VERSION:
        raise ApiError(412, f"Tus-Resumable: {TUS_VERSION} is required", headers={"Tus-Version": TUS_VERSION})


router = APIRouter(tags=["uploads"], route_class=TusRoute, responses=errors(INVALID))
TUS = [Depends(tus_resumable)]
Writer = Annotated[Principal, Depends(require("uploads.write"))]
UploadId = Annotated[
    str,
    Path(max_length=64, pattern="^[0-9a-f]+$", description="the id at the end of the Location that creation answered"),
]


def _doc(description: str, *headers: str) -> dict[str, Any]:
    return {"description": description, "headers": {name: {"schema": {"type": "string"}} for name in headers}}


def _error_doc(description: str, *headers: str) -> dict[str, Any]:
    return {**_doc(description, *headers), "model": ErrorOut}


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error_doc("no valid bearer token"),
    403: _error_doc("the role may not upload (uploads.write)"),
    404: _error_doc("no such upload, or another user's"),
    410: _error_doc("the upload expired, failed or was terminated: start a new one"),
    412: _error_doc("Tus-Resumable: 1.0.0 is missing", "Tus-Version"),
}


@router.options(
    "/uploads",
    status_code=204,
    summary="tus discovery: version, extensions, size cap, checksum algorithms",
    responses={
        204: _doc("what this server supports", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm")
    },
)
async def discover(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    return Response(
        status_code=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": ",".join(EXTENSIONS),
            "Tus-Max-Size": str(settings.max_upload_bytes),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
        },
    )


@router.post(
    "/uploads",
    status_code=201,
    response_class=Response,
    dependencies=TUS,
    summary="Create an upload (tus creation)",
    responses={
        201: _doc("created; send its bytes by PATCH to Location", "Location", "Upload-Expires"),
        400: _error_doc("Upload-Metadata lacks sha256 or is malformed; or Idempotency-Key is not 1 to 200 characters"),
        409: _error_doc("Idempotency-Key was used before with a different request"),
        413: _error_doc("Upload-Length over Tus-Max-Size"),
        **_ERRORS,
    },
)
def create(
    request: Request,
    *,
    principal: Writer,
    _device: SigningDeviceKey,
    upload_length: Annotated[int, Header(alias="Upload-Length", ge=0, description="the file's size in bytes")],
    upload_metadata: Annotated[
        str | None,
        Header(
            alias="Upload-Metadata",
            description="comma-separated `key base64(value)`: `sha256` (required: the whole file's SHA-256, "
            "lower-case hex), `filename` (optional)",
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", description="repeat-safe creation: same key → same upload")
    ] = None,
) -> Response:
    settings: Settings = request.app.state.settings
    service.check_length(upload_length, settings)
    metadata = parse_metadata(upload_metadata)
    session = session_of(request)

    def create_upload() -> Response:
        service.sweep_expired(session, settings)
        view = service.create_upload(
            session, principal=principal, length=upload_length, metadata=metadata, settings=settings
        )
        location = f"{request.url.path.rstrip('/')}/{view.id}"
        headers = {"Location": location, "Upload-Expires": http_date(view.expires_at)}
        return Response(status_code=201, headers=headers)

    payload = {"length": upload_length, "metadata": metadata}
    return idempotent_response(request, session, f"user:{principal.user_id}", payload, create_upload)


@router.head(
    "/uploads/{upload_id}",
    status_code=200,
    response_class=Response,
    dependencies=TUS,
    summary="How many bytes of an upload are stored",
    responses={
        200: _doc(
            "the offset to resume from",
            "Upload-Offset",
            "Upload-Length",
            "Upload-Metadata",
            "Upload-Expires",
            "Upload-Sha256",
            "Cache-Control",
        ),
        **_ERRORS,
    },
)
def status(request: Request, upload_id: UploadId, principal: Writer) -> Response:
    session = session_of(request)
    view = service.find_upload(session, upload_id=upload_id, principal=principal, settings=_settings(request))
    if view.status == COMPLETE:
        return _complete(view, status_code=200)
    service.end_read_transaction(session)
    offset = disk.stored_size(disk.partial_path(request.app.state.settings, view.id))
    if offset is None:
        return _gone_unless_complete(request, principal, view, status_code=200)
    if offset == view.length:  # all bytes in, not concluded: the server stopped in between
        return _conclude_now(request, principal, view)
    return _receiving(view, offset, status_code=200)


def _conclude_now(request: Request, principal: Principal, view: UploadView) -> Response:
    try:
        with disk.locked(disk.partial_path(request.app.state.settings, view.id)) as partial:
            running = disk.take_running(view.id, partial)
            sha256 = service.conclude(
                session_of(request),
                request.app.state.sessions,
                view=view,
                partial=partial,
                running=running,
                settings=request.app.state.settings,
            )
    except ApiError as exc:
        if exc.status == 423:  # a PATCH is concluding it right now
            return _receiving(view, view.length, status_code=200)
        if exc.status == 410:
            return _gone_unless_complete(request, principal, view, status_code=200)
        raise
    return _complete(view, status_code=200, sha256=sha256)


@router.patch(
    "/uploads/{upload_id}",
    status_code=204,
    dependencies=TUS,
    summary="Append bytes at Upload-Offset (tus core)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {OFFSET_OCTET_STREAM: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={
        204: _doc(
            "stored and fsynced; with Upload-Sha256 when this was the last byte and the hash matched",
            "Upload-Offset",
            "Upload-Expires",
            "Upload-Sha256",
        ),
        400: _error_doc("Upload-Checksum malformed or of an unsupported algorithm"),
        409: _error_doc("Upload-Offset is not the offset stored (HEAD tells it)", "Upload-Offset"),
        413: _error_doc("the body would pass Upload-Length; nothing of it was kept"),
        415: _error_doc(f"Content-Type must be {OFFSET_OCTET_STREAM}"),
        423: _error_doc("another request is writing this upload", "Retry-After"),
        CHECKSUM_MISMATCH: _doc(
            "Checksum Mismatch: this request's bytes do not match Upload-Checksum (none kept), "
            "or the whole file does not match the declared sha256 (the upload failed)"
        ),
        **_ERRORS,
    },
)
async def append(
    request: Request,
    upload_id: UploadId,
    *,
    principal: Writer,
    _device: SigningDeviceKey,
    upload_offset: Annotated[int, Header(alias="Upload-Offset", ge=0, description="where these bytes go")],
    content_type: Annotated[str | None, Header(alias="Content-Type")] = None,
    upload_checksum: Annotated[
        str | None,
        Header(
            alias="Upload-Checksum",
            description="`algorithm base64(digest)` of this request's bytes (sha256, sha1, md5)",
        ),
    ] = None,
    content_length: Annotated[int | None, Header(alias="Content-Length", ge=0)] = None,
) -> Response:
    if (content_type or "").split(";")[0].strip().lower() != OFFSET_OCTET_STREAM:
        raise ApiError(415, f"a PATCH body must be sent as {OFFSET_OCTET_STREAM}")
    checksum = parse_checksum(upload_checksum)
    view = await run_in_threadpool(_view_for_append, request, upload_id, principal)
    if view.status == COMPLETE:
        return _append_to_complete(view, upload_offset, content_length)
    try:
        with disk.locked(disk.partial_path(request.app.state.settings, view.id)) as partial:
            _check_offset(partial.size(), upload_offset, content_length, view.length)
            appended = await receive.append(
                request.stream(), partial, upload_id=view.id, length=view.length, checksum=checksum
            )
            if appended.offset == view.length:
                return await _conclude_appended(request, view, partial, appended)
    except ApiError as exc:
        if exc.status != 410:
            raise
        return await run_in_threadpool(_gone_unless_complete, request, principal, view, 204)
    settings = request.app.state.settings
    session = session_of(request)
    expires = await run_in_threadpool(lambda: service.record_progress(session, upload_id=view.id, settings=settings))
    return Response(
        status_code=204, headers={"Upload-Offset": str(appended.offset), "Upload-Expires": http_date(expires)}
    )


def _view_for_append(request: Request, upload_id: str, principal: Principal) -> UploadView:
    session = session_of(request)
    view = service.find_upload(session, upload_id=upload_id, principal=principal, settings=_settings(request))
    service.end_read_transaction(session)
    return view


def _check_offset(stored: int, offset: int, content_length: int | None, length: int) -> None:
    if offset != stored:
        raise ApiError(
            409,
            f"Upload-Offset {offset} is not the offset stored, {stored}",
            code="offset_mismatch",
            offset=stored,
            headers={"Upload-Offset": str(stored)},
        )
    if content_length is not None and stored + content_length > length:
        raise ApiError(413, f"{content_length} bytes at offset {stored} would pass Upload-Length {length}")


def _append_to_complete(view: UploadView, offset: int, content_length: int | None) -> Response:
    _check_offset(view.length, offset, content_length, view.length)
    return _complete(view, status_code=204)


async def _conclude_appended(
    request: Request, view: UploadView, partial: disk.Partial, appended: receive.Appended
) -> Response:
    def conclude() -> str:
        return service.conclude(
            session_of(request),
            request.app.state.sessions,
            view=view,
            partial=partial,
            running=appended.running,
            settings=request.app.state.settings,
        )

    return _complete(view, status_code=204, sha256=await run_in_threadpool(conclude))


def _gone_unless_complete(request: Request, principal: Principal, view: UploadView, status_code: int) -> Response:
    """The partial file vanished: concluded by a concurrent request (then answer as complete), or gone (410)."""
    session = session_of(request)
    again = service.find_upload(session, upload_id=view.id, principal=principal, settings=_settings(request))
    if again.status == COMPLETE:
        return _complete(again, status_code=status_code)
    raise ApiError(410, "this upload's bytes are gone; start a new upload")


def _complete(view: UploadView, *, status_code: int, sha256: str | None = None) -> Response:
    headers = _described(view, view.length)
    headers["Upload-Sha256"] = sha256 or view.sha256
    return Response(status_code=status_code, headers=headers)


def _receiving(view: UploadView, offset: int, *, status_code: int) -> Response:
    headers = _described(view, offset)
    if view.status == RECEIVING:
        headers["Upload-Expires"] = http_date(view.expires_at)
    return Response(status_code=status_code, headers=headers)


def _described(view: UploadView, offset: int) -> dict[str, str]:
    return {
        "Upload-Offset": str(offset),
        "Upload-Length": str(view.length),
        "Upload-Metadata": view.metadata_header,
        "Cache-Control": "no-store",
    }


@router.delete(
    "/uploads/{upload_id}",
    status_code=204,
    dependencies=TUS,
    summary="Terminate an upload (tus termination)",
    responses={
        204: _doc("terminated: its partial bytes are deleted"),
        423: _error_doc("a request is writing this upload", "Retry-After"),
        **_ERRORS,
    },
)
def terminate(request: Request, upload_id: UploadId, principal: Writer) -> Response:
    session = session_of(request)
    view = service.find_upload(session, upload_id=upload_id, principal=principal, settings=_settings(request))
    service.terminate_upload(session, view=view, settings=request.app.state.settings)
    return Response(status_code=204)
