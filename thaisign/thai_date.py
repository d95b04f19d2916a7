"""Dates as Thai letters write them: Buddhist Era (CE + 543), Thai month names, Thai digits.

>>> format_thai_datetime(datetime(2026, 11, 21, 3, 42, tzinfo=UTC))
'๒๑ พฤศจิกายน ๒๕๖๙ ๑๐.๔๒ น.'
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo

Digits = Literal["thai", "arabic"]

BANGKOK = ZoneInfo("Asia/Bangkok")
BUDDHIST_ERA_OFFSET = 543

THAI_MONTHS = (
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
)

#: abbreviated month names, as registers and tables write them (๒๑ พ.ย. ๒๕๖๙)
THAI_MONTHS_SHORT = (
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
)

_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")


def thai_digits(text: str) -> str:
    """``text`` with Arabic digits 0-9 replaced by Thai digits ๐-๙."""
    return text.translate(_THAI_DIGITS)


def _local(moment: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is needed (e.g. datetime.now(UTC))")
    return moment.astimezone(tz)


def format_thai_date(moment: dt.datetime, *, digits: Digits = "thai", tz: dt.tzinfo = BANGKOK) -> str:
    """``๒๑ พฤศจิกายน ๒๕๖๙``: day, Thai month name, Buddhist Era year, in ``tz`` (Bangkok)."""
    local = _local(moment, tz)
    text = f"{local.day} {THAI_MONTHS[local.month - 1]} {local.year + BUDDHIST_ERA_OFFSET}"
    return thai_digits(text) if digits == "thai" else text


def format_thai_short_date(moment: dt.datetime, *, digits: Digits = "thai", tz: dt.tzinfo = BANGKOK) -> str:
    """``๒๑ พ.ย. ๒๕๖๙``: the abbreviated form used in registers and tables."""
    local = _local(moment, tz)
    text = f"{local.day} {THAI_MONTHS_SHORT[local.month - 1]} {local.year + BUDDHIST_ERA_OFFSET}"
    return thai_digits(text) if digits == "thai" else text


def format_thai_time(moment: dt.datetime, *, digits: Digits = "thai", tz: dt.tzinfo = BANGKOK) -> str:
    """``๑๐.๔๒ น.``: the 24-hour time in the official style of Thai letters (hours.minutes น.)."""
    local = _local(moment, tz)
    time = f"{local.hour:02d}.{local.minute:02d} น."
    return thai_digits(time) if digits == "thai" else time


def format_thai_datetime(moment: dt.datetime, *, digits: Digits = "thai", tz: dt.tzinfo = BANGKOK) -> str:
    """``๒๑ พฤศจิกายน ๒๕๖๙ ๑๐.๔๒ น.``: the date, then the time in the official style (นาฬิกา)."""
    return (
        f"{format_thai_date(moment, digits=digits, tz=tz)} {format_thai_time(moment, digits=digits, tz=tz)}"
    )
