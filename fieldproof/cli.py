"""The ``fieldproof`` command: parses arguments, dispatches to a command, turns errors into exit statuses.

Exit statuses shared by every command: 0 success; 1 a check failed (for ``verify``: integrity failure);
2 bad usage or input that cannot be read; 3 ``verify`` only: intact but not signed by a trusted key;
130 interrupted. A traceback is never shown unless FIELDPROOF_DEBUG=1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from evidence.errors import FieldproofError, InputError
from fieldproof import console

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Command name -> module in fieldproof.commands. Only the module of the command given is imported: the server's
# modules alone take a second to import, which every gateway command on a field laptop would otherwise pay.
COMMANDS = {
    "keygen": "keygen",
    "seal": "seal",
    "verify": "verify",
    "gateway": "gateway",
    "server": "server",
    "admin": "admin",
    "demo": "demo",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: with its command's arguments only, or every command's (help, bad usage)."""
    parser = argparse.ArgumentParser(
        prog="fieldproof",
        description="fieldproof：环境公益诉讼现场取证 — field evidence for environmental public-interest litigation.",
    )
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    given = argv[0] if argv else None
    for name, module in COMMANDS.items():
        if given not in COMMANDS or given == name:
            importlib.import_module(f"fieldproof.commands.{module}").register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(arguments).parse_args(arguments)
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:
        console.error("已中断 interrupted")
        return EXIT_INTERRUPTED
    except InputError as exc:
        console.error(str(exc))
        return EXIT_USAGE
    except FieldproofError as exc:
        console.error(str(exc))
        return EXIT_FAILED
    except OSError as exc:
        console.error(f"{exc.filename or ''} {exc.strerror or exc}".strip())
        return EXIT_USAGE
    except Exception as exc:
        if os.environ.get("FIELDPROOF_DEBUG") == "1":
            traceback.print_exc()
        console.error(f"internal error ({type(exc).__name__}: {exc}); run with FIELDPROOF_DEBUG=1 for details")
        return EXIT_FAILED
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
