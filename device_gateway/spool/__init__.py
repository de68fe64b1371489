"""The gateway's durable local store (see ``store``), its schema, and sealing of sensor batches."""

from device_gateway.spool.store import FrameRecord, Spool, StoredFrame

__all__ = ["FrameRecord", "Spool", "StoredFrame"]
