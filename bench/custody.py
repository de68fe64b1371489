"""Figure d: custody events verified per second, against bare Ed25519 verifications of the same messages.

The ledger is many items' chains of ``EVENTS_PER_ITEM`` events each (acquired, imported, uploaded,
received, …), signed by one gateway key. Verifying an item is what an offline verifier does:
``CustodyEvent.from_bytes`` on each event's bytes, ``verify_event_signature`` on each event, then
``verify_chain`` on the item's events. The baseline verifies the very same signatures over the very same
signed messages with cryptography's ``Ed25519PublicKey.verify`` and nothing else. Building (signing) the
ledger is timed and reported on its own.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bench.progress import note
from bench.report import Figure, rate_text
from bench.timing import Samples, Trial, interleave, timed
from evidence.custody import CustodyEvent, new_event, verify_chain, verify_event_signature
from evidence.keys import PublicKey, SigningKey, generate_key

EVENTS_PER_ITEM = 10
_ACTIONS = (
    "acquired", "imported", "uploaded", "received", "verified",
    "accessed", "annotated", "exported", "transferred", "sealed",
)  # fmt: skip
_START = datetime(2026, 11, 29, 1, 30, tzinfo=UTC)
_PLACE = {"lat": 30.274085, "lon": 120.155070, "source": "gateway-gnss-track"}


@dataclass(frozen=True)
class Ledger:
    """Signed events as bytes, per item, with what the verifier and the baseline need."""

    chains: list[list[bytes]]
    keys: dict[str, PublicKey]
    signed: list[tuple[bytes, bytes]]  # (signature, signed message) of every event, for the baseline
    build_seconds: float

    @property
    def events(self) -> int:
        return len(self.signed)

    @property
    def mean_bytes(self) -> float:
        return sum(len(data) for chain in self.chains for data in chain) / self.events


def custody_figures(events: int, rounds: int) -> list[Figure]:
    key = generate_key("bench-gateway")
    ledger = build_ledger(key, events)
    sign_seconds = _bare_signing(ledger.signed)
    public = Ed25519PublicKey.from_public_bytes(key.public.raw)
    trials = {"Ed25519 verify": _bare_trial(public, ledger.signed), "custody verify": _verify_trial(ledger)}
    samples = interleave(trials, rounds, "d. custody")
    return [_build_figure(ledger, sign_seconds), _verify_figure(ledger, samples)]


def build_ledger(key: SigningKey, events: int) -> Ledger:
    note(f"d. building {events:,} signed custody events ({EVENTS_PER_ITEM} per item)")
    full, rest = divmod(events, EVENTS_PER_ITEM)
    lengths = [EVENTS_PER_ITEM] * full + ([rest] if rest else [])
    start = time.perf_counter()
    chains = [_build_chain(key, item, length) for item, length in enumerate(lengths)]
    build_seconds = time.perf_counter() - start
    note(f"d. built in {build_seconds:.1f} s")
    return Ledger(
        chains=[[event.to_bytes() for event in chain] for chain in chains],
        keys={key.key_id: key.public},
        signed=[(event.signature, event.signed_message()) for chain in chains for event in chain],
        build_seconds=build_seconds,
    )


def _build_chain(key: SigningKey, item: int, length: int) -> list[CustodyEvent]:
    chain: list[CustodyEvent] = []
    item_sha256 = hashlib.sha256(b"item %d" % item).hexdigest()
    for seq in range(length):
        previous = chain[-1] if chain else None
        event = new_event(
            key=key,
            item_id=f"JX-2026-0042:item-{item:06d}",
            item_sha256=item_sha256,
            action=_ACTIONS[seq % len(_ACTIONS)],
            at=_START + timedelta(minutes=item, seconds=seq),
            previous=previous,
            user="investigator-07",
            device="gateway-field-01",
            place=_PLACE,
            details={"file_name": f"DJI_{item % 10000:04d}.MP4", "size": 734_003_200 + item},
        )
        chain.append(event)
    return chain


def verify_ledger(chains: list[list[bytes]], keys: Mapping[str, PublicKey]) -> int:
    """Verify every item's chain as an offline verifier would; return how many events were verified."""
    count = 0
    for chain in chains:
        events = [CustodyEvent.from_bytes(data) for data in chain]
        for event in events:
            verify_event_signature(event, keys)
        verify_chain(events)
        count += len(events)
    return count


def _verify_trial(ledger: Ledger) -> Trial:
    return lambda: timed(lambda: verify_ledger(ledger.chains, ledger.keys))


def _bare_trial(public: Ed25519PublicKey, signed: list[tuple[bytes, bytes]]) -> Trial:
    def verify_all() -> None:
        for signature, message in signed:
            public.verify(signature, message)

    return lambda: timed(verify_all)


def _bare_signing(signed: list[tuple[bytes, bytes]]) -> float:
    private = Ed25519PrivateKey.generate()
    return timed(lambda: [private.sign(message) for _, message in signed])


def _build_figure(ledger: Ledger, sign_seconds: float) -> Figure:
    built, bare = ledger.events / ledger.build_seconds, ledger.events / sign_seconds
    return Figure(
        key="d0.custody_build",
        name="d. custody: build (new_event, signing)",
        measured=f"{ledger.events:,} events in {ledger.build_seconds:.1f} s ({rate_text(built)})",
        baseline=f"bare Ed25519 sign: {rate_text(bare)}",
        ratio=built / bare,
        goal=None,
        values={"events": ledger.events, "seconds": ledger.build_seconds, "baseline_seconds": sign_seconds},
    )


def _verify_figure(ledger: Ledger, samples: dict[str, Samples]) -> Figure:
    ours, bare = samples["custody verify"], samples["Ed25519 verify"]
    rate, bare_rate = ledger.events / ours.best, ledger.events / bare.best
    return Figure(
        key="d.custody_verify",
        name="d. custody: verify events/s",
        measured=f"{rate_text(rate)} (median {rate_text(ledger.events / ours.median)})",
        baseline=f"Ed25519 verify: {rate_text(bare_rate)} (same {ledger.mean_bytes:.0f}-byte events)",
        ratio=rate / bare_rate,
        goal=None,
        values={
            "events": ledger.events,
            "events_per_item": EVENTS_PER_ITEM,
            "mean_event_bytes": ledger.mean_bytes,
            "seconds": list(ours.seconds),
            "baseline_seconds": list(bare.seconds),
        },
    )
