"""BagIt 1.0 (RFC 8493): reading bags from a directory or a zip file, and writing their tag files.

Readers expose one interface (``Bag``) over a directory and over a zip holding one top-level directory
(RFC 8493 §4), so verification reads zipped packages in place, never extracting them. Readers are strict:
symbolic links, special files, absolute or ``..`` member names and duplicate zip members are refused, because a
court package has no use for them and each is a way to smuggle content past a check.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from evidence.errors import ManifestError, PackageFormatError
from evidence.hashing import BinaryReader, Digest, sha256_stream

BAGIT_TXT = "bagit.txt"
BAG_INFO = "bag-info.txt"
MANIFEST = "manifest-sha256.txt"
TAG_MANIFEST = "tagmanifest-sha256.txt"
BAGIT_DECLARATION = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
MAX_TAG_FILE_BYTES = 256 * 1024 * 1024  # tag files are read whole; payload files are streamed
_MANIFEST_LINE = re.compile(r"([0-9a-fA-F]{64})[ \t]+(.+)")

__all__ = [
    "BAGIT_DECLARATION",
    "BAG_INFO",
    "MANIFEST",
    "TAG_MANIFEST",
    "Bag",
    "DirectoryBag",
    "ZipBag",
    "decode_manifest_path",
    "encode_manifest_path",
    "format_bag_info",
    "format_manifest",
    "open_bag",
    "parse_bag_info",
    "parse_manifest",
    "payload_oxum",
    "regenerate",
    "write_tag_manifest",
]


def encode_manifest_path(path: str) -> str:
    """Percent-encode CR, LF and % in a manifest file path (RFC 8493 §2.1.3)."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_manifest_path(text: str) -> str:
    return re.sub(r"%(25|0[dD]|0[aA])", lambda m: {"25": "%", "0d": "\r", "0a": "\n"}[m.group(1).lower()], text)


def format_manifest(digests: Mapping[str, str]) -> str:
    return "".join(f"{sha}  {encode_manifest_path(path)}\n" for path, sha in sorted(digests.items()))


def parse_manifest(text: str, name: str) -> dict[str, str]:
    """Parse a SHA-256 manifest into {path: lower-case hex}; refuse malformed and duplicate entries."""
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _MANIFEST_LINE.fullmatch(line)
        if not match:
            raise ManifestError(f"{name} line {number} is not '<sha256> <path>'")
        path = decode_manifest_path(match.group(2))
        _check_member_name(path)
        if path in entries:
            raise ManifestError(f"{name} lists {path} twice")
        entries[path] = match.group(1).lower()
    return entries


def payload_oxum(digests: Iterable[Digest]) -> str:
    sizes = [d.size for d in digests]
    return f"{sum(sizes)}.{len(sizes)}"


def format_bag_info(fields: Iterable[tuple[str, str]]) -> str:
    lines = []
    for label, value in fields:
        if ":" in label or "\n" in label or "\n" in value:
            raise ValueError(f"bag-info field {label!r} cannot be written on one line")
        lines.append(f"{label}: {value}\n")
    return "".join(lines)


def parse_bag_info(text: str) -> list[tuple[str, str]]:
    """Parse bag-info.txt into (label, value) pairs; continuation lines (leading whitespace) are joined."""
    fields: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and fields:
            label, value = fields[-1]
            fields[-1] = (label, f"{value} {line.strip()}")
            continue
        label, colon, value = line.partition(":")
        if not colon or not label.strip():
            raise ManifestError(f"bag-info.txt line {line[:40]!r} is not 'Label: value'")
        fields.append((label.strip(), value.strip()))
    return fields


def _check_member_name(path: str) -> None:
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or "\\" in path or any(p in ("..", ".") for p in parts) or "\0" in path:
        raise PackageFormatError(f"unsafe path in package: {path!r}")


class Bag(ABC):
    """Read access to a bag's files by relative POSIX path."""

    label: str

    @abstractmethod
    def files(self) -> dict[str, int]:
        """Every regular file in the bag: {relative path: size}."""

    @abstractmethod
    @contextmanager
    def open(self, path: str) -> Iterator[BinaryReader]:
        """Open one file for reading."""

    def read(self, path: str) -> bytes:
        size = self.files().get(path)
        if size is None:
            raise ManifestError(f"{path} is missing from the package")
        if size > MAX_TAG_FILE_BYTES:
            raise PackageFormatError(f"{path} is {size} bytes, too large for a tag file")
        with self.open(path) as stream:
            return stream.read() or b""

    def read_text(self, path: str) -> str:
        data = self.read(path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ManifestError(f"{path} is not UTF-8 text") from exc

    def digest(self, path: str) -> Digest:
        with self.open(path) as stream:
            return sha256_stream(stream)

    def close(self) -> None:  # noqa: B027 - only zip bags hold a resource; the others need nothing
        """Release resources (a zip file handle)."""


class DirectoryBag(Bag):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)
        self._files = self._scan()

    def _scan(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for directory, subdirectories, names in os.walk(self.root, followlinks=False):
            for name in [*subdirectories, *names]:
                full = Path(directory, name)
                mode = full.lstat().st_mode
                relative = full.relative_to(self.root).as_posix()
                if stat.S_ISLNK(mode):
                    raise PackageFormatError(f"{relative} is a symbolic link; packages hold only regular files")
                if stat.S_ISREG(mode):
                    found[relative] = full.stat().st_size
                elif not stat.S_ISDIR(mode):
                    raise PackageFormatError(f"{relative} is not a regular file")
        return found

    def files(self) -> dict[str, int]:
        return dict(self._files)

    @contextmanager
    def open(self, path: str) -> Iterator[BinaryReader]:
        _check_member_name(path)
        if path not in self._files:
            raise ManifestError(f"{path} is missing from the package")
        with open(self.root / path, "rb", buffering=0) as stream:
            yield stream


class ZipBag(Bag):
    """A bag serialized as a zip holding exactly one top-level directory (RFC 8493 §4)."""

    def __init__(self, path: Path) -> None:
        self.label = str(path)
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise PackageFormatError(f"{path} is not a readable zip file: {exc}") from exc
        try:
            self._prefix, self._members = self._index()
        except BaseException:
            self._zip.close()
            raise

    def _index(self) -> tuple[str, dict[str, zipfile.ZipInfo]]:
        members: dict[str, zipfile.ZipInfo] = {}
        tops: set[str] = set()
        for info in self._zip.infolist():
            _check_member_name(info.filename.rstrip("/"))
            tops.add(info.filename.split("/", 1)[0])
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise PackageFormatError(f"{info.filename} is encrypted")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise PackageFormatError(f"{info.filename} is a symbolic link")
            if info.filename in members:
                raise PackageFormatError(f"zip holds {info.filename} twice")
            members[info.filename] = info
        if len(tops) != 1:
            raise PackageFormatError(f"a zipped bag must hold one top-level directory, found {len(tops)}")
        prefix = f"{tops.pop()}/"
        if any(not name.startswith(prefix) for name in members):
            raise PackageFormatError("a zipped bag must hold one top-level directory")
        return prefix, {name[len(prefix) :]: info for name, info in members.items()}

    def files(self) -> dict[str, int]:
        return {name: info.file_size for name, info in self._members.items()}

    @contextmanager
    def open(self, path: str) -> Iterator[BinaryReader]:
        info = self._members.get(path)
        if info is None:
            raise ManifestError(f"{path} is missing from the package")
        try:
            with self._zip.open(info) as stream:
                yield stream  # type: ignore[misc]
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ManifestError(f"{path} cannot be read from the zip: {exc}") from exc

    def close(self) -> None:
        self._zip.close()


def open_bag(path: Path) -> Bag:
    """Open a bag directory or zipped bag; check its declaration (bagit.txt)."""
    if path.is_dir():
        bag: Bag = DirectoryBag(path)
    elif path.is_file():
        bag = ZipBag(path)
    else:
        raise PackageFormatError(f"{path} does not exist")
    try:
        declaration = bag.read(BAGIT_TXT) if BAGIT_TXT in bag.files() else None
    except (ManifestError, PackageFormatError):
        bag.close()
        raise
    if declaration is None:
        bag.close()
        raise PackageFormatError(f"{path} is not a BagIt bag: bagit.txt is missing")
    if declaration.replace(b"\r\n", b"\n") != BAGIT_DECLARATION.encode():
        bag.close()
        raise PackageFormatError("bagit.txt does not declare BagIt-Version 1.0 with UTF-8 tag files")
    return bag


def write_tag_manifest(root: Path) -> None:
    """(Re)write tagmanifest-sha256.txt over every file outside data/ in the bag directory ``root``."""
    digests = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if not relative.startswith("data/") and relative != TAG_MANIFEST:
            with open(path, "rb") as stream:
                digests[relative] = sha256_stream(stream).sha256
    (root / TAG_MANIFEST).write_text(format_manifest(digests), encoding="utf-8")


def regenerate(root: Path) -> None:
    """Recompute a bag directory's payload manifest, Payload-Oxum and tag manifest from its files as they are.

    A plain BagIt validator then accepts the bag, whatever was changed: this is why fieldproof anchors packages
    in signed custody events and a signed log, and why the demo and tests use this to play the forger.
    """
    payload = {}
    for path in sorted(p for p in (root / "data").rglob("*") if p.is_file()):
        with open(path, "rb") as stream:
            payload[path.relative_to(root).as_posix()] = sha256_stream(stream)
    (root / MANIFEST).write_text(format_manifest({p: d.sha256 for p, d in payload.items()}), encoding="utf-8")
    info_path = root / BAG_INFO
    fields = [
        (label, value) for label, value in parse_bag_info(info_path.read_text("utf-8")) if label != "Payload-Oxum"
    ]
    info_path.write_text(format_bag_info([*fields, ("Payload-Oxum", payload_oxum(payload.values()))]), "utf-8")
    write_tag_manifest(root)
