"""Enrolling the gateway's key with a server, and pinning the server's log key.

``enroll`` sends the gateway's verifier key with a one-time code (``POST /devices/enroll``, kind ``gateway``) and
keeps the server URL, the device id and the unit in the spool. The server's checkpoint key (``GET /log/key``)
needs a user token: it is fetched at enrollment when a token is given, else at the first sync, and pinned in the
spool from then on (trust on first use): a server that later shows or signs with another key is refused.
"""

from __future__ import annotations

from device_gateway.errors import ServerRefusedError, SyncError, UntrustedServerError
from device_gateway.spool import Spool
from device_gateway.sync import state
from device_gateway.sync.client import ServerClient
from device_gateway.sync.state import Enrollment
from evidence.errors import KeyFileError
from evidence.keys import PublicKey, SigningKey

ENROLL = "/api/v1/devices/enroll"
LOG_KEY = "/api/v1/log/key"


def normalized(server: str) -> str:
    """The server's base URL as the spool keys it: no trailing slash."""
    return server.rstrip("/")


def enroll(spool: Spool, client: ServerClient, *, code: str, key: SigningKey) -> tuple[Enrollment, bool]:
    """Enroll the gateway's key (once per server); return the enrollment and whether it is new."""
    known = state.enrollment(spool.connection, client.server)
    if known is not None:
        return known, False
    body = {"code": code, "kind": "gateway", "name": key.name, "public_key": key.public.to_text()}
    answer = client.expect("POST", ENROLL, (201,), json=body).json()
    entry = Enrollment(client.server, int(answer["id"]), str(answer["key_id"]), str(answer["unit"]))
    if entry.key_id != key.key_id:
        raise SyncError(f"the server enrolled key {entry.key_id}, not this gateway's {key.key_id}")
    state.record_enrollment(spool, entry)
    return entry, True


def server_log_key(spool: Spool, client: ServerClient) -> PublicKey:
    """The server's checkpoint key: pinned, or fetched and pinned now; refused if the server now shows another."""
    pinned = state.pinned_key(spool.connection, client.server)
    try:
        shown = client.expect("GET", LOG_KEY, (200,)).text.strip()
    except ServerRefusedError:
        if pinned is None:
            raise
        shown = pinned  # a server may hide its key; the pinned one still checks every receipt
    if pinned is None:
        state.pin_key(spool, client.server, shown)
        pinned = shown
    if shown != pinned:
        raise UntrustedServerError(
            f"{client.server} now shows log key {shown.split('+')[0]!r}, not the key pinned when this gateway first "
            "synced with it: refused (a replaced server or log)"
        )
    try:
        return PublicKey.from_text(pinned)
    except KeyFileError as exc:
        raise UntrustedServerError(f"{client.server}'s log key is not a verifier key: {exc}") from exc
