"""Sensor readings: the value objects shared by the gateway's codecs, the spool, early warning and the server.

A reading is derived from the raw bytes a device sent (those bytes are the evidence; a reading is a view of
them). Its unit comes from the device's channel configuration, never from the pollutant code: the same code is
reported in mg/m³ by one monitor and µg/m³ by another. Its data flag is kept as sent; only ``N`` (instrument
working normally, HJ 212-2017 table 8) makes a value fit for comparison with a limit.
"""

from __future__ import annotations

from typing import NamedTuple

# HJ 212-2017 §6.6.4, table 8 (数据标记表): data flags and what they mean.
DATA_FLAGS = {
    "N": "仪器工作正常 instrument working normally",
    "F": "仪器停运 instrument stopped",
    "M": "维护期间数据 data from maintenance",
    "S": "手工输入的设定值 manually entered set value",
    "D": "仪器故障 instrument fault",
    "C": "校准状态 calibrating",
    "T": "超测量上限 above the measuring range",
    "B": "与数采仪通讯异常 communication fault with the data logger",
}
VALID_FLAG = "N"

# Value kinds HJ 212 sends per pollutant (Rtd real-time, Min/Avg/Max over an interval, Cou cumulative,
# Zs… converted/"折算" values); Modbus and JSON readings are real-time values unless they say otherwise.
KINDS = frozenset({"Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "SampleTime", "Info", "Data"})

# Canonical unit spellings, and the spellings devices and documents use for them.
_UNIT_ALIASES = {
    "ug/m3": ("ug/m3", "µg/m3", "μg/m3", "µg/m³", "μg/m³", "ug/m³", "微克/立方米"),
    "mg/m3": ("mg/m3", "mg/m³", "毫克/立方米"),
    "ng/m3": ("ng/m3", "ng/m³", "纳克/立方米"),
    "mg/L": ("mg/l", "mg/L", "毫克/升"),
    "ug/L": ("ug/l", "ug/L", "µg/L", "μg/L", "微克/升"),
    "dB(A)": ("db(a)", "dB(A)", "dBA", "dba", "分贝"),
    "pH": ("ph", "pH", "无量纲"),
    "degC": ("degc", "°C", "℃", "C", "摄氏度"),
    "m3/h": ("m3/h", "m³/h", "立方米/小时"),
    "L/s": ("l/s", "L/s", "升/秒"),
    "NTU": ("ntu", "NTU"),
    "uS/cm": ("us/cm", "µS/cm", "μS/cm", "uS/cm"),
    "%": ("%",),
}
_UNIT_LOOKUP = {alias.lower(): canonical for canonical, aliases in _UNIT_ALIASES.items() for alias in aliases}

__all__ = ["DATA_FLAGS", "KINDS", "VALID_FLAG", "Reading", "normalize_unit"]


def normalize_unit(unit: str | None) -> str | None:
    """The canonical spelling of a unit (``µg/m³`` → ``ug/m3``); unknown units are returned stripped, as given."""
    if unit is None:
        return None
    text = unit.strip()
    return _UNIT_LOOKUP.get(text.lower(), text) if text else None


class Reading(NamedTuple):
    """One value a device reported for one channel.

    ``code`` is the HJ 212-2017 pollutant code where one exists (``a34004`` PM2.5, ``w01018`` COD); a code that
    was mapped from an older one keeps the code as sent in ``original_code``. ``value`` is None when the device
    sent something that is not a number. ``flag`` is the data flag as sent, None when the device sent none.

    An immutable named tuple rather than a frozen dataclass: decoders make one per value, hundreds of thousands
    a second, and a tuple is built several times faster.
    """

    code: str
    kind: str
    value: float | None
    flag: str | None = None
    original_code: str | None = None
    unit: str | None = None

    @property
    def comparable(self) -> bool:
        """Fit for comparison with a limit: a number, flagged N (instrument working normally)."""
        return self.value is not None and self.flag == VALID_FLAG

    def with_unit(self, unit: str | None) -> Reading:
        return Reading(self.code, self.kind, self.value, self.flag, self.original_code, normalize_unit(unit))
