"""Figure c: peak memory of a hash-while-copy, in a fresh child interpreter.

The child reads its own high-water mark (VmHWM in /proc/self/status, the peak resident set) after
importing ``evidence.hashing`` and again after ``ContentStore.put_file``. A second child only imports the
module: its peak is the baseline, so the difference is what the copy itself costs. A small file is copied too,
to show that the peak does not grow with the file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.files import check_digest, make_file
from bench.progress import note
from bench.report import Figure, Goal, MiB, mib_text, size_text

MEMORY_GOAL = Goal("<", 64, " MiB")
SMALL_FILE = 16 * MiB
_REPOSITORY = Path(__file__).resolve().parent.parent

_CHILD = """
import json, sys
from pathlib import Path

import evidence.hashing


def high_water_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit("no VmHWM in /proc/self/status")


result = {"after_import_kib": high_water_kib()}
if len(sys.argv) == 3:
    blob = evidence.hashing.ContentStore(Path(sys.argv[2])).put_file(Path(sys.argv[1]))
    blob.path.unlink()
    result["sha256"] = blob.digest.sha256
result["peak_kib"] = high_water_kib()
print(json.dumps(result))
"""


def memory_figure(source: Path, work: Path, expected: str) -> Figure:
    baseline = _child()
    note(f"c. import-only interpreter: peak {baseline['peak_kib']:,} KiB")
    large = _child(source, work / "memory-store", expected)
    note(f"c. put_file of {size_text(source.stat().st_size)}: peak {large['peak_kib']:,} KiB")
    small = _small_copy(source, work)
    return _figure(source.stat().st_size, baseline, large, small)


def _small_copy(source: Path, work: Path) -> dict[str, Any]:
    size = min(SMALL_FILE, source.stat().st_size)
    small = work / "small.bin"
    make_file(small, size)
    result = _child(small, work / "memory-store", None)
    result["bytes"] = size
    note(f"c. put_file of {size_text(size)}: peak {result['peak_kib']:,} KiB")
    small.unlink()
    return result


def _child(source: Path | None = None, store: Path | None = None, expected: str | None = None) -> dict[str, Any]:
    arguments = [] if source is None else [str(source), str(store)]
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, *arguments],
        cwd=_REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    if expected is not None:
        check_digest("put_file (child)", result["sha256"], expected)
    return result


def _figure(size: int, baseline: dict[str, Any], large: dict[str, Any], small: dict[str, Any]) -> Figure:
    peak, base = large["peak_kib"] * 1024, baseline["peak_kib"] * 1024
    small_peak, small_size = small["peak_kib"] * 1024, size_text(small["bytes"])
    return Figure(
        key="c.peak_memory",
        name="c. peak RSS of put_file (child process)",
        measured=f"{mib_text(peak)} ({size_text(size)}), {mib_text(small_peak)} ({small_size})",
        baseline=f"import-only interpreter: {mib_text(base)}",
        ratio=None,
        ratio_text=f"+{mib_text(peak - base)} over baseline",
        goal=MEMORY_GOAL,
        judged=peak / MiB,
        values={
            "bytes": size,
            "peak_bytes": peak,
            "baseline_peak_bytes": base,
            "delta_bytes": peak - base,
            "small_file_bytes": small["bytes"],
            "small_file_peak_bytes": small_peak,
        },
    )
