"""Exporting a case as a court package in the foundation's format (docs/package-format.md), and verifying a case.

Export is itself custody: each item's chain gets an ``exported`` event (signed by the server, naming the package
and its item count, which the offline verifier requires as every chain's last event in the package); a checkpoint
covering them is signed; every event of the case's items goes into the package with its inclusion proof at that
checkpoint. Each blob is copied into the package while hashed: a blob changed on disk stops the export.
``fieldproof verify PACKAGE --trust server.pub`` then checks it offline.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence.custody import CustodyEvent
from evidence.errors import FieldproofError
from evidence.keys import PublicKey
from evidence.package import ItemRecord, PackageWriter, ProofRecord, payload_path
from server.auth import Principal
from server.cases.models import Case
from server.config import Settings
from server.devices.service import device_keys
from server.errors import ApiError
from server.items.models import Item
from server.items.presentation import location_of
from server.ledger import service as ledger
from server.ledger.models import LogEntry
from server.reports.pdf import render_pdf
from server.reports.report import CaseReport, ReportItem, render_html
from server.storage import BlobStore
from server.units.models import Unit


def export_case(session: Session, *, settings: Settings, principal: Principal, case: Case) -> Path:
    """Write the case's court package (a zip) and return its path; the export is recorded in custody."""
    items = list(session.scalars(select(Item).where(Item.case_id == case.id).order_by(Item.seq_no)))
    if not items:
        raise ApiError(409, "the case has no items to export")
    package_id = str(uuid.uuid4())
    _append_exported(session, settings, principal, items=items, package_id=package_id, case=case)
    note = ledger.latest_checkpoint(session, settings)
    entries = sorted((e for item in items for e in ledger.entries_for_item(session, item.id)), key=lambda e: e.index)
    events = [entry.custody_event() for entry in entries]
    proofs = [
        ProofRecord(
            e.index, note.checkpoint.size, tuple(ledger.inclusion(session, e.index, note.checkpoint.size).proof)
        )
        for e in entries
    ]
    target = _target(settings, case, package_id)
    writer = PackageWriter(target, package_id)
    try:
        records = [_copy_item(writer, settings, item) for item in items]
        report = _case_report(
            session, principal, case, items=items, events=events, package_id=package_id, note=note, settings=settings
        )
        return writer.finish(
            items=records,
            events=events,
            proofs=proofs,
            checkpoint=note,
            keys=_signing_keys(session, settings, events),
            report_html=render_html(report),
            description=f"fieldproof 电子证据封存包 case {case.number}",
            extra_tag_files={"report.pdf": render_pdf(report)},
        )
    except BaseException:
        writer.abort()
        raise


def _append_exported(
    session: Session, settings: Settings, principal: Principal, *, items: Sequence[Item], package_id: str, case: Case
) -> None:
    now = datetime.now(UTC)
    details = {"package_id": package_id, "item_count": len(items), "case": case.number}
    exported = [
        ledger.server_event(
            settings,
            item_id=item.id,
            item_sha256=item.sha256,
            action="exported",
            previous=ledger.last_event(session, item.id),
            user=principal.username,
            details={**details, "path": payload_path(item.id, item.name)},
            at=now,
        )
        for item in items
    ]
    ledger.append(session, exported)


def _target(settings: Settings, case: Case, package_id: str) -> Path:
    folder = settings.data_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{case.number}-{package_id[:8]}.zip"


def _copy_item(writer: PackageWriter, settings: Settings, item: Item) -> ItemRecord:
    source = BlobStore(settings).path(item.sha256)
    try:
        path = writer.add_file(item.id, item.name, source)
    except (FieldproofError, OSError) as exc:
        raise ApiError(409, f"item {item.id}'s bytes cannot be read from the store: {exc}") from exc
    digest = writer.payload_digest(path)
    if digest.sha256 != item.sha256:
        raise ApiError(
            409,
            f"item {item.id}'s stored bytes changed on disk (SHA-256 {digest.sha256[:16]}…): "
            "verify the item; nothing was exported",
        )
    return ItemRecord(item.id, path, item.sha256, item.size, item.name, item.media_type, item.kind)


def _signing_keys(session: Session, settings: Settings, events: Sequence[CustodyEvent]) -> list[PublicKey]:
    server = ledger.server_key(settings).public
    devices = device_keys(session)
    signers = {event.signer for event in events}
    return [server] + [key for key_id, key in devices.items() if key_id in signers]


def _case_report(
    session: Session,
    principal: Principal,
    case: Case,
    *,
    items: Sequence[Item],
    events: Sequence[CustodyEvent],
    package_id: str,
    note: object,
    settings: Settings,
) -> CaseReport:
    unit = session.get(Unit, case.unit_id)
    by_item: dict[str, list[CustodyEvent]] = {}
    for event in events:
        by_item.setdefault(event.item_id, []).append(event)
    report_items = [
        ReportItem(
            number=n,
            name=i.name,
            kind=i.kind,
            media_type=i.media_type,
            size=i.size,
            sha256=i.sha256,
            captured_at=i.captured_at,
            time_source=i.time_source,
            location=location_of(i),
            collectors="、".join(i.collected_by or []) or "—",
            device=(i.device_key_id or "—")[:16],
            events=by_item.get(i.id, []),
        )
        for n, i in enumerate(items, start=1)
    ]
    return CaseReport(
        case_number=case.number,
        case_title=case.title,
        unit=unit.name if unit else "",
        stage=case.stage,
        package_id=package_id,
        exported_at=datetime.now(UTC),
        exported_by=principal.username,
        items=report_items,
        checkpoint=note,  # type: ignore[arg-type]
        server_key_id=ledger.server_key(settings).key_id,
    )


def log_entries_of(session: Session, items: Sequence[Item]) -> list[LogEntry]:
    return sorted((e for item in items for e in ledger.entries_for_item(session, item.id)), key=lambda e: e.index)
