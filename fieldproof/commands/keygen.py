"""``fieldproof keygen``: make an Ed25519 signing key and its verifier key."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from evidence.keys import COSIGNATURE_V1, ED25519, generate_key, write_key_pair
from fieldproof import console


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "keygen",
        help="生成签名密钥 make a signing key",
        description="Write an Ed25519 private key to KEYFILE (mode 0600) and its public key to KEYFILE.pub. "
        "Prints the key id (SHA-256 of the public key). Existing files are never overwritten.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="KEYFILE", help="private key file to create")
    parser.add_argument("--name", help="key name shown in signatures (default: from KEYFILE's name)")
    parser.add_argument("--witness", action="store_true", help="make a witness cosignature key (cosignature/v1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def default_key_name(path: Path) -> str:
    """A valid key name from a file name: printable ASCII, '+' and spaces replaced."""
    name = re.sub(r"[^A-Za-z0-9._:/-]", "-", path.stem or path.name).strip("-")
    return name or "fieldproof-key"


def run(args: argparse.Namespace) -> int:
    key_type = COSIGNATURE_V1 if args.witness else ED25519
    key = generate_key(args.name or default_key_name(args.out), key_type=key_type)
    public_path = write_key_pair(key, args.out)
    if args.json:
        console.print_json(
            {
                "key_id": key.key_id,
                "name": key.name,
                "private_key": str(args.out),
                "public_key": str(public_path),
                "verifier_key": key.public.to_text(),
            }
        )
        return 0
    console.stderr.print(f"已生成密钥 key written: {args.out} (private, mode 0600), {public_path} (public)")
    print(key.key_id)
    return 0
