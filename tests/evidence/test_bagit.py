"""BagIt reading and writing: manifest encoding, strict readers over directories and zips."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from evidence import bagit
from evidence.errors import ManifestError, PackageFormatError
from evidence.package import payload_path


def make_bag(root: Path, files: dict[str, bytes]) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "bagit.txt").write_text(bagit.BAGIT_DECLARATION)
    (root / "bag-info.txt").write_text("Source-Organization: test\n")
    for name, data in files.items():
        (root / "data" / name).write_bytes(data)
    bagit.regenerate(root)
    return root


def test_manifest_paths_percent_encode_cr_lf_and_percent() -> None:
    path = "data/a%b\r\nc.txt"
    encoded = bagit.encode_manifest_path(path)
    assert encoded == "data/a%25b%0D%0Ac.txt"
    assert bagit.decode_manifest_path(encoded) == path
    assert bagit.decode_manifest_path("data/x%0dy%0az") == "data/x\ry\nz"


def test_manifest_round_trip_and_refusals() -> None:
    text = bagit.format_manifest({"data/b": "b" * 64, "data/a": "A" * 64})
    assert text.splitlines()[0] == f"{'A' * 64}  data/a"
    assert bagit.parse_manifest(text, "m") == {"data/a": "a" * 64, "data/b": "b" * 64}
    with pytest.raises(ManifestError, match="twice"):
        bagit.parse_manifest(f"{'a' * 64}  data/x\n{'b' * 64}  data/x\n", "m")
    with pytest.raises(ManifestError, match="line 1"):
        bagit.parse_manifest("deadbeef data/x\n", "m")
    with pytest.raises(PackageFormatError, match="unsafe path"):
        bagit.parse_manifest(f"{'a' * 64}  data/../../etc/passwd\n", "m")


def test_bag_info_continuation_lines_are_joined() -> None:
    fields = bagit.parse_bag_info("External-Description: first part\n  second part\nPayload-Oxum: 3.1\n")
    assert fields == [("External-Description", "first part second part"), ("Payload-Oxum", "3.1")]
    with pytest.raises(ManifestError):
        bagit.parse_bag_info("no colon here\n")


def test_regenerate_makes_a_bag_whose_manifests_match(tmp_path: Path) -> None:
    root = make_bag(tmp_path / "bag", {"a.txt": b"alpha", "b.txt": b"beta!"})
    bag = bagit.open_bag(root)
    listed = bagit.parse_manifest(bag.read_text(bagit.MANIFEST), "m")
    assert {p: bag.digest(p).sha256 for p in listed} == listed
    assert dict(bagit.parse_bag_info(bag.read_text(bagit.BAG_INFO)))["Payload-Oxum"] == "10.2"
    tags = bagit.parse_manifest(bag.read_text(bagit.TAG_MANIFEST), "t")
    assert set(tags) == {"bagit.txt", "bag-info.txt", "manifest-sha256.txt"}


def test_directory_bag_refuses_symbolic_links(tmp_path: Path) -> None:
    root = make_bag(tmp_path / "bag", {"a.txt": b"alpha"})
    os.symlink("/etc/hostname", root / "data" / "link.txt")
    with pytest.raises(PackageFormatError, match="symbolic link"):
        bagit.open_bag(root)


def test_open_bag_needs_a_bagit_1_0_declaration(tmp_path: Path) -> None:
    root = make_bag(tmp_path / "bag", {"a.txt": b"alpha"})
    (root / "bagit.txt").write_text("BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n")
    with pytest.raises(PackageFormatError, match=r"1\.0"):
        bagit.open_bag(root)
    with pytest.raises(PackageFormatError, match="does not exist"):
        bagit.open_bag(tmp_path / "missing")


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_bag_reads_members_under_its_single_top_directory(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "b.zip", {"top/bagit.txt": bagit.BAGIT_DECLARATION.encode(), "top/data/x": b"1"})
    bag = bagit.open_bag(archive)
    try:
        assert bag.files() == {"bagit.txt": len(bagit.BAGIT_DECLARATION), "data/x": 1}
        assert bag.read("data/x") == b"1"
    finally:
        bag.close()


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ({"a/bagit.txt": b"", "b/data/x": b""}, "one top-level directory"),
        ({"top/../evil": b""}, "unsafe path"),
        ({"/top/bagit.txt": b""}, "unsafe path"),
    ],
)
def test_zip_bag_refuses_unsafe_layouts(tmp_path: Path, members: dict[str, bytes], reason: str) -> None:
    with pytest.raises(PackageFormatError, match=reason):
        bagit.open_bag(write_zip(tmp_path / "b.zip", members))


def test_zip_bag_refuses_duplicate_members(tmp_path: Path) -> None:
    path = tmp_path / "dup.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("top/bagit.txt", bagit.BAGIT_DECLARATION)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("top/bagit.txt", "BagIt-Version: 1.0\n")
    with pytest.raises(PackageFormatError, match="twice"):
        bagit.open_bag(path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.jpg", "data/i1/photo.jpg"),
        ("现场笔记.txt", "data/i1/现场笔记.txt"),
        ("../../etc/passwd", "data/i1/.._.._etc_passwd"),
        ("a\\b\nc", "data/i1/a_b_c"),
        ("..", "data/i1/file"),
        ("", "data/i1/file"),
    ],
)
def test_payload_path_keeps_names_readable_but_safe(name: str, expected: str) -> None:
    assert payload_path("i1", name) == expected
