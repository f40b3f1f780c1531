"""Cohort retention queries: per cohort and period after it, the people active again.

The definitions (first vs recurring cohorts, classic vs rolling, incomplete cells) are in
:mod:`userops.analytics.retention`; this module is their SQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from userops.errors import DataError
from userops.scan import sql
from userops.scan.load import EventsFacts, HasEvents, HasOrders
from userops.scan.window import Window, period_start_sql

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def retention_cells(
    data: HasOrders | HasEvents,
    window: Window,
    *,
    source: str = "orders",
    period: str = "month",
    week_start: str = "monday",
    cohort: str = "first",
    mode: str = "classic",
    start_event: tuple[str, ...] = (),
    return_event: tuple[str, ...] = (),
) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """Cohort sizes (cohort, size, revenue0) and cells (cohort, k, users, revenue) — for
    ``rolling`` one row per cohort and *last* return period k. See analytics/retention.py."""
    engine = data.engine
    end = sql.timestamp(window.end)
    activity_rows = data.facts.activity if isinstance(data.facts, EventsFacts) else None
    grain = data.facts.grain if isinstance(data.facts, EventsFacts) else None
    if source == "orders":
        activity = f"SELECT customer_id AS user_id, order_ts AS ts, true AS s, true AS r, amount AS revenue FROM orders WHERE reason IS NULL AND order_ts < {end}"
    elif activity_rows is not None and grain is not None:
        if (tuple(start_event), tuple(return_event)) != activity_rows:
            raise DataError("the events were loaded as daily activity for other start/return events; load them again")
        if grain[0] != "day":
            # rows are whole periods: right only for this period and when none runs past the end
            spans_end = engine.value(f"SELECT count(*) FROM events WHERE reason IS NULL AND last_ts >= {end}")
            if grain != (period, week_start) or spans_end:
                raise DataError(f"the events were loaded as activity per {grain[0]}; load them per day for this as-of date or period")
        activity = f"SELECT user_id, event_ts AS ts, s, r, NULL::DOUBLE AS revenue FROM events WHERE reason IS NULL AND event_ts < {end}"
    else:
        s_cond = sql.in_list("event", start_event) if start_event else "true"
        r_cond = sql.in_list("event", return_event) if return_event else "true"
        activity = f"SELECT user_id, event_ts AS ts, {s_cond} AS s, {r_cond} AS r, NULL::DOUBLE AS revenue FROM events WHERE reason IS NULL AND event_ts < {end}"
    trunc = period_start_sql("ts", period, week_start)
    k = {"day": "date_diff('day', c, a.p)", "week": "date_diff('day', c, a.p) // 7", "month": "date_diff('month', c, a.p)"}[period]
    def since(c: str) -> str:  # cohorts that start in the window (before --to)
        start = f" AND {c} >= DATE '{window.start.date().isoformat()}'" if window.start is not None else ""
        return f"AND {window.starts_before(c)}{start}"

    # every purchase, and without --start-event/--return-event every event, starts and
    # returns: then the flags are neither aggregated nor tested
    every_starts = source == "orders" or not start_event
    every_returns = source == "orders" or not return_event
    if cohort == "first":
        first_period = "min(p)" if every_starts else "min(p) FILTER (WHERE started)"
        cohorts = f"SELECT * FROM (SELECT user_id, {first_period} AS c FROM act GROUP BY user_id) WHERE c IS NOT NULL {since('c')}"
    else:
        cohorts = f"SELECT user_id, p AS c FROM act WHERE {'true' if every_starts else 'started'} {since('p')}"
    # activity per user and period, computed once; each row joined to the user's cohort(s)
    # (a join: ~2x faster than a window over the activity)
    if source == "events" and grain is not None and grain[0] != "day":  # one row per user and period already
        act = f"act AS (SELECT user_id, CAST(ts AS DATE) AS p, s AS started, r AS returned, revenue FROM ({activity}))"
    else:
        flags = f"{'true' if every_starts else 'bool_or(s)'} AS started, {'true' if every_returns else 'bool_or(r)'} AS returned"
        act = f"""act AS MATERIALIZED (SELECT user_id, {trunc} AS p, {flags},
                                            sum(revenue) AS revenue FROM ({activity}) GROUP BY 1, 2)"""
    base = f"""WITH {act},
        a AS (SELECT cohorts.c, act.* FROM ({cohorts}) cohorts JOIN act ON act.user_id = cohorts.user_id AND act.p >= cohorts.c)"""
    if mode == "classic":
        # one pass: at k = 0 (p = c) every member counts (the cohort size), later only returns
        counted = "" if every_returns else " FILTER (WHERE p = c OR returned)"
        rows = f"""{base}
            SELECT c AS cohort, {k} AS k, count(*){counted} AS users,
                   CAST(sum(revenue){counted} AS DOUBLE) AS revenue
            FROM a GROUP BY 1, 2 ORDER BY 1, 2"""
    else:
        rows = f"""{base},
        per_user AS MATERIALIZED (
            SELECT c, user_id, max({k}) FILTER (WHERE p > c{'' if every_returns else ' AND returned'}) AS last_k,
                   sum(revenue) FILTER (WHERE p = c) AS revenue0
            FROM a GROUP BY 1, 2)
        SELECT c AS cohort, 0 AS k, count(*) AS users, CAST(sum(revenue0) AS DOUBLE) AS revenue FROM per_user GROUP BY 1
        UNION ALL
        SELECT c, last_k, count(*), NULL FROM per_user WHERE last_k IS NOT NULL GROUP BY 1, 2
        ORDER BY 1, 2"""
    with engine.one_thread_more():
        table = engine.frame(rows)
    first = table["k"] == 0
    sizes = table[first].rename(columns={"users": "size", "revenue": "revenue0"})[["cohort", "size", "revenue0"]].reset_index(drop=True)
    cells = table[~first & (table["users"] > 0)].reset_index(drop=True)
    if mode != "classic":
        cells = cells.drop(columns="revenue")
    return sizes, cells
