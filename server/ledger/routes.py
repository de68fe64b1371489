"""The global custody log over HTTP: checkpoints, inclusion and consistency proofs, entries, the server's key.

Every route needs ``log.read`` (every authenticated role); entries are shown only for items of the caller's
units, while hashes, proofs and checkpoints (which reveal nothing) are for all. Hashes are standard base64, as in
checkpoints. Proof sizes default to the latest checkpoint's size, so ``GET /log/inclusion?index=i`` proves
against the checkpoint a client just fetched (unless the log grew in between: pass ``size`` to pin it).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from evidence.canonical import loads
from server.auth import Principal, require, session_of
from server.config import Settings
from server.errors import SIGNED_IN, ApiError, errors, not_found
from server.items.service import visible_item
from server.ledger import service

router = APIRouter(tags=["ledger"], responses=SIGNED_IN)
_read = require("log.read")
_TEXT = "text/plain; charset=utf-8"


class CheckpointOut(BaseModel):
    origin: str = Field(description="the log's name (the checkpoint's first line)")
    size: int = Field(description="leaves in the tree")
    root: str = Field(description="base64 root hash")
    note: str = Field(description="the C2SP signed note, exactly as signed")


class InclusionOut(BaseModel):
    index: int
    size: int
    leaf_hash: str = Field(description="base64 SHA-256(0x00 || event bytes)")
    proof: list[str] = Field(description="base64 hashes, RFC 9162 audit path, leaf level first")
    root: str = Field(description="base64 root of the tree of `size` leaves")


class ConsistencyOut(BaseModel):
    first: int
    second: int
    proof: list[str] = Field(description="base64 hashes, RFC 9162 consistency proof")
    first_root: str
    second_root: str


class EntryOut(BaseModel):
    index: int
    item_id: str
    seq: int
    event: dict[str, Any] = Field(description="the custody event; its RFC 8785 canonical bytes are the leaf")
    event_hash: str = Field(description="hex SHA-256 of the event's canonical bytes")
    leaf_hash: str = Field(description="base64 leaf hash")
    appended_at: datetime


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get(
    "/log/checkpoint",
    response_model=CheckpointOut,
    summary="The latest signed checkpoint (C2SP signed note; ?format=json for JSON)",
    responses={200: {"content": {_TEXT: {"schema": {"type": "string"}}}}},
)
def checkpoint(
    request: Request,
    output: Literal["text", "json"] = Query("text", alias="format", description="`text`: signed note, `json`: JSON"),
    _principal: Principal = Depends(_read),  # noqa: B008
) -> Response:
    note = service.latest_checkpoint(session_of(request), _settings(request))
    text = note.to_bytes().decode()
    if output == "text":
        return Response(text, media_type=_TEXT)
    head = note.checkpoint
    body = CheckpointOut(origin=head.origin, size=head.size, root=_b64(head.root), note=text)
    return Response(body.model_dump_json(), media_type="application/json")


@router.get(
    "/log/inclusion",
    response_model=InclusionOut,
    summary="Proof that a log entry is in the tree",
    responses=errors({400: "index is not in a tree of that size, or size is beyond the log"}),
)
def inclusion(
    request: Request,
    index: int = Query(ge=0, description="the entry's leaf index"),
    size: int | None = Query(None, ge=1, description="tree size (default: the latest checkpoint's)"),
    _principal: Principal = Depends(_read),  # noqa: B008
) -> InclusionOut:
    session = session_of(request)
    proof = service.inclusion(session, index, _size_or_latest(request, size))
    return InclusionOut(
        index=proof.index,
        size=proof.size,
        leaf_hash=_b64(proof.leaf_hash),
        proof=[_b64(h) for h in proof.proof],
        root=_b64(proof.root),
    )


@router.get(
    "/log/consistency",
    response_model=ConsistencyOut,
    summary="Proof that a smaller tree is a prefix",
    responses=errors({400: "first exceeds second, or second is beyond the log"}),
)
def consistency(
    request: Request,
    first: int = Query(ge=1, description="the smaller tree size"),
    second: int | None = Query(None, ge=1, description="the larger tree size (default: the latest checkpoint's)"),
    _principal: Principal = Depends(_read),  # noqa: B008
) -> ConsistencyOut:
    session = session_of(request)
    proof = service.consistency(session, first, _size_or_latest(request, second))
    return ConsistencyOut(
        first=proof.first,
        second=proof.second,
        proof=[_b64(h) for h in proof.proof],
        first_root=_b64(proof.first_root),
        second_root=_b64(proof.second_root),
    )


@router.get(
    "/log/entries/{index}",
    response_model=EntryOut,
    summary="One log entry: a custody event of an item of your units",
    responses=errors({404: "no log entry at this index (or it is about another unit's item)"}),
)
def log_entry(
    request: Request,
    index: Annotated[int, Path(ge=0, le=2**62, description="leaf index")],
    principal: Annotated[Principal, Depends(_read)],
) -> EntryOut:
    session = session_of(request)
    row = service.entry(session, index)
    try:
        visible_item(session, principal, row.item_id)
    except ApiError:
        raise not_found(f"log entry {index}") from None  # the very answer a missing entry gets
    return EntryOut(
        index=row.index,
        item_id=row.item_id,
        seq=row.seq,
        event=loads(bytes(row.event)),
        event_hash=row.event_hash,
        leaf_hash=_b64(bytes(row.leaf_hash)),
        appended_at=row.appended_at,
    )


@router.get(
    "/log/key",
    summary="The server's checkpoint verifier key (C2SP signed-note verifier key)",
    response_class=Response,
    responses={200: {"content": {_TEXT: {"schema": {"type": "string"}}}}},
)
def verifier_key(request: Request, _principal: Principal = Depends(_read)) -> Response:  # noqa: B008
    key = service.server_key(_settings(request))
    return Response(key.public.to_text() + "\n", media_type=_TEXT)


def _size_or_latest(request: Request, size: int | None) -> int:
    """The tree size asked for, else the latest checkpoint's (signed now if the log has grown)."""
    if size is not None:
        return size
    return service.latest_checkpoint(session_of(request), _settings(request)).checkpoint.size
