"""Sync: from the gateway's spool to the server, with nothing lost and nothing twice (see docs/sync.md).

``client`` (HTTP, device signature, retries), ``enroll`` (the gateway's key, the server's pinned log key),
``upload`` (tus, resumable at chunk level), ``register`` (``POST /items``), ``receipts`` (checked before kept),
``readings`` (batches of sensor readings), ``state`` (what the spool records), ``engine`` (``sync``).
"""
