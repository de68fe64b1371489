"""``fieldproof gateway …``: the device gateway's commands (decode, listen, import-media, status, enroll, sync,
simulate)."""

from __future__ import annotations

import argparse
from typing import Any

from fieldproof.commands.gateway import decode, enroll, import_media, listen, simulate, status, sync

COMMANDS = (decode, listen, import_media, status, enroll, sync, simulate)


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "gateway",
        help="现场网关：读取监测设备 the field gateway: read monitors, keep evidence",
        description="The device gateway: decode protocol captures, listen to monitors, import media, show the "
        "spool, enroll with a server and sync to it, simulate devices.",
    )
    gateway_commands = parser.add_subparsers(dest="gateway_command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(gateway_commands)
