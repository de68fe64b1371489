"""File-name patterns: the shipped table, vendor patterns from configuration, and their validation."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.errors import InputError
from evidence.metadata import FilenameInfo, FilenamePatternError, default_patterns, parse_filename, parse_patterns

WHEN = datetime(2026, 5, 12, 9, 41, 7)


BODYCAM = "bodycam-device-officer-time-seq"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DSJ-XXXXXX_012345_20260512094107_0001_IMP.MP4", FilenameInfo(BODYCAM, "DSJ-XXXXXX", "012345", WHEN, 1, True)),
        ("DSJ-A8_012345_20260512094107_0002.mp4", FilenameInfo(BODYCAM, "DSJ-A8", "012345", WHEN, 2, False)),
        ("DSJ-A8_012345_20260512094107_0003_I.JPG", FilenameInfo(BODYCAM, "DSJ-A8", "012345", WHEN, 3, True)),
        ("DSJ-A8_012345_20260512094107_0004_N.JPG", FilenameInfo(BODYCAM, "DSJ-A8", "012345", WHEN, 4, False)),
        (
            "DSJ-A8_012345_20260512094107_IMP.MP4",
            FilenameInfo("bodycam-device-officer-time", "DSJ-A8", "012345", WHEN, None, True),
        ),
        ("012345_20260512094107_0007.MP4", FilenameInfo("bodycam-officer-time-seq", None, "012345", WHEN, 7, False)),
        ("2026_0512_094107_015.MP4", FilenameInfo("recorder-yyyy-mmdd-hhmmss-seq", None, None, WHEN, 15, False)),
        ("IMG_20260512_094107.jpg", FilenameInfo("android-img", None, None, WHEN, None, False)),
        ("IMG_20260512_094107_1.jpg", FilenameInfo("android-img", None, None, WHEN, None, False)),
        ("VID_20260512_094107.mp4", FilenameInfo("android-vid", None, None, WHEN, None, False)),
        ("20260512_094107.jpg", FilenameInfo("samsung", None, None, WHEN, None, False)),
        ("DJI_20260512094107_0031_D.JPG", FilenameInfo("dji-timestamped", None, None, WHEN, 31, False)),
        ("DSC_0001.JPG", FilenameInfo("dcf", None, None, None, 1, False)),
        ("DSCN0010.jpg", FilenameInfo("dcf", None, None, None, 10, False)),
        ("IMG_1234.JPG", FilenameInfo("dcf", None, None, None, 1234, False)),
        ("DJI_0001.JPG", FilenameInfo("dcf", None, None, None, 1, False)),
    ],
)
def test_default_patterns(name: str, expected: FilenameInfo) -> None:
    assert parse_filename(name) == expected


def test_pixel_names_are_utc_with_milliseconds() -> None:
    for name in ("PXL_20260512_094107123.jpg", "PXL_20260512_094107123.MP.jpg", "PXL_20260512_094107123.NIGHT.jpg"):
        info = parse_filename(name)
        assert info is not None
        assert info.pattern == "pixel", name
        assert info.time == datetime(2026, 5, 12, 9, 41, 7, 123000)
        assert info.time_utc


def test_directories_are_ignored() -> None:
    assert parse_filename("DCIM/100MEDIA/DSC_0042.JPG") == parse_filename("DSC_0042.JPG")
    info = parse_filename("E:\\DCIM\\DSJ-A8_012345_20260512094107_0001_IMP.MP4")
    assert info is not None
    assert info.officer == "012345"


@pytest.mark.parametrize("name", ["notes.txt", "IMG_12345.JPG", "DSC_001.JPG", "photo.jpg", "", "x" * 1000])
def test_unmatched_names(name: str) -> None:
    assert parse_filename(name) is None


def test_impossible_time_is_a_problem_not_a_crash() -> None:
    info = parse_filename("DSJ-A8_012345_20261399250000_0001.MP4")
    assert info is not None
    assert info.time is None
    assert info.sequence == 1
    assert any("not a valid date" in p for p in info.problems)


def test_every_shipped_pattern_says_where_it_comes_from() -> None:
    patterns = default_patterns()
    assert len(patterns) >= 10
    assert len({p.name for p in patterns}) == len(patterns)
    for pattern in patterns:
        assert pattern.description, pattern.name
        assert pattern.source, pattern.name
        assert "Example" in pattern.description, pattern.name
    bodycams = [p for p in patterns if p.name.startswith("bodycam")]
    assert bodycams
    assert all(p.source.startswith("example") for p in bodycams)


def test_every_shipped_example_parses_with_its_own_pattern() -> None:
    for pattern in default_patterns():
        examples = re.findall(r"[\w.-]+\.(?:MP4|mp4|jpg|JPG)", pattern.description)
        assert examples, pattern.name
        for example in examples:
            info = parse_filename(example)
            assert info is not None, example
            assert info.pattern == pattern.name, (pattern.name, example)


VENDOR = {
    "name": "acme-zfjly",
    "regex": r"ZFJLY(?P<device>\d{6})-(?P<officer>\d{6})-(?P<time>\d{8}-\d{6})-(?P<seq>\d{3})(?P<mark>!)?\.MP4",
    "time_format": "%Y%m%d-%H%M%S",
    "important_marks": ["!"],
    "description": "Acme recorder. Example: ZFJLY000123-654321-20260512-094107-009!.MP4",
    "source": "Acme manual v2, p. 31",
}


def test_vendor_pattern_from_configuration_goes_first() -> None:
    patterns = parse_patterns([VENDOR]) + default_patterns()
    info = parse_filename("ZFJLY000123-654321-20260512-094107-009!.MP4", patterns)
    assert info == FilenameInfo("acme-zfjly", "000123", "654321", WHEN, 9, True)
    assert parse_filename("ZFJLY000123-654321-20260512-094107-009!.MP4") is None  # not in the defaults
    overriding = parse_patterns([VENDOR | {"name": "mine", "regex": r"IMG_(?P<seq>\d{4})\.JPG", "time_format": ""}])
    assert parse_filename("IMG_1234.JPG", overriding + default_patterns()) == FilenameInfo(
        "mine", None, None, None, 1234, False
    )


def test_any_mark_is_important_when_no_marks_are_listed() -> None:
    [pattern] = parse_patterns([{"name": "p", "regex": r"V(?P<seq>\d+)(?P<mark>[A-Z])?\.MP4"}])
    assert pattern.source == "configuration"
    assert parse_filename("V12X.MP4", [pattern]) == FilenameInfo("p", None, None, None, 12, True)
    assert parse_filename("V12.MP4", [pattern]) == FilenameInfo("p", None, None, None, 12, False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"regex": "(?P<device>[0-9]+"}, "regex does not compile"),
        ({"regex": r"(?P<badge>\d+)\.MP4"}, "unknown group names badge"),
        ({"regex": r"(?P<seq>\d+)\.MP4"}, "go together"),
        ({"time_format": None}, "time_format must be a string"),
        ({"time_format": ""}, "go together"),
        ({"time_format": "YYYYMMDD"}, "no strptime directives"),
        ({"name": "  "}, "name must be a non-empty string"),
        ({"important_marks": "IMP"}, "important_marks must be a list"),
        ({"important_marks": [""]}, "important_marks must be a list"),
        ({"time_utc": "yes"}, "time_utc must be true or false"),
        ({"colour": "red"}, "unknown keys colour"),
    ],
)
def test_invalid_vendor_patterns_are_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(FilenamePatternError, match=message) as caught:
        parse_patterns([VENDOR | change])
    assert isinstance(caught.value, InputError)
    assert "acme-zfjly" in str(caught.value) or "name" in change


def test_invalid_tables_are_named() -> None:
    with pytest.raises(FilenamePatternError, match="not unique: acme-zfjly"):
        parse_patterns([VENDOR, VENDOR])
    with pytest.raises(FilenamePatternError, match="pattern 2 is not a table"):
        parse_patterns([VENDOR, "x"])  # type: ignore[list-item]
    with pytest.raises(FilenamePatternError, match="must be a list"):
        parse_patterns("x")  # type: ignore[arg-type]


@settings(deadline=None, max_examples=300)
@given(st.text(max_size=300))
def test_any_name_parses_or_not_without_raising(name: str) -> None:
    info = parse_filename(name)
    assert info is None or isinstance(info, FilenameInfo)
