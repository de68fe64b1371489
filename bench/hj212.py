"""Figure f: HJ 212 decode rate on one core, as 115200-baud serial monitors served, against splitting on ``##``.

The stream is what a data logger's serial line carries: real-time uploads (CN=2011) from a few devices, each
with 4-8 pollutants (``Rtd`` and ``Flag``, some ``ZsRtd``), mostly ``\\r\\n`` tails, some ``\\n``-only, a little
line noise between frames, read in chunks of random size as a serial port with an idle timeout returns them
(so many frames arrive stuck together and many are split across reads). Each timed round feeds every chunk
to a new :class:`StreamDecoder` and parses every packet into a :class:`Message` with its readings; the
baseline splits the same bytes on ``##`` and does nothing else. A 115200-baud line (8N1: 11,520 bytes/s)
carries about 40 such frames a second, so monitors served = frames per second / 40 (goal: at least 1000).
An untimed pass first checks that every frame and reading comes out.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.progress import note
from bench.report import Figure, Goal, rate_text
from bench.timing import Samples, interleave
from device_gateway.protocols.hj212 import Packet, StreamDecoder, encode_frame, encode_readings_cp, message_from_packet
from evidence.readings import Reading

FRAMES_PER_LINE = 40  # a 115200-baud line carries about 40 real-time frames a second
MONITOR_GOAL = Goal(">=", 1000, " monitors")
_SEED = 20240601
_DEVICES = [f"0102030405060708{n:08X}" for n in range(8)]
_AIR = ["a34004", "a34002", "a21026", "a21002", "a21005", "a21004", "a05024", "a01001", "a01002", "a01006"]


@dataclass(frozen=True)
class Workload:
    chunks: list[bytes]
    stream: bytes
    frames: int
    readings: int


def hj212_figures(rounds: int, *, frames: int = 20_000) -> list[Figure]:
    """Figures f1 (monitors served, goal >= 1000) and f2 (speed over a bare split on ``##``, INFO)."""
    work = build_workload(frames)
    size = len(work.stream) / work.frames
    note(f"f. HJ 212: {work.frames:,} frames of {size:.0f} bytes on average, in {len(work.chunks):,} reads")
    _check(work)
    trials = {"split on ##": _split_trial(work.stream), "StreamDecoder + messages": _decode_trial(work)}
    samples = interleave(trials, rounds, "f. HJ 212 decode")
    return [_monitor_figure(work, samples), _split_figure(work, samples)]


def build_workload(frames: int) -> Workload:
    rng = random.Random(_SEED)
    parts: list[bytes] = []
    readings = 0
    for number in range(frames):
        frame, count = _frame(rng, number)
        parts.append(frame)
        readings += count
        if rng.random() < 0.005:
            parts.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))).replace(b"#", b"*"))
    stream = b"".join(parts)
    return Workload(_reads(rng, stream), stream, frames, readings)


def _frame(rng: random.Random, number: int) -> tuple[bytes, int]:
    seconds = number // len(_DEVICES) * 30
    stamp = f"20240601{seconds // 3600 % 24:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"
    readings = []
    for code in rng.sample(_AIR, rng.randint(4, 8)):
        flag = "N" if rng.random() < 0.97 else rng.choice("FMDC")
        readings.append(Reading(code, "Rtd", round(rng.uniform(0, 500), rng.randint(0, 3)), flag))
        if code in ("a21026", "a21002") and rng.random() < 0.5:
            readings.append(Reading(code, "ZsRtd", round(rng.uniform(0, 500), 2), flag))
    frame = encode_frame(
        qn=f"{stamp}{number % 1000:03d}", st="22", cn="2011", pw="123456", mn=_DEVICES[number % len(_DEVICES)],
        flag=rng.choice((4, 5)), cp=encode_readings_cp(stamp, readings), tail=b"\n" if rng.random() < 0.01 else b"\r\n",
    )  # fmt: skip
    return frame, len(readings)


def _reads(rng: random.Random, stream: bytes) -> list[bytes]:
    """The stream as a serial port returns it: reads of 16 to 1024 bytes."""
    chunks, position = [], 0
    while position < len(stream):
        size = rng.randint(16, 1024)
        chunks.append(stream[position : position + size])
        position += size
    return chunks


def decode_all(chunks: list[bytes]) -> tuple[int, int]:
    """(frames, readings) decoded from the chunks: what one timed round does."""
    decoder = StreamDecoder()
    frames = readings = 0
    for chunk in chunks:
        for item in decoder.feed(chunk):
            if isinstance(item, Packet):
                frames += 1
                readings += len(message_from_packet(item).readings)
    for item in decoder.flush():
        if isinstance(item, Packet):
            frames += 1
            readings += len(message_from_packet(item).readings)
    return frames, readings


def _check(work: Workload) -> None:
    got = decode_all(work.chunks)
    if got != (work.frames, work.readings):
        raise AssertionError(f"HJ 212 bench: decoded {got}, expected {(work.frames, work.readings)}")
    pieces = len(work.stream.split(b"##"))
    if pieces != work.frames + 1:
        raise AssertionError(f"HJ 212 bench: split gave {pieces} pieces for {work.frames} frames")


def _decode_trial(work: Workload) -> Callable[[], float]:
    def trial() -> float:
        start = time.perf_counter()
        decode_all(work.chunks)
        return time.perf_counter() - start

    return trial


def _split_trial(stream: bytes) -> Callable[[], float]:
    def trial() -> float:
        start = time.perf_counter()
        stream.split(b"##")
        return time.perf_counter() - start

    return trial


def _monitor_figure(work: Workload, samples: dict[str, Samples]) -> Figure:
    ours = samples["StreamDecoder + messages"]
    rate, median_rate = work.frames / ours.best, work.frames / ours.median
    monitors, median_monitors = rate / FRAMES_PER_LINE, median_rate / FRAMES_PER_LINE
    readings = rate_text(work.readings / ours.best)
    return Figure(
        key="f1.hj212_monitors",
        name="f. HJ 212: 115200-baud monitors served per core",
        measured=f"{rate_text(rate)} frames, {readings} readings (median {rate_text(median_rate)} frames)",
        baseline=f"{FRAMES_PER_LINE} frames/s per monitor",
        ratio=None,
        ratio_text=f"{monitors:,.0f} monitors (median {median_monitors:,.0f})",
        goal=MONITOR_GOAL,
        judged=monitors,
        values={
            "frames": work.frames,
            "readings": work.readings,
            "bytes": len(work.stream),
            "reads": len(work.chunks),
            "seconds": list(ours.seconds),
            "frames_per_second": rate,
            "monitors": monitors,
            "median_monitors": median_monitors,
        },
    )


def _split_figure(work: Workload, samples: dict[str, Samples]) -> Figure:
    ours, split = samples["StreamDecoder + messages"], samples["split on ##"]
    ratio, median_ratio = split.best / ours.best, split.median / ours.median
    return Figure(
        key="f2.hj212_vs_split",
        name="f. HJ 212: decode speed over a bare split on ##",
        measured=f"{ours.best:.3f} s for {len(work.stream) / 1e6:.1f} MB (median {ours.median:.3f} s)",
        baseline=f"bytes.split(b'##'): {split.best * 1e3:.2f} ms (median {split.median * 1e3:.2f} ms)",
        ratio=ratio,
        ratio_text=f"{ratio:.4f} (median {median_ratio:.4f})",
        goal=None,
        values={"seconds": list(ours.seconds), "baseline_seconds": list(split.seconds), "median_ratio": median_ratio},
    )
