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


def review_sums(data, window, promotion: "Promotion", before: "Promotion", months: tuple[dt.date, dt.date], windows: "tuple[Promotion, ...]", horizons: tuple[int, ...]):
    """For :func:`userops.analytics.promotions.promo_review`: revenue, orders and new
    customers (first purchase ever) in the promotion and in the days ``before`` it, as
    ``{metric: (promotion, before)}``; and per cohort — acquired in the promotion, or
    organically (a first purchase in ``months`` outside every window) — its size and, per
    horizon in days, the share who bought again within it among those observed that long
    (None when none was)."""
    end = sql.timestamp(window.end)
    in_now, in_before = _within("order_ts", promotion), _within("order_ts", before)
    first_now, first_months = _within("first_ts", promotion), (
        f"first_ts >= {sql.timestamp(months[0])} AND first_ts < {sql.timestamp(months[1])} AND NOT {in_promotion('first_ts', windows)}"
    )
    repurchase = []
    for days in horizons:
        observed = f"first_ts + INTERVAL {int(days)} DAY <= {end}"
        repurchase += [f"count(*) FILTER (WHERE {{cohort}} AND {observed})", f"count(*) FILTER (WHERE {{cohort}} AND {observed} AND second_ts < first_ts + INTERVAL {int(days)} DAY)"]
    per_cohort = lambda cohort: ", ".join([f"count(*) FILTER (WHERE {cohort})"] + [r.format(cohort=cohort) for r in repurchase])  # noqa: E731
    query = f"""
        WITH p AS (SELECT customer_id, order_ts, amount FROM orders WHERE reason IS NULL AND order_ts < {end}),
        firsts AS (SELECT customer_id, min(order_ts) AS first_ts FROM p GROUP BY customer_id),
        c AS (SELECT f.customer_id, f.first_ts, min(p.order_ts) FILTER (WHERE p.order_ts > f.first_ts) AS second_ts
              FROM firsts f JOIN p ON p.customer_id = f.customer_id GROUP BY f.customer_id, f.first_ts)
        SELECT (SELECT [CAST(coalesce(sum(amount) FILTER (WHERE {in_now}), 0) AS DOUBLE), CAST(coalesce(sum(amount) FILTER (WHERE {in_before}), 0) AS DOUBLE),
                        count(*) FILTER (WHERE {in_now}), count(*) FILTER (WHERE {in_before})] FROM p),
               (SELECT [count(*) FILTER (WHERE {_within('first_ts', before)}), {per_cohort(first_now)}, {per_cohort(first_months)}] FROM c)"""
    money, counts = data.engine.row(query)
    n = 1 + 2 * len(horizons)
    # the promotion's new customers are its cohort
    sums = {"revenue": (money[0], money[1]), "orders": (int(money[2]), int(money[3])), "new_customers": (int(counts[1]), int(counts[0]))}
    cohorts = []
    for key, values in (("promotion", counts[1:1 + n]), ("organic", counts[1 + n:1 + 2 * n])):
        rates = [values[2 + 2 * i] / values[1 + 2 * i] if values[1 + 2 * i] else None for i in range(len(horizons))]
        cohorts.append((key, int(values[0]), rates))
    return sums, cohorts
