"""Promotion windows in SQL: whether an order's time falls in one, and which.

The calendars themselves are :mod:`userops.analytics.promotions`; only the windows that
overlap the data are written out (a few per year, not the calendar's every year).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from userops.scan import sql

if TYPE_CHECKING:  # pragma: no cover
    from userops.analytics.promotions import Promotion


def _within(column: str, window: "Promotion") -> str:
    end = dt.datetime.combine(window.end + dt.timedelta(days=1), dt.time())
    return f"({column} >= {sql.timestamp(window.start)} AND {column} < {sql.timestamp(end)})"


def in_promotion(column: str, windows: "tuple[Promotion, ...]") -> str:
    """SQL BOOLEAN: the timestamp ``column`` falls in one of the windows."""
    return "(" + " OR ".join(_within(column, w) for w in windows) + ")" if windows else "false"


def promotion_name(column: str, windows: "tuple[Promotion, ...]", otherwise: str | None = None) -> str:
    """SQL VARCHAR: the name of the first window (the calendar gives them shortest first)
    holding the timestamp ``column``; ``otherwise`` (NULL when None) outside them all."""
    default = sql.sql_str(otherwise) if otherwise is not None else "NULL::VARCHAR"
    if not windows:
        return default
    return "CASE " + " ".join(f"WHEN {_within(column, w)} THEN {sql.sql_str(w.name)}" for w in windows) + f" ELSE {default} END"
