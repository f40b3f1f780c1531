"""The analysis window and periods in SQL: one home for both.

A :class:`Window` is resolved once from --as-of/--from/--to (:func:`resolve_window`) and
every query takes it; periods are bucketed by :func:`period_start_sql` (the Python side of
periods — complete or not, the next start — is :mod:`userops.analytics.periods`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from userops.errors import DataError, UsageError
from userops.scan.sql import timestamp

#: DuckDB's date_trunc units of the periods userops knows.
PERIOD_UNITS = {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year"}


@dataclass(frozen=True)
class Window:
    """The analysis window: orders with ``start <= order_ts < end`` (``end`` = day after as-of).

    ``until`` bounds only what *starts* an analysis (a funnel's step-1 event, a retention
    cohort): with ``--to`` those must fall in range while later steps and returns may follow
    up to the as-of date."""

    as_of: dt.date
    end: dt.datetime
    start: dt.datetime | None = None
    until: dt.datetime | None = None

    def within(self, column: str) -> str:
        """SQL condition: the timestamp ``column`` lies in the window."""
        inside = f"{column} < {timestamp(self.end)}"
        return inside if self.start is None else f"{inside} AND {column} >= {timestamp(self.start)}"

    def starts_before(self, column: str) -> str:
        """SQL condition for a starting event/period column (true when there is no --to)."""
        return f"{column} < {timestamp(self.until)}" if self.until else "true"


def period_start_sql(column: str, period: str, week_start: str = "monday") -> str:
    """SQL DATE: the start of the day/week/month/quarter/year holding the timestamp ``column``
    (weeks from Monday, or from Sunday with ``week_start="sunday"``)."""
    if period == "day":
        return f"CAST({column} AS DATE)"
    if period == "week" and week_start == "sunday":
        return f"CAST(date_trunc('week', {column} + INTERVAL 1 DAY) - INTERVAL 1 DAY AS DATE)"
    return f"CAST(date_trunc('{PERIOD_UNITS[period]}', {column}) AS DATE)"


def period_step_sql(period: str) -> str:
    """SQL INTERVAL from one period start to the next."""
    unit = PERIOD_UNITS[period]
    return "INTERVAL 7 DAY" if unit == "week" else "INTERVAL 3 MONTH" if unit == "quarter" else f"INTERVAL 1 {unit.upper()}"


def resolve_window(
    last_ts: dt.datetime | None,
    as_of: dt.date | dt.datetime | str | None = None,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    end_bounds_starts: bool = False,
) -> Window:
    """The window ``[start, as_of + 1 day)``; ``as_of`` defaults to the date of ``last_ts``.

    ``end`` (--to) normally ends the window; with ``end_bounds_starts`` (funnels, retention) it
    only bounds the starting events, and the window still runs to the as-of date."""
    if as_of is None:
        if last_ts is None:
            raise DataError("nothing left to analyse")
        as_of_date = last_ts.date()
    elif isinstance(as_of, str):
        as_of_date = parse_date(as_of, flag="--as-of")
    elif isinstance(as_of, dt.datetime):
        as_of_date = as_of.date()
    else:
        as_of_date = as_of
    until = None
    if end is not None and end_bounds_starts:
        until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    elif end is not None and end < as_of_date:
        as_of_date = end
    stop = dt.datetime.combine(as_of_date + dt.timedelta(days=1), dt.time())
    begin = dt.datetime.combine(start, dt.time()) if start else None
    if begin is not None and begin >= stop:
        raise UsageError(f"--from {start} is after the as-of date {as_of_date}")
    if begin is not None and until is not None and begin >= until:
        raise UsageError(f"--from {start} is after --to {end}")
    return Window(as_of=as_of_date, end=stop, start=begin, until=until)


def parse_date(text: str, *, flag: str) -> dt.date:
    """``YYYY-MM-DD`` (or ``today``) for flags like ``--as-of``/``--from``/``--to``."""
    text = text.strip()
    if text.lower() == "today":
        return dt.date.today()
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise UsageError(f"{flag} {text!r} is not a date", hint="use YYYY-MM-DD (or 'today')")
