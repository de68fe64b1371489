"""What the figures were measured on: CPU, kernel, Python, OpenSSL, and the work directory's filesystem."""

from __future__ import annotations

import os
import platform
import ssl
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import cryptography
from cryptography.hazmat.backends.openssl import backend


def describe(workdir: Path) -> dict[str, str]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{_cpu_model()} ({os.cpu_count()} cores), {platform.machine()}",
        "kernel": platform.release(),
        "python": f"{platform.python_version()} (hashlib on {ssl.OPENSSL_VERSION})",
        "cryptography": f"{cryptography.__version__} ({backend.openssl_version_text()})",
        "openssl command": _openssl_version(),
        "work filesystem": _filesystem(workdir),
        "load average": load_average(),
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _openssl_version() -> str:
    try:
        result = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "not found"
    return result.stdout.strip()


def _filesystem(path: Path) -> str:
    """Filesystem type and device of the mount that holds ``path`` (from /proc/mounts)."""
    mount = path.resolve()
    while not os.path.ismount(mount):
        mount = mount.parent
    found = "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, point, kind, *_ = line.split()
            if point == str(mount):
                found = f"{kind} on {device}, mounted at {point}"
    except OSError:
        pass
    return found
