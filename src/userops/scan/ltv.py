"""Cohort LTV queries: what each acquisition cohort spent in each period after it.

The definitions (cohorts, cumulative value per customer, incomplete cells, CAC and payback)
are in :mod:`userops.analytics.ltv`; this module is their SQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from userops.scan import sql
from userops.scan.load import HasOrders
from userops.scan.window import Window, period_start_sql

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: How many periods after the cohort's a period is (both are period starts).
PERIOD_INDEX = {
    "week": "date_diff('day', c, p) // 7",
    "month": "date_diff('month', c, p)",
    "quarter": "date_diff('month', c, p) // 3",
}


def ltv_cells(
    data: HasOrders, window: Window, *, period: str = "month", week_start: str = "monday", group: str | None = None, margin: bool = False
) -> "pd.DataFrame":
    """One row per cohort, group and period after it with a purchase: cohort (the period of
    the customer's first purchase), grp (``group``, an SQL expression on an order's
    ``channel`` and ``order_ts``, of the customer's first order: the acquisition channel or
    promotion; else NULL), k, buyers (customers of the cohort who bought in period k), revenue and margin
    (sums of the orders' amounts and, with ``margin``, their margin column). At k = 0 every
    member buys: its buyers are the cohort's size."""
    engine = data.engine
    end = sql.timestamp(window.end)
    margin_sum = "CAST(sum(margin) AS DOUBLE)" if margin else "NULL::DOUBLE"
    # the acquisition group: the first order's (ties on time broken by order id, then channel)
    first_group = f"first({group} ORDER BY order_ts, order_id, {group})" if group else "NULL::VARCHAR"
    start = f" AND c >= DATE '{window.start.date().isoformat()}'" if window.start is not None else ""
    query = f"""
        WITH o AS (SELECT customer_id, order_id, order_ts, amount, {'margin' if margin else 'NULL::DECIMAL(18, 4) AS margin'}, channel
                   FROM orders WHERE reason IS NULL AND order_ts < {end}),
        firsts AS (SELECT customer_id, {period_start_sql('first_ts', period, week_start)} AS c, grp
                   FROM (SELECT customer_id, min(order_ts) AS first_ts, {first_group} AS grp FROM o GROUP BY customer_id)),
        cohorts AS (SELECT * FROM firsts WHERE {window.starts_before('c')}{start}),
        act AS (SELECT customer_id, {period_start_sql('order_ts', period, week_start)} AS p,
                       sum(amount) AS amount, sum(margin) AS margin
                FROM o GROUP BY 1, 2),
        a AS (SELECT cohorts.c, cohorts.grp, act.* FROM cohorts JOIN act ON act.customer_id = cohorts.customer_id)
        SELECT c AS cohort, grp, {PERIOD_INDEX[period]} AS k, count(*) AS buyers,
               CAST(sum(amount) AS DOUBLE) AS revenue, {margin_sum} AS margin
        FROM a GROUP BY 1, 2, 3 ORDER BY 1, 2 NULLS FIRST, 3"""
    return engine.frame(query)
