"""``fieldproof gateway decode``: decode an HJ 212 or NMEA capture, one JSON object per frame or sentence."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from device_gateway.protocols import hj212, nmea
from evidence.errors import InputError
from fieldproof import console

CHUNK = 64 * 1024


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "decode",
        help="解码 HJ 212 / NMEA 数据 decode an HJ 212 or NMEA capture",
        description="Read a byte stream (a file, or - for standard input) and print one JSON object per frame "
        '(HJ 212) or sentence (NMEA). A frame whose length or CRC is wrong is printed with "ok": false and its '
        "reason, never with readings. Exit status 0 when every frame is valid, 1 when some are not, 2 on bad input.",
    )
    parser.add_argument("file", nargs="?", default="-", metavar="FILE", help="capture to decode (default: stdin)")
    parser.add_argument("--protocol", required=True, choices=("hj212", "nmea"))
    parser.add_argument(
        "--crc",
        choices=("hj212", "modbus"),
        default="hj212",
        help="HJ 212 only: the CRC the device uses (modbus only for devices known to use CRC-16/MODBUS)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.protocol == "nmea" and args.crc != "hj212":
        raise InputError("--crc applies to HJ 212 only")
    with _open(args.file) as stream:
        results = _hj212(stream, args.crc) if args.protocol == "hj212" else _nmea(stream)
        invalid = 0
        for result in results:
            invalid += not result["ok"]
            console.print_json(result)
    return 1 if invalid else 0


def _hj212(stream: BinaryIO, crc: str) -> Iterator[dict[str, Any]]:
    decoder = hj212.StreamDecoder(crc_for=lambda _mn: crc)
    for chunk in _chunks(stream):
        yield from (hj212.packet_json(item) for item in decoder.feed(chunk))
    yield from (hj212.packet_json(item) for item in decoder.flush())


def _nmea(stream: BinaryIO) -> Iterator[dict[str, Any]]:
    decoder = nmea.NmeaStreamDecoder()
    for chunk in _chunks(stream):
        yield from (nmea.sentence_json(item) for item in decoder.feed_all(chunk))
    yield from (nmea.sentence_json(item) for item in decoder.flush_all())


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


@contextmanager
def _open(name: str) -> Iterator[BinaryIO]:
    """The named file, or standard input for '-', opened for binary reading; InputError if unreadable."""
    if name == "-":
        yield sys.stdin.buffer
        return
    try:
        stream = open(Path(name), "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from exc
    with stream:
        yield stream
