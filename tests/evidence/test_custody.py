"""Custody events: canonical bytes, field validation, signatures over every field, and per-item chains."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.canonical import canonical_bytes, is_canonical
from evidence.custody import CustodyEvent, format_utc, new_event, parse_utc, verify_chain, verify_event_signature
from evidence.errors import ChainError, EventFormatError, SignatureError
from evidence.keys import PublicKey, SigningKey

GATEWAY = SigningKey("gateway-01", hashlib.sha256(b"gateway key").digest())
SERVER = SigningKey("server", hashlib.sha256(b"server key").digest())
KEYS: dict[str, PublicKey] = {GATEWAY.key_id: GATEWAY.public, SERVER.key_id: SERVER.public}
PHOTO_SHA = hashlib.sha256(b"photo bytes").hexdigest()
AT = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
PLACE = {"lat": 30.25, "lon": 120.125, "source": "gateway-gnss-track", "accuracy_m": 4.5}


def _event(previous: CustodyEvent | None = None, item_id: str = "case-7.item-1", **changes: Any) -> CustodyEvent:
    arguments: dict[str, Any] = {
        "key": GATEWAY,
        "item_id": item_id,
        "item_sha256": PHOTO_SHA,
        "action": "acquired" if previous is None else "uploaded",
        "at": AT + timedelta(minutes=0 if previous is None else previous.seq + 1),
        "previous": previous,
        "device": "gw-01",
        "place": PLACE,
        "details": {"path": "DCIM/100/0001.JPG", "size": 3_145_728},
    }
    return new_event(**{**arguments, **changes})


def _chain(length: int = 4, item_id: str = "case-7.item-1") -> list[CustodyEvent]:
    events = [_event(item_id=item_id)]
    while len(events) < length:
        events.append(_event(events[-1], item_id=item_id))
    return events


def _bytes_with(event: CustodyEvent, **fields: Any) -> bytes:
    """Canonical bytes of ``event`` with fields replaced (so only the field itself can be at fault)."""
    return canonical_bytes({**event.to_json(), **fields})


# --- building events ---------------------------------------------------------------------------------------


def test_first_event_fields() -> None:
    event = _event()
    assert event.to_json() == {
        "format": "fieldproof.custody/1",
        "item_id": "case-7.item-1",
        "item_sha256": PHOTO_SHA,
        "seq": 0,
        "action": "acquired",
        "at": "2026-05-01T08:30:00.000000Z",
        "actor": {"user": None, "device": "gw-01"},
        "place": PLACE,
        "details": {"path": "DCIM/100/0001.JPG", "size": 3_145_728},
        "prev": None,
        "signer": GATEWAY.key_id,
        "sig": base64.b64encode(event.signature).decode(),
    }


def test_event_bytes_are_canonical_and_hashed() -> None:
    event = _event()
    assert is_canonical(event.to_bytes())
    assert event.event_hash == hashlib.sha256(event.to_bytes()).hexdigest()


def test_signature_covers_the_canonical_event_without_sig() -> None:
    event = _event()
    unsigned = {name: value for name, value in event.to_json().items() if name != "sig"}
    GATEWAY.public.verify(event.signature, canonical_bytes(unsigned))
    assert verify_event_signature(event, KEYS) == GATEWAY.public


def test_events_chain_by_seq_and_previous_hash() -> None:
    events = _chain(4)
    assert [e.seq for e in events] == [0, 1, 2, 3]
    assert [e.prev for e in events] == [None, *(e.event_hash for e in events[:-1])]
    verify_chain(events)


def test_next_event_must_belong_to_the_same_item() -> None:
    first = _event()
    with pytest.raises(ChainError):
        _event(first, item_id="case-7.item-2")
    with pytest.raises(ChainError):
        _event(first, item_sha256="b" * 64)


def test_format_utc_converts_aware_times_and_keeps_microseconds() -> None:
    beijing = datetime(2026, 5, 1, 16, 30, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    assert format_utc(beijing) == "2026-05-01T08:30:00.123456Z"
    assert parse_utc("2026-05-01T08:30:00.123456Z") == beijing


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_utc(datetime(2026, 5, 1, 8, 30))
    with pytest.raises(ValueError, match="naive"):
        _event(at=datetime(2026, 5, 1, 8, 30))


@pytest.mark.parametrize(
    "text",
    [
        "2026-05-01T08:30:00Z",
        "2026-05-01T08:30:00.000000+08:00",
        "2026-05-01T08:30:00.000000z",
        "2026-05-01 08:30:00.000000Z",
        "2026-02-30T08:30:00.000000Z",
        "2026-05-01T24:00:00.000000Z",
        "",
    ],
)
def test_parse_utc_refuses_other_forms(text: str) -> None:
    with pytest.raises(EventFormatError):
        parse_utc(text)


@pytest.mark.parametrize(
    "changes",
    [
        {"action": "deleted"},
        {"device": None},
        {"device": ""},
        {"user": "", "device": None},
        {"place": {"lat": 91, "lon": 0, "source": "manual"}},
        {"item_sha256": PHOTO_SHA.upper()},
        {"item_id": "-leading-dash"},
    ],
    ids=repr,
)
def test_new_event_refuses_invalid_fields(changes: dict[str, Any]) -> None:
    with pytest.raises(EventFormatError):
        _event(**changes)


# --- reading events ----------------------------------------------------------------------------------------


def test_from_bytes_round_trip() -> None:
    for event in _chain(3):
        parsed = CustodyEvent.from_bytes(event.to_bytes())
        assert parsed.to_json() == event.to_json()
        assert parsed.event_hash == event.event_hash


def test_an_event_with_a_large_number_in_its_details_reads_back() -> None:
    event = _event(details={"particles_per_m3": 1e20})
    assert CustodyEvent.from_bytes(event.to_bytes()).to_bytes() == event.to_bytes()


details_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@settings(deadline=None, max_examples=100)
@given(details=st.dictionaries(st.text(max_size=8), details_values | st.text(), max_size=4))
def test_any_event_reads_back_and_verifies(details: dict[str, Any]) -> None:
    event = _event(details=details)
    parsed = CustodyEvent.from_bytes(event.to_bytes())
    assert parsed.to_bytes() == event.to_bytes()
    verify_event_signature(parsed, KEYS)


def _re_encoded(event: CustodyEvent) -> list[bytes]:
    value = event.to_json()
    return [
        json.dumps(value, sort_keys=True).encode(),  # spaces after separators
        json.dumps(value, sort_keys=True, separators=(",", ":"), indent=0).encode(),
        json.dumps(dict(reversed(value.items())), separators=(",", ":")).encode(),  # members out of order
        json.dumps({**value, "details": {"note": "é"}}, sort_keys=True, separators=(",", ":")).encode(),  # \u00e9
        event.to_bytes() + b"\n",
        b" " + event.to_bytes(),
        event.to_bytes().replace(b'"seq":0', b'"seq":0.0'),
        event.to_bytes().replace(b'"size":3145728', b'"size":3.145728e6'),
    ]


@pytest.mark.parametrize("variant", range(8))
def test_non_canonical_bytes_are_rejected(variant: int) -> None:
    data = _re_encoded(_event())[variant]
    assert data != _event().to_bytes()
    with pytest.raises(EventFormatError):
        CustodyEvent.from_bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        b"[]",
        b'"event"',
        b"{",
        b"\xff",
        b'{"a":1,"a":1}',
        canonical_bytes({}),
    ],
)
def test_non_events_are_rejected(data: bytes) -> None:
    with pytest.raises(EventFormatError):
        CustodyEvent.from_bytes(data)


@pytest.mark.parametrize("detail", [b"1e400", b'"\\ud800"', b"100000000000000000000000"])
def test_uncanonicalizable_content_is_an_event_format_error(detail: bytes) -> None:
    data = _bytes_with(_event(), details={}).replace(b'"details":{}', b'"details":{"x":' + detail + b"}")
    with pytest.raises(EventFormatError):
        CustodyEvent.from_bytes(data)


def test_unknown_or_missing_fields_are_rejected() -> None:
    event = _event()
    with pytest.raises(EventFormatError, match="unexpected"):
        CustodyEvent.from_bytes(_bytes_with(event, comment="added later"))
    for name in event.to_json():
        value = {key: member for key, member in event.to_json().items() if key != name}
        with pytest.raises(EventFormatError, match="missing"):
            CustodyEvent.from_bytes(canonical_bytes(value))


BAD_FIELDS: list[tuple[str, Any]] = [
    ("format", "fieldproof.custody/2"),
    ("item_id", ""),
    ("item_id", "has space"),
    ("item_id", "x" * 129),
    ("item_id", "证据-1"),
    ("item_id", 7),
    ("item_sha256", PHOTO_SHA.upper()),
    ("item_sha256", PHOTO_SHA[:-1]),
    ("item_sha256", None),
    ("seq", -1),
    ("seq", 1),  # seq 1 needs a previous-event hash
    ("seq", True),
    ("seq", "0"),
    ("action", "deleted"),
    ("action", "Acquired"),
    ("action", None),
    ("at", "2026-05-01T08:30:00Z"),
    ("at", "2026-05-01T08:30:00.000000+08:00"),
    ("at", "2026-02-30T08:30:00.000000Z"),
    ("at", 1_777_624_200),
    ("actor", {"user": None, "device": None}),
    ("actor", {"device": "gw-01"}),
    ("actor", {"user": "", "device": "gw-01"}),
    ("actor", {"user": 5, "device": None}),
    ("actor", {"user": "u", "device": None, "role": "x"}),
    ("actor", "gw-01"),
    ("place", {"lat": 90.5, "lon": 0, "source": "manual"}),
    ("place", {"lat": 0, "lon": -180.5, "source": "manual"}),
    ("place", {"lat": "30.2", "lon": 120, "source": "manual"}),
    ("place", {"lat": True, "lon": 120, "source": "manual"}),
    ("place", {"lat": 30, "lon": 120, "source": "gps"}),
    ("place", {"lat": 30, "lon": 120}),
    ("place", "Hangzhou"),
    ("details", []),
    ("details", None),
    ("prev", "0" * 64),  # the first event has no previous event
    ("prev", "xyz"),
    ("signer", GATEWAY.key_id.upper()),
    ("signer", None),
    ("sig", base64.b64encode(bytes(63)).decode()),
    ("sig", base64.b64encode(bytes(65)).decode()),
    ("sig", "not base64!"),
    ("sig", 5),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS, ids=[f"{f}={v!r}"[:40] for f, v in BAD_FIELDS])
def test_every_field_is_validated(field: str, value: Any) -> None:
    with pytest.raises(EventFormatError):
        CustodyEvent.from_bytes(_bytes_with(_event(), **{field: value}))


# --- signatures --------------------------------------------------------------------------------------------

EDITS: list[tuple[str, Any]] = [
    ("details", {"path": "DCIM/100/0002.JPG", "size": 3_145_728}),
    ("details", {}),
    ("at", "2026-05-01T08:30:00.000001Z"),
    ("item_sha256", hashlib.sha256(b"other photo").hexdigest()),
    ("item_id", "case-7.item-9"),
    ("action", "imported"),
    ("actor", {"user": "investigator-2", "device": "gw-01"}),
    ("place", None),
    ("place", {**PLACE, "lat": 30.26}),
]


@pytest.mark.parametrize(("field", "value"), EDITS, ids=[f"{f}={v!r}"[:40] for f, v in EDITS])
def test_an_edited_field_breaks_the_signature(field: str, value: Any) -> None:
    edited = CustodyEvent.from_bytes(_bytes_with(_event(), **{field: value}))
    with pytest.raises(SignatureError, match="forged or edited"):
        verify_event_signature(edited, KEYS)


def test_edited_sequence_and_link_break_the_signature() -> None:
    second = _chain(2)[1]
    for changes in ({"prev": "f" * 64}, {"seq": 2}):
        with pytest.raises(SignatureError):
            verify_event_signature(CustodyEvent.from_bytes(_bytes_with(second, **changes)), KEYS)


def test_a_missing_signer_key_is_a_signature_error() -> None:
    with pytest.raises(SignatureError, match="not available"):
        verify_event_signature(_event(), {SERVER.key_id: SERVER.public})


def test_a_signature_claimed_for_another_key_fails() -> None:
    claimed = CustodyEvent.from_bytes(_bytes_with(_event(), signer=SERVER.key_id))
    with pytest.raises(SignatureError):
        verify_event_signature(claimed, KEYS)


def test_each_signer_verifies_its_own_events() -> None:
    first = _event()
    received = _event(first, key=SERVER, action="received", device=None, user="clerk-3")
    assert received.signer == SERVER.key_id
    assert verify_event_signature(received, KEYS) == SERVER.public
    verify_chain([first, received])


# --- chains ------------------------------------------------------------------------------------------------


def test_verify_chain_detects_a_deleted_event() -> None:
    events = _chain(4)
    with pytest.raises(ChainError):
        verify_chain(events[:1] + events[2:])
    with pytest.raises(ChainError):
        verify_chain(events[1:])


def test_verify_chain_detects_swapped_events() -> None:
    events = _chain(4)
    with pytest.raises(ChainError):
        verify_chain([events[0], events[2], events[1], events[3]])


def test_verify_chain_detects_a_duplicated_event() -> None:
    events = _chain(3)
    with pytest.raises(ChainError):
        verify_chain([*events[:2], events[1], events[2]])
    with pytest.raises(ChainError):
        verify_chain([*events, events[-1]])


def test_verify_chain_detects_events_of_another_item() -> None:
    own, other = _chain(3), _chain(4, item_id="case-7.item-2")
    with pytest.raises(ChainError):
        verify_chain([own[0], other[1], own[2]])
    assert other[3].seq == 3
    with pytest.raises(ChainError):
        verify_chain([*own, other[3]])  # right position, wrong item


def test_verify_chain_detects_a_replaced_event() -> None:
    events = _chain(3)
    substitute = _event(events[0], details={"path": "DCIM/100/0001.JPG", "size": 1})
    assert substitute.seq == events[1].seq
    with pytest.raises(ChainError):
        verify_chain([events[0], substitute, events[2]])


def test_verify_chain_detects_a_chain_naming_another_sha256() -> None:
    events = _chain(2)
    other = _event(item_sha256="c" * 64)
    with pytest.raises(ChainError):
        verify_chain([other, events[1]])


def test_verify_chain_refuses_an_empty_chain() -> None:
    with pytest.raises(ChainError):
        verify_chain([])
