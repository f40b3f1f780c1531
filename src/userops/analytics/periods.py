"""Periods shared by every analysis: names, lengths, starts, and whether a period is complete."""

from __future__ import annotations

import datetime as dt

PERIODS = ("day", "week", "month", "quarter", "year")

#: The longest horizon, threshold or conversion window an option takes: ten years. Longer
#: spans mean nothing for a shop's customers and make the engine enumerate days without end.
LONGEST_SPAN_DAYS = 3650

#: Approximate length in days, for "within the last period" rules (lifecycle "new").
PERIOD_DAYS = {"day": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}


def period_start(day: dt.date, period: str) -> dt.date:
    """The first day of the period containing ``day`` (weeks start on Monday)."""
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    first_month = {"month": day.month, "quarter": 3 * ((day.month - 1) // 3) + 1, "year": 1}[period]
    return dt.date(day.year, first_month, 1)


def next_period_start(start: dt.date, period: str) -> dt.date:
    """The first day of the period after the one starting at ``start``."""
    if period == "day":
        return start + dt.timedelta(days=1)
    if period == "week":
        return start + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    month = start.month - 1 + months
    return dt.date(start.year + month // 12, month % 12 + 1, 1)


def last_complete_period(as_of: dt.date, period: str) -> tuple[dt.date, dt.date]:
    """First and last day of the latest period that has ended by ``as_of`` (the period of
    ``as_of`` itself when ``as_of`` is its last day)."""
    start = period_start(as_of, period)
    end = next_period_start(start, period) - dt.timedelta(days=1)
    if end > as_of:
        start = period_start(start - dt.timedelta(days=1), period)
        end = next_period_start(start, period) - dt.timedelta(days=1)
    return start, end


def is_complete(start: dt.date, period: str, as_of: dt.date) -> bool:
    """A period is complete when its last day is on or before the as-of date."""
    return next_period_start(start, period) - dt.timedelta(days=1) <= as_of
