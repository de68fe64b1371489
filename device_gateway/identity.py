"""The gateway's own signing key: created on first use, kept in ``DATA/keys/gateway.key`` (mode 0600).

The key signs the custody events the gateway asserts (what it acquired and imported). Its name, which is also
the gateway's device id, is ``fieldproof-gateway-<8 hex digits>``, fixed when the key is made.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from evidence.keys import SigningKey, generate_key, load_signing_key, write_key_pair

KEY_FILE = Path("keys") / "gateway.key"


def gateway_key(data_dir: Path) -> SigningKey:
    """The gateway's key, made (with its .pub beside it) the first time it is needed."""
    path = data_dir / KEY_FILE
    if path.exists():
        return load_signing_key(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = generate_key(f"fieldproof-gateway-{secrets.token_hex(4)}")
    write_key_pair(key, path)
    return key
