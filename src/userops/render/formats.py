"""Pure display formatters shared by the terminal table and (later) the HTML report."""

from __future__ import annotations

import datetime as dt
import math
import re

from userops import schema


def is_missing(value) -> bool:
    """None, NaN, NaT and pandas' NA."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False


def number(value, decimals: int = 0) -> str:
    if is_missing(value):
        return ""
    return f"{float(value):,.{decimals}f}"


def p_value(value) -> str:
    """``0.0312``, and in scientific notation below 0.001 (``3.2e-12``: never ``0``)."""
    if is_missing(value):
        return ""
    value = float(value)
    return f"{value:.1e}" if 0 < value < 1e-3 else f"{value:.4f}"


def count(value) -> str:
    """A count that may be a mean: ``1,234`` when whole, else one decimal (``37.2``)."""
    if is_missing(value):
        return ""
    value = float(value)
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"


def integer(value) -> str:
    if is_missing(value):
        return ""
    return f"{int(value):,}"


def money(value) -> str:
    return number(value, 2)


def percent(value, decimals: int = 1) -> str:
    if is_missing(value):
        return ""
    return f"{float(value) * 100:.{decimals}f}%"


def days(value) -> str:
    if is_missing(value):
        return ""
    v = float(value)
    return f"{v:,.0f}" if math.isclose(v, round(v)) else f"{v:,.1f}"


def date(value) -> str:
    if is_missing(value):
        return ""
    if isinstance(value, dt.datetime) or hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
        return value.strftime("%Y-%m-%d") if value.time() == dt.time() else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


#: Control characters other than tab and newline: in data they could retitle, clear or
#: rewrite a terminal (ESC sequences, CR, BEL, the C1 range).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(value: str) -> str:
    """Text safe to show on a terminal: control characters become U+FFFD (machine formats
    keep the data as it is; only what a terminal shows goes through this)."""
    return _CONTROL.sub("\ufffd", value)


def text(value) -> str:
    if is_missing(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


#: The units of :func:`duration`, per language: seconds, minutes, hours, days.
DURATION_UNITS = {"en": ("s", "m", "h", "d"), "zh": (" 秒", " 分", " 小时", " 天")}


def duration(seconds, lang: str = "en") -> str:
    """Seconds as ``45s``, ``5m 02s``, ``3h 10m``, ``2.5d`` (``2.5 天`` in Chinese)."""
    if is_missing(seconds):
        return ""
    s = float(seconds)
    sec, minute, hour, day = DURATION_UNITS.get(lang, DURATION_UNITS["en"])
    if s < 60:
        return f"{s:.0f}{sec}"
    if s < 3600:
        return f"{int(s // 60)}{minute} {int(s % 60):02d}{sec}"
    if s < 86400:
        return f"{int(s // 3600)}{hour} {int(s % 3600 // 60):02d}{minute}"
    return f"{s / 86400:.1f}{day}"


def formatter_for(column: str, value_kind: str):
    """The formatter for a column, from its name (units in names) and its kind."""
    if schema.is_ratio(column):
        return percent
    if column in ("p_value", "ph_test_p"):
        return p_value
    if column.endswith("_s") and value_kind in ("float", "int"):
        return duration
    if column.endswith("_days") or column.startswith("mean_days") or column.startswith("median_days"):
        return days
    if value_kind == "datetime" or column.endswith(("_date", "_order", "_ts")) or column in ("period", "as_of"):
        return date
    if column in ("revenue", "aov", "monetary", "amount", "clv", "value_at_risk") or column.endswith(("_revenue", "_value")):
        return money
    if value_kind == "int":
        return integer
    if value_kind == "float":
        return lambda v: number(v, 2)
    return text
