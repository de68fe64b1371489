"""Offline verification of a court package: numbered, fail-closed steps, integrity apart from trust.

Steps 1-10 check **integrity** (bytes, manifests, events, chains, proofs and signatures are consistent with one
another); step 11 checks **trust** (the checkpoint is signed by a key the verifier trusts). Every step runs; a
step whose inputs failed is reported as not checked, which counts as failed. A step passes only by reaching its
end: any exception, expected or not, fails it (fail-closed).

    1  bag-declaration    bagit.txt declares BagIt 1.0 (checked when the package is opened)
    2  tag-manifest       every tag file is listed in tagmanifest-sha256.txt with its SHA-256
    3  payload-manifest   every data/ file is listed in manifest-sha256.txt with its SHA-256; Payload-Oxum
    4  keys               keys/*.pub are valid verifier keys
    5  events             custody/events.jsonl holds well-formed, canonical custody events
    6  event-signatures   each event's signature verifies under its signer's key
    7  custody-chains     each item's events form one unbroken chain ending in this package's seal/export
    8  items              custody/items.jsonl, the events and the data/ files agree, byte for byte
    9  checkpoint         log/checkpoint is a signed note signed by a package (or trusted) key
    10 log-inclusion      each event is in the log at its index under the checkpoint's root
    11 trust              the checkpoint carries a signature by a trusted key
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence import bagit
from evidence.checkpoint import Checkpoint, SignedNote, verified_signers, verify_note
from evidence.custody import CustodyEvent, verify_chain, verify_event_signature
from evidence.errors import (
    ChainError,
    CheckpointError,
    FieldproofError,
    ManifestError,
    ProofError,
    VerificationError,
)
from evidence.hashing import Digest, sha256_stream
from evidence.keys import PublicKey
from evidence.merkle import leaf_hash, verify_inclusion
from evidence.package import (
    CHECKPOINT,
    EVENTS,
    FINAL_ACTIONS,
    ITEMS,
    KEYS_DIR,
    PACKAGE_ID_LABEL,
    PROOFS,
    SEAL_ORIGIN_PREFIX,
    ItemRecord,
    ProofRecord,
    parse_jsonl,
)

_MAX_LISTED_PROBLEMS = 5

__all__ = ["STEPS", "Check", "Step", "VerificationReport", "verify_package"]


@dataclass(frozen=True)
class Step:
    number: int
    name: str
    title_zh: str
    title_en: str
    needs: tuple[str, ...] = ()
    trust: bool = False


STEPS: tuple[Step, ...] = (
    Step(1, "bag-declaration", "封存包声明", "bag declaration"),
    Step(2, "tag-manifest", "标签文件清单", "tag manifest"),
    Step(3, "payload-manifest", "数据文件清单", "payload manifest"),
    Step(4, "keys", "签名公钥", "public keys"),
    Step(5, "events", "保管记录格式", "custody event format"),
    Step(6, "event-signatures", "保管记录签名", "custody event signatures", needs=("keys", "events")),
    Step(7, "custody-chains", "保管链", "custody chains", needs=("events",)),
    Step(8, "items", "证据项与文件", "items and files", needs=("events",)),
    Step(9, "checkpoint", "日志检查点签名", "checkpoint signature", needs=("keys",)),
    Step(10, "log-inclusion", "日志包含证明", "log inclusion proofs", needs=("events", "checkpoint")),
    Step(11, "trust", "可信签名", "trusted signature", needs=("checkpoint",), trust=True),
)


@dataclass(frozen=True)
class Check:
    step: Step
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class VerificationReport:
    package: str
    checks: tuple[Check, ...]
    items: int
    events: int

    @property
    def valid(self) -> bool:
        return all(check.ok for check in self.checks if not check.step.trust)

    @property
    def trusted(self) -> bool:
        return self.valid and all(check.ok for check in self.checks if check.step.trust)

    @property
    def exit_status(self) -> int:
        """0 intact and trusted; 1 integrity failure; 3 intact but no trusted signature."""
        if not self.valid:
            return 1
        return 0 if self.trusted else 3

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "trusted": self.trusted,
            "items": self.items,
            "events": self.events,
            "checks": [check.to_json() for check in self.checks],
        }


@dataclass
class _State:
    """What the steps learn about the package, for the steps after them."""

    bag: bagit.Bag
    trusted: Sequence[PublicKey]
    progress: Callable[[int], None] | None
    keys: dict[str, PublicKey] = field(default_factory=dict)
    events: list[CustodyEvent] = field(default_factory=list)
    event_lines: list[bytes] = field(default_factory=list)
    note: SignedNote | None = None
    head: Checkpoint | None = None
    items: list[ItemRecord] = field(default_factory=list)

    @functools.cached_property
    def payload(self) -> dict[str, Digest]:
        """SHA-256 of every data/ file as it is now (hashed once, used by steps 3 and 8)."""
        digests = {}
        for path in sorted(p for p in self.bag.files() if p.startswith("data/")):
            with self.bag.open(path) as stream:
                digests[path] = sha256_stream(stream, progress=self.progress)
        return digests

    @functools.cached_property
    def bag_info(self) -> dict[str, str]:
        return dict(bagit.parse_bag_info(self.bag.read_text(bagit.BAG_INFO)))


def verify_package(
    path: Path, *, trusted: Sequence[PublicKey] = (), progress: Callable[[int], None] | None = None
) -> VerificationReport:
    """Verify a package directory or zip. Raises PackageFormatError only if it is not a readable bag at all."""
    bag = bagit.open_bag(path)
    try:
        state = _State(bag, trusted, progress)
        checks: list[Check] = []
        for step in STEPS:
            checks.append(_run(step, state, checks))
        items = len(state.items) or len({event.item_id for event in state.events})
        return VerificationReport(str(path), tuple(checks), items, len(state.event_lines))
    finally:
        bag.close()


def payload_size(path: Path) -> int:
    """Total bytes under data/ (for a progress bar); 0 if the package cannot be opened."""
    try:
        bag = bagit.open_bag(path)
    except FieldproofError:
        return 0
    try:
        return sum(size for name, size in bag.files().items() if name.startswith("data/"))
    finally:
        bag.close()


def _run(step: Step, state: _State, done: Sequence[Check]) -> Check:
    failed = [c.step for c in done if c.step.name in step.needs and not c.ok]
    if failed:
        names = ", ".join(f"{s.number} {s.name}" for s in failed)
        return Check(step, False, f"not checked: step {names} failed")
    try:
        return Check(step, True, _STEP_FUNCTIONS[step.name](state))
    except VerificationError as exc:
        return Check(step, False, str(exc))
    except FieldproofError as exc:
        return Check(step, False, f"unreadable: {exc}")
    except Exception as exc:  # fail closed: an unexpected error never passes a check
        return Check(step, False, f"internal error while checking ({type(exc).__name__}: {exc})")


def _problems(problems: list[str]) -> str:
    shown = "; ".join(problems[:_MAX_LISTED_PROBLEMS])
    more = len(problems) - _MAX_LISTED_PROBLEMS
    return shown + (f"; and {more} more" if more > 0 else "")


# --- 1-3: the bag -------------------------------------------------------------------------------------------


def _step_bag_declaration(state: _State) -> str:
    return "bagit.txt declares BagIt 1.0 with UTF-8 tag files"


def _step_tag_manifest(state: _State) -> str:
    listed = bagit.parse_manifest(state.bag.read_text(bagit.TAG_MANIFEST), bagit.TAG_MANIFEST)
    present = {p for p in state.bag.files() if not p.startswith("data/") and p != bagit.TAG_MANIFEST}
    problems = [f"{p}: listed as a tag file but in data/" for p in listed if p.startswith("data/")]
    problems += [f"{p}: listed but missing" for p in sorted(set(listed) - present) if not p.startswith("data/")]
    problems += [f"{p}: present but not listed (added?)" for p in sorted(present - set(listed))]
    for path in sorted(present & set(listed)):
        if state.bag.digest(path).sha256 != listed[path]:
            problems.append(f"{path}: SHA-256 differs from the tag manifest (changed)")
    if problems:
        raise ManifestError(f"tag files differ from tagmanifest-sha256.txt: {_problems(problems)}")
    return f"{len(listed)} tag files match their SHA-256"


def _step_payload_manifest(state: _State) -> str:
    listed = bagit.parse_manifest(state.bag.read_text(bagit.MANIFEST), bagit.MANIFEST)
    actual = state.payload
    problems = [f"{p}: listed outside data/" for p in listed if not p.startswith("data/")]
    problems += [f"{p}: listed but missing (deleted?)" for p in sorted(set(listed) - set(actual))]
    problems += [f"{p}: present but not listed (added?)" for p in sorted(set(actual) - set(listed))]
    problems += [
        f"{p}: SHA-256 is {actual[p].sha256[:16]}…, manifest says {listed[p][:16]}… (changed)"
        for p in sorted(set(actual) & set(listed))
        if actual[p].sha256 != listed[p]
    ]
    oxum = f"{sum(d.size for d in actual.values())}.{len(actual)}"
    declared = state.bag_info.get("Payload-Oxum")
    if declared != oxum:
        problems.append(f"Payload-Oxum is {declared}, but the payload is {oxum} (bytes.files)")
    if problems:
        raise ManifestError(f"payload differs from manifest-sha256.txt: {_problems(problems)}")
    return f"{len(actual)} payload files, {sum(d.size for d in actual.values()):,} bytes, match their SHA-256"


# --- 4-8: keys, events, chains, items -----------------------------------------------------------------------


def _step_keys(state: _State) -> str:
    paths = sorted(p for p in state.bag.files() if p.startswith(KEYS_DIR))
    if not paths:
        raise ManifestError("the package holds no public keys (keys/ is empty)")
    for path in paths:
        if not path.endswith(".pub"):
            raise ManifestError(f"{path}: keys/ may hold only .pub verifier keys")
        key = PublicKey.from_text(state.bag.read_text(path))
        state.keys[key.key_id] = key
    return f"{len(state.keys)} keys: " + ", ".join(f"{k.name} ({k.key_id[:16]}…)" for k in state.keys.values())


def _step_events(state: _State) -> str:
    lines = parse_jsonl(state.bag.read(EVENTS), EVENTS)
    if not lines:
        raise ManifestError(f"{EVENTS} holds no events")
    problems = []
    for number, raw, _value in lines:
        try:
            state.events.append(CustodyEvent.from_bytes(raw))
            state.event_lines.append(raw)
        except VerificationError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        raise VerificationError(f"malformed custody events (edited?): {_problems(problems)}")
    return f"{len(state.events)} events are well-formed and canonical"


def _step_event_signatures(state: _State) -> str:
    problems = []
    for number, event in enumerate(state.events, start=1):
        try:
            verify_event_signature(event, state.keys)
        except VerificationError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        raise VerificationError(f"custody event signatures fail: {_problems(problems)}")
    return f"{len(state.events)} event signatures verify"


def _step_custody_chains(state: _State) -> str:
    package_id = state.bag_info.get(PACKAGE_ID_LABEL)
    if not package_id:
        raise ManifestError(f"bag-info.txt has no {PACKAGE_ID_LABEL}")
    chains: dict[str, list[CustodyEvent]] = {}
    for event in state.events:
        chains.setdefault(event.item_id, []).append(event)
    problems = []
    for item_id, chain in chains.items():
        try:
            verify_chain(chain)
            _check_chain_end(chain[-1], package_id, len(chains))
        except ChainError as exc:
            problems.append(str(exc))
        except VerificationError as exc:
            problems.append(f"item {item_id}: {exc}")
    if problems:
        raise ChainError(f"custody chains are broken: {_problems(problems)}")
    return f"{len(chains)} items, each with an unbroken chain ending in this package's seal"


def _check_chain_end(last: CustodyEvent, package_id: str, item_count: int) -> None:
    label = f"item {last.item_id}"
    if last.action not in FINAL_ACTIONS:
        raise ChainError(f"{label}: chain ends with '{last.action}', not with sealing (events cut off?)")
    if last.details.get("package_id") != package_id:
        raise ChainError(f"{label}: sealed into package {last.details.get('package_id')}, not {package_id}")
    if last.details.get("item_count") != item_count:
        declared = last.details.get("item_count")
        raise ChainError(f"{label}: sealed with {declared} items, but the package has {item_count} (item removed?)")


def _step_items(state: _State) -> str:
    records = [ItemRecord.from_json(value) for _n, _raw, value in parse_jsonl(state.bag.read(ITEMS), ITEMS)]
    by_id = {record.item_id: record for record in records}
    if len(by_id) != len(records):
        raise ManifestError(f"{ITEMS} lists an item twice")
    state.items = records
    event_hash = {event.item_id: event.item_sha256 for event in state.events}
    problems = [f"item {i}: has custody events but no item record" for i in sorted(set(event_hash) - set(by_id))]
    problems += [f"item {i}: has no custody events" for i in sorted(set(by_id) - set(event_hash))]
    problems += _payload_problems(records, event_hash, state.payload)
    if problems:
        raise VerificationError(f"items, events and files disagree: {_problems(problems)}")
    return f"{len(records)} items: each file's SHA-256 equals the one in its custody events"


def _payload_problems(
    records: Sequence[ItemRecord], event_hash: dict[str, str], payload: dict[str, Digest]
) -> list[str]:
    problems = []
    claimed = {record.path for record in records}
    problems += [f"{p}: a data file that belongs to no item (added?)" for p in sorted(set(payload) - claimed)]
    for record in records:
        actual = payload.get(record.path)
        if actual is None:
            problems.append(f"{record.path}: the file of item {record.item_id} is missing (deleted?)")
        elif actual.sha256 != event_hash.get(record.item_id, actual.sha256):
            problems.append(f"{record.path}: SHA-256 {actual.sha256[:16]}… differs from its custody events (changed)")
        elif actual.sha256 != record.sha256 or actual.size != record.size:
            problems.append(f"{record.path}: SHA-256 or size differs from {ITEMS}")
    return problems


# --- 9-11: the log ------------------------------------------------------------------------------------------


def _step_checkpoint(state: _State) -> str:
    note = SignedNote.parse(state.bag.read(CHECKPOINT))
    # Trusted keys join the package's keys here, so a forged signature claiming a trusted key fails integrity.
    signers = verify_note(note, [*state.keys.values(), *state.trusted])
    state.note, state.head = note, note.checkpoint
    names = ", ".join(f"{k.name} ({k.key_id[:16]}…)" for k in signers)
    return f"checkpoint of {state.head.origin} at size {state.head.size} is signed by {names}"


def _step_log_inclusion(state: _State) -> str:
    if state.head is None:
        raise CheckpointError("no checkpoint")
    records = [ProofRecord.from_json(value) for _n, _raw, value in parse_jsonl(state.bag.read(PROOFS), PROOFS)]
    if len(records) != len(state.event_lines):
        raise ProofError(f"{len(records)} proofs for {len(state.event_lines)} events (event added or removed?)")
    previous = -1
    for number, (raw, record) in enumerate(zip(state.event_lines, records, strict=True), start=1):
        if record.tree_size != state.head.size:
            raise ProofError(f"line {number}: proof is for tree size {record.tree_size}, not {state.head.size}")
        if record.index <= previous:
            raise ProofError(f"line {number}: log index {record.index} is not after {previous} (reordered?)")
        try:
            verify_inclusion(leaf_hash(raw), record.index, record.tree_size, record.path, state.head.root)
        except ProofError as exc:
            raise ProofError(f"event line {number} is not leaf {record.index} of the signed log: {exc}") from exc
        previous = record.index
    if state.head.origin.startswith(SEAL_ORIGIN_PREFIX) and len(records) != state.head.size:
        raise ProofError(f"a sealed log holds {state.head.size} events, but the package has {len(records)}")
    return f"{len(records)} events are in the signed log (size {state.head.size})"


def _step_trust(state: _State) -> str:
    if state.note is None:
        raise CheckpointError("no checkpoint")
    if not state.trusted:
        raise CheckpointError("no trusted key was given (--trust KEY.pub): the signatures are not anchored")
    signers = verified_signers(state.note, state.trusted)
    if not signers:
        trusted_names = ", ".join(k.name for k in state.trusted)
        raise CheckpointError(f"the checkpoint carries no signature by a trusted key ({trusted_names})")
    return "signed by trusted " + ", ".join(f"{k.name} ({k.key_id[:16]}…)" for k in signers)


_STEP_FUNCTIONS: dict[str, Callable[[_State], str]] = {
    "bag-declaration": _step_bag_declaration,
    "tag-manifest": _step_tag_manifest,
    "payload-manifest": _step_payload_manifest,
    "keys": _step_keys,
    "events": _step_events,
    "event-signatures": _step_event_signatures,
    "custody-chains": _step_custody_chains,
    "items": _step_items,
    "checkpoint": _step_checkpoint,
    "log-inclusion": _step_log_inclusion,
    "trust": _step_trust,
}
