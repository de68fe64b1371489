"""The fieldproof court package: a BagIt 1.0 bag with custody events, log proofs, a checkpoint and keys.

Layout (documented for other verifiers in docs/package-format.md)::

    bagit.txt, bag-info.txt, manifest-sha256.txt, tagmanifest-sha256.txt
    data/<item id>/<file name>      the original bytes of each item
    custody/items.jsonl             one canonical JSON object per item (the 电子数据清单)
    custody/events.jsonl            one canonical JSON custody event per line, in log order
    log/checkpoint                  the signed checkpoint (C2SP signed note)
    log/proofs.jsonl                one inclusion proof per event line, same order
    keys/<key id>.pub               verifier keys of every signer
    report.html                     the human-readable custody report

Every item's chain ends with a ``sealed`` or ``exported`` event naming this package's id and its item count, so
an item removed, added or cut short shows even where the log holds events of other packages.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence import bagit
from evidence.canonical import canonical_bytes, loads
from evidence.checkpoint import SignedNote
from evidence.custody import CustodyEvent
from evidence.errors import CanonicalJSONError, ManifestError, PackageFormatError, StoreError
from evidence.hashing import Digest, copy_hashing, is_sha256_hex
from evidence.keys import PublicKey

FORMAT_VERSION = "1"
EVENTS = "custody/events.jsonl"
ITEMS = "custody/items.jsonl"
CHECKPOINT = "log/checkpoint"
PROOFS = "log/proofs.jsonl"
KEYS_DIR = "keys/"
REPORT = "report.html"
PACKAGE_ID_LABEL = "Fieldproof-Package-Id"
FORMAT_LABEL = "Fieldproof-Package-Format"
FINAL_ACTIONS = frozenset({"sealed", "exported"})
# A sealed package holds its whole log: every leaf of a log with this origin prefix must be in the package.
SEAL_ORIGIN_PREFIX = "fieldproof.seal/"
REQUIRED_TAG_FILES = (EVENTS, ITEMS, CHECKPOINT, PROOFS, REPORT)

__all__ = [
    "CHECKPOINT",
    "EVENTS",
    "FINAL_ACTIONS",
    "ITEMS",
    "KEYS_DIR",
    "PACKAGE_ID_LABEL",
    "PROOFS",
    "REPORT",
    "SEAL_ORIGIN_PREFIX",
    "ItemRecord",
    "PackageWriter",
    "ProofRecord",
    "payload_path",
]


@dataclass(frozen=True)
class ItemRecord:
    """One line of custody/items.jsonl: an evidence item and where its bytes are in the bag."""

    item_id: str
    path: str
    sha256: str
    size: int
    name: str
    media_type: str
    kind: str

    def to_json(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "name": self.name,
            "media_type": self.media_type,
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, value: Any) -> ItemRecord:
        fields = ("item_id", "path", "sha256", "size", "name", "media_type", "kind")
        if not isinstance(value, dict) or set(value) != set(fields):
            raise ManifestError(f"item record must have exactly the fields {', '.join(fields)}")
        if type(value["size"]) is not int or value["size"] < 0:
            raise ManifestError("item size is not a non-negative integer")
        if not all(isinstance(value[f], str) for f in fields if f != "size"):
            raise ManifestError("item record fields must be strings")
        if not is_sha256_hex(value["sha256"]):
            raise ManifestError(f"item {value['item_id']}: sha256 is not lower-case hex")
        return cls(**{f: value[f] for f in fields})


@dataclass(frozen=True)
class ProofRecord:
    """One line of log/proofs.jsonl: where an event sits in the log, and its audit path."""

    index: int
    tree_size: int
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "path": [base64.b64encode(node).decode() for node in self.path],
        }

    @classmethod
    def from_json(cls, value: Any) -> ProofRecord:
        if not isinstance(value, dict) or set(value) != {"index", "tree_size", "path"}:
            raise ManifestError("proof record must have exactly index, tree_size and path")
        index, tree_size, path = value["index"], value["tree_size"], value["path"]
        if type(index) is not int or type(tree_size) is not int or not isinstance(path, list):
            raise ManifestError("proof record index and tree_size must be integers and path a list")
        try:
            nodes = tuple(base64.b64decode(node, validate=True) for node in path)
        except (binascii.Error, TypeError) as exc:
            raise ManifestError("proof path holds a value that is not base64") from exc
        return cls(index, tree_size, nodes)


def payload_path(item_id: str, name: str) -> str:
    """Where an item's bytes go in the bag: data/<item id>/<file name made safe as one path component>."""
    safe = "".join("_" if c in "/\\" or ord(c) < 0x20 or c == "\x7f" else c for c in name)
    if safe in ("", ".", ".."):
        safe = "file"
    return f"data/{item_id}/{safe}"


def jsonl(records: Iterable[Any]) -> bytes:
    return b"".join(canonical_bytes(record) + b"\n" for record in records)


def parse_jsonl(data: bytes, name: str) -> list[tuple[int, bytes, Any]]:
    """Split a JSON Lines tag file into (line number, exact line bytes, parsed value)."""
    if data and not data.endswith(b"\n"):
        raise ManifestError(f"{name} does not end with a newline")
    lines = data.split(b"\n")[:-1] if data else []
    parsed = []
    for number, line in enumerate(lines, start=1):
        try:
            parsed.append((number, line, loads(line)))
        except CanonicalJSONError as exc:
            raise ManifestError(f"{name} line {number}: {exc}") from exc
    return parsed


class PackageWriter:
    """Builds a package: payload copied and hashed in one pass, then the tag files, then (optionally) a zip.

    The target must not exist. Work happens in a staging directory beside it, renamed (directory) or zipped and
    linked (``.zip``) into place only when complete, so a failed run never leaves something that looks finished.
    """

    def __init__(self, target: Path, package_id: str) -> None:
        if target.exists():
            raise PackageFormatError(f"{target} already exists; a package is never overwritten")
        if not target.parent.is_dir():
            raise PackageFormatError(f"{target.parent} is not a directory")
        self.target = target
        self.package_id = package_id
        self.zipped = target.suffix.lower() == ".zip"
        self.staging = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.partial"
        self.staging.mkdir()
        self._payload: dict[str, Digest] = {}

    def add_file(self, item_id: str, name: str, source: Path, progress: Callable[[int], None] | None = None) -> str:
        """Copy ``source`` into the payload, hashing as it copies; return its path in the bag."""
        relative = payload_path(item_id, name)
        destination = self.staging / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        self._payload[relative] = copy_hashing(source, destination, progress=progress)
        return relative

    def payload_digest(self, relative: str) -> Digest:
        return self._payload[relative]

    def finish(
        self,
        *,
        items: Sequence[ItemRecord],
        events: Sequence[CustodyEvent],
        proofs: Sequence[ProofRecord],
        checkpoint: SignedNote,
        keys: Iterable[PublicKey],
        report_html: str,
        description: str,
        extra_tag_files: Mapping[str, bytes] | None = None,
    ) -> Path:
        """Write the tag files (plus ``extra_tag_files``, e.g. a PDF report) and publish the package."""
        tag_files = {
            **(extra_tag_files or {}),
            ITEMS: jsonl(item.to_json() for item in items),
            EVENTS: b"".join(event.to_bytes() + b"\n" for event in events),
            PROOFS: jsonl(proof.to_json() for proof in proofs),
            CHECKPOINT: checkpoint.to_bytes(),
            REPORT: report_html.encode(),
            **{f"{KEYS_DIR}{key.key_id[:16]}.pub": (key.to_text() + "\n").encode() for key in keys},
        }
        for relative, data in tag_files.items():
            self._write(relative, data)
        self._write_bag_files(description)
        return self._publish()

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def _write_bag_files(self, description: str) -> None:
        self._write(bagit.BAGIT_TXT, bagit.BAGIT_DECLARATION.encode())
        self._write(bagit.MANIFEST, bagit.format_manifest({p: d.sha256 for p, d in self._payload.items()}).encode())
        info = [
            ("Bag-Software-Agent", "fieldproof"),
            ("External-Description", description),
            ("Payload-Oxum", bagit.payload_oxum(self._payload.values())),
            (PACKAGE_ID_LABEL, self.package_id),
            (FORMAT_LABEL, FORMAT_VERSION),
        ]
        self._write(bagit.BAG_INFO, bagit.format_bag_info(info).encode())
        bagit.write_tag_manifest(self.staging)
        with open(self.staging / bagit.TAG_MANIFEST, "rb") as stream:
            os.fsync(stream.fileno())

    def _write(self, relative: str, data: bytes) -> None:
        path = self.staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())

    def _publish(self) -> Path:
        if not self.zipped:
            os.rename(self.staging, self.target)  # fails rather than replaces a non-empty directory
            return self.target
        temporary = self.staging.with_suffix(".zip")
        top = self.target.stem
        with zipfile.ZipFile(temporary, "x") as archive:
            for path in sorted(p for p in self.staging.rglob("*") if p.is_file()):
                relative = path.relative_to(self.staging).as_posix()
                compression = zipfile.ZIP_STORED if relative.startswith("data/") else zipfile.ZIP_DEFLATED
                archive.write(path, f"{top}/{relative}", compress_type=compression)
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        try:
            os.link(temporary, self.target)
        except FileExistsError as exc:
            raise StoreError(f"{self.target} appeared while the package was written") from exc
        finally:
            temporary.unlink(missing_ok=True)
            self.abort()
        return self.target
