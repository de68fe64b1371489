"""Camera file names as evidence: body-camera, phone and DCF names parsed by patterns kept as data.

A pattern is a regular expression matched against the whole base name (case-insensitive), with named groups from
a fixed set: ``device`` (device or product id), ``officer`` (officer number, 警号), ``time`` (parsed with the
pattern's ``time_format``, a :func:`datetime.strptime` format), ``seq`` (file sequence number) and ``mark`` (the
important-file mark; ``important`` is true when the mark is one of ``important_marks``, or any mark when that list
is empty). File-name times are the device clock's local time, naive, unless the pattern says ``time_utc``.

The default table is ``evidence/data/filename_patterns.toml``; each entry says where it comes from and how sure
that is. A deployment adds a vendor's pattern in configuration (same keys) and passes
``parse_patterns(custom) + default_patterns()`` to :func:`parse_filename`: the first matching pattern wins.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from evidence.errors import InputError

__all__ = [
    "GROUPS", "FilenameInfo", "FilenamePattern", "FilenamePatternError", "default_patterns", "parse_filename",
    "parse_patterns",
]  # fmt: skip

GROUPS = frozenset({"device", "officer", "time", "seq", "mark"})
_KEYS = {"name", "regex", "time_format", "important_marks", "description", "source", "time_utc"}
_MAX_NAME = 255


class FilenamePatternError(InputError):
    """A file-name pattern (shipped or from configuration) is malformed."""


@dataclass(frozen=True)
class FilenamePattern:
    """One naming scheme: a regex with named groups from :data:`GROUPS`, and where the scheme is known from."""

    name: str
    regex: str
    time_format: str | None
    important_marks: tuple[str, ...]
    description: str
    source: str
    time_utc: bool = False

    @functools.cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.regex, re.IGNORECASE)


@dataclass(frozen=True)
class FilenameInfo:
    """What a file name says. ``time`` is naive: device-local, or UTC when ``time_utc`` (e.g. Pixel phones)."""

    pattern: str
    device: str | None
    officer: str | None
    time: datetime | None
    sequence: int | None
    important: bool
    time_utc: bool = False
    problems: tuple[str, ...] = ()


@functools.cache
def _shipped() -> tuple[FilenamePattern, ...]:
    text = (resources.files("evidence") / "data" / "filename_patterns.toml").read_text(encoding="utf-8")
    try:
        table = tomllib.loads(text).get("pattern", [])
    except tomllib.TOMLDecodeError as exc:
        raise FilenamePatternError(f"filename_patterns.toml: {exc}") from exc
    return tuple(parse_patterns(table))


def default_patterns() -> list[FilenamePattern]:
    """The shipped table (``evidence/data/filename_patterns.toml``), most specific patterns first."""
    return list(_shipped())


def parse_patterns(table: Sequence[Mapping[str, Any]]) -> list[FilenamePattern]:
    """Validate pattern tables (from TOML or JSON configuration); raise :exc:`FilenamePatternError` naming the fault."""
    if not isinstance(table, Sequence) or isinstance(table, str | bytes):
        raise FilenamePatternError("file-name patterns must be a list of tables")
    patterns = [_pattern(entry, index) for index, entry in enumerate(table, start=1)]
    names = [p.name for p in patterns]
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        raise FilenamePatternError(f"file-name pattern names are not unique: {', '.join(duplicates)}")
    return patterns


def _pattern(entry: Mapping[str, Any], index: int) -> FilenamePattern:
    where = f"file-name pattern {index}"
    if not isinstance(entry, Mapping):
        raise FilenamePatternError(f"{where} is not a table")
    name = _string(entry, "name", where, required=True)
    where = f"file-name pattern {index} ({name!r})"
    if unknown := sorted(set(entry) - _KEYS):
        raise FilenamePatternError(f"{where}: unknown keys {', '.join(unknown)}")
    regex = _string(entry, "regex", where, required=True)
    time_format = _string(entry, "time_format", where) or None
    _check_regex(regex, time_format, where)
    marks = entry.get("important_marks", [])
    if not isinstance(marks, list) or not all(isinstance(m, str) and m for m in marks):
        raise FilenamePatternError(f"{where}: important_marks must be a list of non-empty strings")
    time_utc = entry.get("time_utc", False)
    if not isinstance(time_utc, bool):
        raise FilenamePatternError(f"{where}: time_utc must be true or false")
    description = _string(entry, "description", where)
    source = _string(entry, "source", where) or "configuration"
    return FilenamePattern(name, regex, time_format, tuple(marks), description, source, time_utc)


def _string(entry: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise FilenamePatternError(f"{where}: {key} must be a {'non-empty ' if required else ''}string")
    return value.strip() if key == "name" else value


def _check_regex(regex: str, time_format: str | None, where: str) -> None:
    try:
        groups = set(re.compile(regex).groupindex)
    except re.error as exc:
        raise FilenamePatternError(f"{where}: regex does not compile: {exc}") from exc
    if unknown := sorted(groups - GROUPS):
        known = ", ".join(sorted(GROUPS))
        raise FilenamePatternError(f"{where}: unknown group names {', '.join(unknown)} (known: {known})")
    if ("time" in groups) != (time_format is not None):
        raise FilenamePatternError(f"{where}: a (?P<time>...) group and a time_format go together")
    if time_format is not None and "%" not in time_format:
        raise FilenamePatternError(f"{where}: time_format {time_format!r} has no strptime directives")


def parse_filename(name: str, patterns: Sequence[FilenamePattern] | None = None) -> FilenameInfo | None:
    """What the base name of ``name`` says, by the first pattern that matches it (default table if None)."""
    base = re.split(r"[/\\]", name)[-1][:_MAX_NAME]
    for pattern in default_patterns() if patterns is None else patterns:
        match = pattern.compiled.fullmatch(base)
        if match is not None:
            return _info(pattern, match)
    return None


def _info(pattern: FilenamePattern, match: re.Match[str]) -> FilenameInfo:
    groups = {key: value for key, value in match.groupdict().items() if value}
    problems: list[str] = []
    time = _time(pattern, groups.get("time"), problems)
    mark = groups.get("mark")
    marks = {m.upper() for m in pattern.important_marks}
    important = mark is not None and (not marks or mark.upper() in marks)
    seq = groups.get("seq")
    sequence = int(seq) if seq is not None and seq.isdigit() and seq.isascii() else None
    if seq is not None and sequence is None:
        problems.append(f"sequence {seq!r} is not a number")
    return FilenameInfo(
        pattern.name, groups.get("device"), groups.get("officer"), time, sequence, important,
        pattern.time_utc, tuple(problems),
    )  # fmt: skip


def _time(pattern: FilenamePattern, text: str | None, problems: list[str]) -> datetime | None:
    if text is None or pattern.time_format is None:
        return None
    try:
        return datetime.strptime(text, pattern.time_format)
    except ValueError:
        problems.append(f"time {text!r} does not fit {pattern.time_format!r} or is not a valid date")
        return None
