"""The gateway's exception tree::

GatewayError
├── ProtocolError            bytes that do not follow a device protocol
│   ├── Hj212Error           an HJ 212 frame (length, CRC, fields, CP) is wrong; ``reason`` names how
│   ├── NmeaError            an NMEA 0183 sentence (checksum, fields) is wrong
│   ├── ModbusError          a Modbus register map or register values are wrong
│   └── PayloadError         a JSON reading payload does not follow the documented schema
├── ConfigError              a source URL, register map or device setting is wrong (also an InputError:
│                            the command exits with status 2, bad usage)
├── DeviceTimeoutError       a device did not answer in time
├── SpoolError               the local spool cannot store or read something
└── SyncError                a sync with the server could not be completed
    ├── NotEnrolledError     the gateway is not enrolled with that server, or has no token (also an InputError)
    ├── ServerUnavailableError  the server could not be reached, or kept failing, after retries
    ├── ServerRefusedError   the server refused a request (4xx); ``status`` and the server's reason
    └── UntrustedServerError a receipt, proof or checkpoint does not verify: the server is not trusted
"""

from __future__ import annotations

from evidence.errors import FieldproofError, InputError


class GatewayError(FieldproofError):
    """Base of the gateway's errors."""


class ProtocolError(GatewayError):
    """Bytes that do not follow a device protocol. ``reason`` is a short stable code (e.g. ``crc``)."""

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class Hj212Error(ProtocolError):
    """An HJ 212 frame is malformed: bad length, CRC, field or CP content."""


class NmeaError(ProtocolError):
    """An NMEA 0183 sentence is malformed or its checksum is wrong."""


class ModbusError(ProtocolError):
    """A Modbus register map or the register values read are malformed."""


class PayloadError(ProtocolError):
    """A JSON reading payload does not follow the documented schema."""


class ConfigError(GatewayError, InputError):
    """A source URL, register map or device setting is wrong."""


class DeviceTimeoutError(GatewayError):
    """A device did not answer within its timeout."""


class SpoolError(GatewayError):
    """The local spool cannot store or read something."""


class SyncError(GatewayError):
    """A sync with the server could not be completed."""


class NotEnrolledError(SyncError, InputError):
    """The gateway is not enrolled with the server, or no user token was given."""


class ServerUnavailableError(SyncError):
    """The server could not be reached, or kept answering 5xx/429, after every retry."""


class ServerRefusedError(SyncError):
    """The server refused a request; ``status`` is its HTTP status."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class UntrustedServerError(SyncError):
    """What the server answered does not verify (a receipt, an inclusion proof, a checkpoint, log consistency)."""
