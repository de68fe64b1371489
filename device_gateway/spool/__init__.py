"""The gateway's durable local store (see ``store``), its schema, and sealing of sensor batches."""

from device_gateway.spool.records import FrameRecord, StoredFrame
from device_gateway.spool.store import Spool

__all__ = ["FrameRecord", "Spool", "StoredFrame"]
