"""Figure h: importing a body camera's card, as ``fieldproof gateway import-media`` does, against two passes.

The card (``DCIM/100DSJT9/``) holds ``VIDEOS`` MP4 recordings, a minimal valid ``ftyp`` + ``moov``/``mvhd`` (with
a location atom) before a large ``mdat`` of random bytes, and ``PHOTOS`` real JPEGs with camera EXIF and GPS,
about ``PHOTO_SHARE`` of the bytes; the videos make up the rest, so the card is exactly the size asked for. File
names follow the body-camera scheme ``DEVICE_OFFICER_YYYYMMDDhhmmss_SEQ`` with no gaps.

Ours: ``import_media`` into a fresh gateway data folder (``Spool`` and ``gateway_key`` made inside the timed
span), then ``after_import`` (thumbnails of the photos): copies hashed in one read pass and fsynced, metadata
from the stored copies, items and signed custody events in SQLite. The baseline: ``cp -r CARD DEST``, ``sync``,
then one ``openssl dgst -sha256`` listing every copied file. Same filesystem, same untimed set-up as figure a
(memory recycled, everything synced, the card warmed into the page cache), destinations removed between runs.
Every run's digests are checked against the card's. Peak memory is measured in fresh child processes (as c).
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import piexif
from PIL import Image

from bench.files import recycle_memory, warm, workspace
from bench.hashing import _speed_figure
from bench.memory import MEMORY_GOAL
from bench.progress import note
from bench.report import Figure, Goal, MiB, mib_text, size_text
from bench.timing import Trial, interleave
from device_gateway.identity import gateway_key
from device_gateway.media.derived import after_import
from device_gateway.media.importer import ImportOptions, ImportReport, import_media
from device_gateway.spool import Spool
from evidence.hashing import sha256_file

IMPORT_GOAL = Goal(">=", 1.1)
VIDEOS = 4
PHOTOS = 20
PHOTO_SHARE = 0.05  # of the card's bytes
MAX_PHOTO_PIXELS = 12_000_000  # a 4000 x 3000 still; larger cards get larger videos, not larger photos
PHOTO_QUALITY = 90
DEVICE, OFFICER, MAKE, SERIAL = "DSJ-T9", "012345", "Hikvision", "DSJ000123"
FOLDER = Path("DCIM") / "100DSJT9"
START_UTC = datetime(2026, 11, 29, 1, 30, tzinfo=UTC)
CAMERA_FAST = timedelta(seconds=12)  # the camera's clock runs ahead of GNSS time
LOCAL = timedelta(hours=8)  # the camera shows Asia/Shanghai time
LAT, LON, ALT = 30.274085, 120.155070, 12.5
MP4_EPOCH_OFFSET = 2082844800  # seconds from 1904-01-01 to 1970-01-01
_CHUNK = 1024 * 1024
_REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Card:
    """A generated memory card: its root folder, and the SHA-256 of every file by its path under the root."""

    root: Path
    files: dict[str, str]
    size: int
    photos: int
    photo_size: tuple[int, int]

    @property
    def paths(self) -> list[Path]:
        """Every file of the card."""
        return [self.root / name for name in self.files]

    @property
    def sizes(self) -> dict[str, int]:
        """Every file's size, by its path under the root."""
        return {name: (self.root / name).stat().st_size for name in self.files}


def media_figures(size: int, workdir: Path, rounds: int, *, recycle: bool) -> list[Figure]:
    """Figure h: the import's speed against ``cp -r && sync && openssl dgst``, and its peak memory."""
    with workspace(workdir) as work:
        card = make_card(work / "card", size)
        prepare = _preparation(card, work / "scratch.bin" if recycle else None)
        trials = {
            "cp+sync+openssl": _baseline_trial(prepare, card, work / "baseline-copy"),
            "import-media": _import_trial(prepare, card, work / "gateway-data"),
        }
        samples = interleave(trials, rounds, "h. media import")
        speed = _speed_figure(
            "h1.import_media", f"h1. media import: import_media + after_import, {_card_text(card)}",
            samples["import-media"], baseline=samples["cp+sync+openssl"],
            label="cp -r && sync && openssl dgst", size=card.size, goal=IMPORT_GOAL,
        )  # fmt: skip
        speed = replace(speed, values={**speed.values, **_card_values(card)})
        return [speed, memory_figure(card, work / "memory-data")]


def _card_values(card: Card) -> dict[str, Any]:
    """What the JSON report records about the card."""
    videos = [size for name, size in card.sizes.items() if name.endswith(".MP4")]
    return {
        "files": len(card.files),
        "photos": card.photos,
        "photo_pixels": list(card.photo_size),
        "video_bytes": videos,
    }


def _card_text(card: Card) -> str:
    """``1 GiB (4 MP4 + 20 JPEG)``."""
    return f"{size_text(card.size)} ({len(card.files) - card.photos} MP4 + {card.photos} JPEG)"


# The card.


def make_card(root: Path, size: int) -> Card:
    """Photos first (their size is what it is), then videos that fill the card to exactly ``size`` bytes."""
    folder = root / FOLDER
    folder.mkdir(parents=True)
    photo_size = _photo_dimensions(size * PHOTO_SHARE / PHOTOS)
    note(f"h. writing a {size_text(size)} card: {PHOTOS} JPEGs of {photo_size[0]}x{photo_size[1]}, {VIDEOS} MP4s")
    slots = _slots()
    for sequence, moment in slots["photo"]:
        _write_photo(folder / _name(sequence, moment, "JPG"), moment, photo_size)
    photo_bytes = sum(path.stat().st_size for path in folder.iterdir())
    for (sequence, moment), payload in zip(slots["video"], _video_payloads(size - photo_bytes), strict=True):
        _write_video(folder / _name(sequence, moment, "MP4"), moment, payload)
    os.sync()
    files = {str(path.relative_to(root)): sha256_file(path).sha256 for path in sorted(folder.iterdir())}
    total = sum((root / name).stat().st_size for name in files)
    return Card(root, files, total, PHOTOS, photo_size)


def _slots() -> dict[str, list[tuple[int, datetime]]]:
    """Sequence numbers and GNSS times: each recording followed by a few stills, 75 s apart, no gaps."""
    per_video = PHOTOS // VIDEOS
    slots: dict[str, list[tuple[int, datetime]]] = {"video": [], "photo": []}
    for sequence in range(1, VIDEOS + PHOTOS + 1):
        kind = "video" if (sequence - 1) % (per_video + 1) == 0 and len(slots["video"]) < VIDEOS else "photo"
        slots[kind].append((sequence, START_UTC + timedelta(seconds=75 * sequence)))
    return slots


def _name(sequence: int, moment: datetime, extension: str) -> str:
    """``DSJ-T9_012345_20261129093115_0003.JPG``: the camera's local (fast) clock time in the name."""
    shown = _camera_clock(moment)
    return f"{DEVICE}_{OFFICER}_{shown:%Y%m%d%H%M%S}_{sequence:04d}.{extension}"


def _camera_clock(moment: datetime) -> datetime:
    """What the camera's clock shows at ``moment`` (naive, local, fast)."""
    return (moment + LOCAL + CAMERA_FAST).replace(tzinfo=None)


def _video_payloads(remaining: int) -> list[int]:
    """``mdat`` payload sizes of the videos: ``remaining`` bytes less their headers, split almost evenly."""
    header = len(_mp4_header(START_UTC, 1 << 33))  # the longest header (64-bit mdat size)
    available = remaining - VIDEOS * header
    if available < VIDEOS * _CHUNK:
        raise SystemExit(f"h: --size too small for {PHOTOS} photos and {VIDEOS} videos (try 64MiB or more)")
    sizes = [available // VIDEOS] * VIDEOS
    sizes[0] += available - sum(sizes)
    return [payload + header - len(_mp4_header(START_UTC, payload)) for payload in sizes]


# Videos: a minimal MP4 header, then random bytes.


def _write_video(path: Path, moment: datetime, payload: int) -> None:
    """A new recording started at ``moment`` with ``payload`` random bytes of ``mdat``, fsynced."""
    with open(path, "xb", buffering=0) as stream:
        stream.write(_mp4_header(moment, payload))
        remaining = payload
        while remaining:
            remaining -= stream.write(os.urandom(min(_CHUNK, remaining)))
        os.fsync(stream.fileno())


def _mp4_header(moment: datetime, payload: int) -> bytes:
    """``ftyp``, ``moov`` (``mvhd`` version 0 with the start time in UTC, a ``©xyz`` location), the ``mdat`` header."""
    seconds = int(moment.timestamp()) + MP4_EPOCH_OFFSET
    mvhd = bytes(4) + struct.pack(">IIII", seconds, seconds, 1000, 300_000) + bytes(80)
    location = f"{LAT:+.4f}{LON:+.4f}/".encode()
    udta = _box(b"udta", _box(b"\xa9xyz", struct.pack(">HH", len(location), 0x15C7) + location))
    ftyp = _box(b"ftyp", b"isom" + bytes(4) + b"isomavc1mp41")
    return ftyp + _box(b"moov", _box(b"mvhd", mvhd) + udta) + _mdat_header(payload)


def _box(kind: bytes, payload: bytes) -> bytes:
    """An ISO BMFF box: 32-bit size, type, payload."""
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _mdat_header(payload: int) -> bytes:
    """The ``mdat`` box header, with a 64-bit size when the payload needs it."""
    if payload + 8 < 1 << 32:
        return struct.pack(">I", 8 + payload) + b"mdat"
    return struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 16 + payload)


# Photos: real JPEGs with what a camera writes into EXIF.


def _photo_dimensions(target_bytes: float) -> tuple[int, int]:
    """16:9 dimensions whose JPEG comes to about ``target_bytes``, from the bytes per pixel of a sample."""
    sample = (1024, 576)
    per_pixel = len(_encode(_picture(sample), b"")) / (sample[0] * sample[1])
    pixels = min(target_bytes / per_pixel, MAX_PHOTO_PIXELS)
    width = max(64, round(math.sqrt(pixels * 16 / 9) / 16) * 16)
    return width, width * 9 // 16


def _picture(size: tuple[int, int]) -> Image.Image:
    """Smooth gradients with sensor-like noise: compresses about as a photograph does, never twice the same."""
    gradient = Image.linear_gradient("L").resize(size)
    radial = Image.radial_gradient("L").resize(size)
    return Image.merge("RGB", [gradient, Image.effect_noise(size, 16), radial])


def _encode(picture: Image.Image, exif: bytes) -> bytes:
    """The JPEG bytes of ``picture`` with the EXIF block ``exif``."""
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=PHOTO_QUALITY, exif=exif)
    return out.getvalue()


def _write_photo(path: Path, moment: datetime, size: tuple[int, int]) -> None:
    """A new still taken at ``moment``, fsynced."""
    with open(path, "xb") as stream:
        stream.write(_encode(_picture(size), _exif(moment)))
        os.fsync(stream.fileno())


def _exif(moment: datetime) -> bytes:
    """Make, model and serial; the camera clock's time and zone; a GNSS fix with its UTC time."""
    shown = _camera_clock(moment)
    exif = {
        "0th": {piexif.ImageIFD.Make: MAKE.encode(), piexif.ImageIFD.Model: DEVICE.encode()},
        "Exif": {
            piexif.ExifIFD.BodySerialNumber: SERIAL.encode(),
            piexif.ExifIFD.DateTimeOriginal: f"{shown:%Y:%m:%d %H:%M:%S}".encode(),
            piexif.ExifIFD.OffsetTimeOriginal: b"+08:00",
        },
        "GPS": _gps(moment),
    }
    return bytes(piexif.dump(exif))


def _gps(moment: datetime) -> dict[int, Any]:
    return {
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: _dms(LAT),
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: _dms(LON),
        piexif.GPSIFD.GPSAltitudeRef: 0,
        piexif.GPSIFD.GPSAltitude: (round(ALT * 100), 100),
        piexif.GPSIFD.GPSMapDatum: b"WGS-84",
        piexif.GPSIFD.GPSDateStamp: f"{moment:%Y:%m:%d}".encode(),
        piexif.GPSIFD.GPSTimeStamp: ((moment.hour, 1), (moment.minute, 1), (moment.second, 1)),
    }


def _dms(degrees: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    whole = int(degrees)
    minutes = int((degrees - whole) * 60)
    seconds = (degrees - whole - minutes / 60) * 3600
    return (whole, 1), (minutes, 1), (round(seconds * 10_000), 10_000)


# The timed runs.


def _preparation(card: Card, scratch: Path | None) -> Callable[[], None]:
    """As for figure a: recycle memory (unless told not to), sync, warm every file of the card."""

    def prepare() -> None:
        if scratch is not None:
            recycle_memory(scratch, card.size)
        os.sync()
        for path in card.paths:
            warm(path)

    return prepare


def _baseline_trial(prepare: Callable[[], None], card: Card, destination: Path) -> Trial:
    """``cp -r CARD DEST && sync && openssl dgst -sha256 DEST/…`` (every file), checked, ``DEST`` removed."""
    copies = [destination / name for name in card.files]

    def trial() -> float:
        prepare()
        start = time.perf_counter()
        subprocess.run(["cp", "-r", str(card.root), str(destination)], check=True)
        subprocess.run(["sync"], check=True)
        digests = _openssl_digests(copies)
        elapsed = time.perf_counter() - start
        shutil.rmtree(destination)
        _check("cp+sync+openssl", {str(path.relative_to(destination)): d for path, d in digests.items()}, card)
        return elapsed

    return trial


def _openssl_digests(paths: list[Path]) -> dict[Path, str]:
    """One ``openssl dgst -sha256`` over every path; its ``SHA2-256(PATH)= HEX`` lines, by path."""
    command = ["openssl", "dgst", "-sha256", *map(str, paths)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    lines = output.splitlines()
    if len(lines) != len(paths):
        raise RuntimeError(f"openssl dgst printed {len(lines)} lines for {len(paths)} files")
    return {path: line.rsplit("= ", 1)[1].strip() for path, line in zip(paths, lines, strict=True)}


def _import_trial(prepare: Callable[[], None], card: Card, data: Path) -> Trial:
    """``import_card`` into a fresh data folder, checked, the folder removed."""

    def trial() -> float:
        prepare()
        start = time.perf_counter()
        report = import_card(card.root, data)
        elapsed = time.perf_counter() - start
        summary = summarize(report, card.root, data)
        shutil.rmtree(data)
        check_import("import-media", summary, card)
        return elapsed

    return trial


def import_card(card: Path, data: Path) -> ImportReport:
    """What ``fieldproof gateway import-media CARD --data DATA`` does, short of printing (and of a GNSS track)."""
    options = ImportOptions()
    with Spool(data) as spool:
        key = gateway_key(data)
        report = import_media([card], spool=spool, key=key, options=options, track=None)
        after_import(report, spool=spool, key=key, options=options, now=datetime.now(UTC))
    return report


def summarize(report: ImportReport, card: Path, data: Path) -> dict[str, Any]:
    """What the check needs, as JSON (the memory child prints it): digests, problems, thumbnails made."""
    imported = {str(Path(r.path).relative_to(card)): r.sha256 for r in report.results if r.status == "imported"}
    problems = [f"{r.path}: {r.status} {r.reason or ''} {r.flags}" for r in report.results if r.status != "imported"]
    problems += [f"{r.path}: {flag}" for r in report.results for flag in r.flags if "unreadable" in flag]
    thumbnails = data / "thumbnails"
    count = len(list(thumbnails.iterdir())) if thumbnails.is_dir() else 0
    return {"imported": imported, "problems": problems, "thumbnails": count}


def check_import(variant: str, summary: dict[str, Any], card: Card) -> None:
    """Every file imported with the card's digest, its metadata read, and a thumbnail for every photo."""
    problems, thumbnails = summary["problems"], summary["thumbnails"]
    if problems or thumbnails != card.photos:
        raise RuntimeError(f"{variant}: {problems}, {thumbnails} thumbnails: the benchmark is broken")
    _check(variant, summary["imported"], card)


def _check(variant: str, digests: dict[str, str], card: Card) -> None:
    """Stop the run unless ``digests`` (by path under the card) are exactly the card's."""
    if digests != card.files:
        wrong = sorted(set(digests.items()) ^ set(card.files.items()))
        raise RuntimeError(f"{variant} produced other digests than the card's ({wrong[:3]}): the benchmark is broken")


# Peak memory, in fresh child processes.

_CHILD = """
import json, sys
from pathlib import Path

import bench.media

result = {"after_import_kib": bench.media.high_water_kib()}
if len(sys.argv) == 3:
    card, data = Path(sys.argv[1]), Path(sys.argv[2])
    report = bench.media.import_card(card, data)
    result["summary"] = bench.media.summarize(report, card, data)
result["peak_kib"] = bench.media.high_water_kib()
print(json.dumps(result))
"""


def high_water_kib() -> int:
    """This process's peak resident set so far (VmHWM), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit("no VmHWM in /proc/self/status")


def memory_figure(card: Card, data: Path) -> Figure:
    """Peak RSS of a child that imports the card, over that of a child that only imported the same modules."""
    baseline = _child()
    note(f"h. import-only interpreter: peak {baseline['peak_kib']:,} KiB")
    ours = _child(card.root, data)
    shutil.rmtree(data)
    check_import("import-media (child)", ours["summary"], card)
    note(f"h. import of the card: peak {ours['peak_kib']:,} KiB")
    peak, base = ours["peak_kib"] * 1024, baseline["peak_kib"] * 1024
    return Figure(
        key="h2.peak_memory",
        name="h2. peak RSS of the media import (child process)",
        measured=f"{mib_text(peak)} ({_card_text(card)})",
        baseline=f"import-only interpreter: {mib_text(base)}",
        ratio=None,
        ratio_text=f"+{mib_text(peak - base)} over baseline",
        goal=MEMORY_GOAL,
        judged=(peak - base) / MiB,
        values={"bytes": card.size, "peak_bytes": peak, "baseline_peak_bytes": base, "delta_bytes": peak - base},
    )


def _child(card: Path | None = None, data: Path | None = None) -> dict[str, Any]:
    """Run ``_CHILD`` in a fresh interpreter (importing ``card`` into ``data`` if given); its JSON result."""
    arguments = [] if card is None else [str(card), str(data)]
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, *arguments], cwd=_REPOSITORY, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result
