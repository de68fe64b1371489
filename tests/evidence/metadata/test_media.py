"""read_media: one entry point per file; bounded reads on 4 GiB sparse files; never raises for contents."""

from __future__ import annotations

import io
import struct
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence.metadata import MediaMetadata, read_media, read_media_stream
from evidence.metadata import media as media_module
from evidence.metadata.media import INTERNAL_ERROR
from tests.evidence.metadata import (
    MAC_EPOCH_OFFSET,
    CountingReader,
    ascii_entry,
    box,
    jpeg_with_tiff,
    movie,
    mvhd,
    pillow_jpeg,
    tiff,
    xyz,
)

PROPERTY = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
FOUR_GIB = 4 * 1024**3
WHEN = datetime(2026, 5, 12, 9, 41, 7)
MAC_WHEN = MAC_EPOCH_OFFSET + int((WHEN - datetime(1970, 1, 1)).total_seconds())
JPEG = jpeg_with_tiff(tiff("<", [ascii_entry(0x010F, "Acme")], exif=[ascii_entry(0x9003, "2026:05:12 09:41:07")]))
MP4 = movie(mvhd(0, MAC_WHEN, MAC_WHEN, 1000, 3000), box(b"udta", xyz("+34.6197+112.4540/")))


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_photo(tmp_path: Path) -> None:
    metadata = read_media(write(tmp_path, "DSJ-A8_012345_20260512094107_0001_IMP.JPG", JPEG))
    assert (metadata.media_type, metadata.kind, metadata.movie) == ("image/jpeg", "photo", None)
    assert metadata.exif is not None
    assert metadata.exif.info is not None
    assert metadata.exif.info.make == "Acme"
    assert metadata.filename is not None
    assert metadata.filename.important
    assert metadata.filename.sequence == 1


@pytest.mark.parametrize(
    ("name", "brand", "media_type"), [("VID_1.mp4", b"isom", "video/mp4"), ("A.MOV", b"qt  ", "video/quicktime")]
)
def test_video(tmp_path: Path, name: str, brand: bytes, media_type: str) -> None:
    data = movie(mvhd(1, MAC_WHEN), box(b"udta", xyz("+34.6197+112.4540/")), brand=brand)
    metadata = read_media(write(tmp_path, name, data))
    assert (metadata.media_type, metadata.kind, metadata.exif) == (media_type, "video", None)
    assert metadata.movie is not None
    assert metadata.movie.info is not None
    assert metadata.movie.info.created_raw == WHEN
    assert metadata.movie.info.location == pytest.approx((34.6197, 112.454, None))


def test_quicktime_without_ftyp_is_known_by_its_name(tmp_path: Path) -> None:
    metadata = read_media(write(tmp_path, "clip.mov", box(b"wide") + box(b"moov", mvhd(0, MAC_WHEN))))
    assert metadata.media_type == "video/quicktime"
    assert metadata.movie is not None
    assert metadata.movie.info is not None
    assert metadata.movie.info.created_raw == WHEN


def test_cut_off_recording_is_a_video_with_an_error(tmp_path: Path) -> None:
    data = box(b"ftyp", b"isom\x00\x00\x00\x00") + box(b"mdat", b"\x00" * 100)
    metadata = read_media(write(tmp_path, "DSJ-A8_012345_20260512094107_0002.MP4", data))
    assert metadata.kind == "video"
    assert metadata.movie is not None
    assert metadata.movie.error is not None
    assert "not finalised" in metadata.movie.error
    assert metadata.filename is not None
    assert metadata.filename.sequence == 2


@pytest.mark.parametrize(
    ("name", "data", "media_type", "kind"),
    [
        ("scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "image/png", "photo"),
        ("notes.txt", b"site visit notes", "text/plain", "document"),
        ("clip.wav", b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav", "audio"),
    ],
)
def test_formats_without_readers(tmp_path: Path, name: str, data: bytes, media_type: str, kind: str) -> None:
    metadata = read_media(write(tmp_path, name, data))
    assert metadata == MediaMetadata(media_type, kind, None, None, None)


def test_empty_file(tmp_path: Path) -> None:
    metadata = read_media(write(tmp_path, "IMG_20260512_094107.jpg", b""))
    assert metadata.media_type == "image/jpeg"  # from the name: content says nothing
    assert metadata.exif is not None
    assert metadata.exif.info is None
    assert metadata.exif.error is None
    assert metadata.filename is not None
    assert metadata.filename.time == WHEN


def test_unreadable_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="No such file"):
        read_media(tmp_path / "gone.jpg")
    with pytest.raises(IsADirectoryError):
        read_media(tmp_path)


def sparse(path: Path, head: bytes, tail: bytes = b"") -> Path:
    with open(path, "wb") as stream:
        stream.write(head)
        stream.truncate(FOUR_GIB)
        if tail:
            stream.seek(FOUR_GIB)
            stream.write(tail)
    return path


def counted(path: Path) -> tuple[MediaMetadata, int]:
    with open(path, "rb") as raw:
        counting = CountingReader(raw)
        metadata = read_media_stream(counting.as_binary(), path.name)
    return metadata, counting.bytes_read


def test_four_gib_mp4_reads_only_box_headers(tmp_path: Path) -> None:
    head = box(b"ftyp", b"isom\x00\x00\x02\x00isommp41")
    mdat = struct.pack(">I4sQ", 1, b"mdat", FOUR_GIB - len(head))
    path = sparse(tmp_path / "VID_20260512_094107.mp4", head + mdat, box(b"moov", mvhd(1, MAC_WHEN)))
    metadata, bytes_read = counted(path)
    assert metadata.movie is not None
    assert metadata.movie.info is not None
    assert metadata.movie.info.created_raw == WHEN
    assert bytes_read < 4096
    assert read_media(path).movie == metadata.movie


def test_four_gib_jpeg_reads_only_its_header(tmp_path: Path) -> None:
    path = sparse(tmp_path / "DSC_0001.JPG", JPEG[:600])
    metadata, bytes_read = counted(path)
    assert metadata.exif is not None
    assert metadata.exif.info is not None
    assert metadata.exif.info.make == "Acme"
    assert bytes_read < 4096


def test_four_gib_hole_after_a_bare_header_is_an_error_not_a_scan(tmp_path: Path) -> None:
    jpeg = sparse(tmp_path / "a.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    metadata, bytes_read = counted(jpeg)
    assert metadata.exif is not None
    assert metadata.exif.error is not None
    assert "no marker" in metadata.exif.error
    mp4 = sparse(tmp_path / "b.mp4", box(b"ftyp", b"isom\x00\x00\x00\x00") + struct.pack(">I4s", 0, b"mdat"))
    movie_metadata, movie_bytes = counted(mp4)
    assert movie_metadata.movie is not None
    assert movie_metadata.movie.error is not None
    assert bytes_read + movie_bytes < 4096


def test_hostile_box_flood_stops_at_the_box_cap(tmp_path: Path) -> None:
    path = write(tmp_path, "flood.mp4", box(b"ftyp", b"isom\x00\x00\x00\x00") + box(b"free") * 100_000)
    metadata, bytes_read = counted(path)
    assert metadata.movie is not None
    assert metadata.movie.error is not None
    assert "boxes" in metadata.movie.error
    assert bytes_read < 64 * 1024


def test_a_reader_bug_marks_metadata_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(stream: BinaryIO) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(media_module, "read_exif", broken)
    metadata = read_media_stream(io.BytesIO(JPEG), "a.jpg")
    assert metadata.exif is not None
    assert metadata.exif.info is None
    assert metadata.exif.error is not None
    assert metadata.exif.error.startswith(INTERNAL_ERROR)
    assert "ZeroDivisionError: boom" in metadata.exif.error


def test_stream_errors_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(stream: BinaryIO) -> None:
        raise OSError("I/O error on the camera's card")

    monkeypatch.setattr(media_module, "read_movie", failing)
    with pytest.raises(OSError, match="camera's card"):
        read_media_stream(io.BytesIO(MP4), "a.mp4")


def assert_clean(metadata: MediaMetadata) -> None:
    for result in (metadata.exif, metadata.movie):
        if result is not None:
            assert result.info is None or result.error is None
            assert result.error is None or INTERNAL_ERROR not in result.error


@PROPERTY
@given(st.binary(max_size=2048), st.sampled_from(["a.jpg", "b.mp4", "c.mov", "d.heic", "e.tif", "f.bin"]))
def test_random_bytes_never_raise(data: bytes, name: str) -> None:
    assert_clean(read_media_stream(io.BytesIO(data), name))


@PROPERTY
@given(st.sampled_from([JPEG[:1024], MP4, pillow_jpeg()[:600]]), st.data())
def test_mutated_headers_never_raise(base: bytes, data: st.DataObject) -> None:
    raw = bytearray(base)
    for _ in range(data.draw(st.integers(1, 10))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    assert_clean(read_media_stream(io.BytesIO(bytes(raw[: data.draw(st.integers(0, len(raw)))])), "x.bin"))
