"""The revenue bridge's query: per period, each customer's revenue against the previous
period's, summed by what kind of change it is. The definitions are in
:mod:`userops.analytics.bridge`; this module is their SQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from userops.scan import sql
from userops.scan.load import HasOrders, line_scope
from userops.scan.window import Window, period_start_sql, period_step_sql

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def bridge_cells(data: HasOrders, window: Window, *, period: str = "month", week_start: str = "monday", by: str | None = None) -> "pd.DataFrame":
    """One row per period (and order channel) with a purchase in it or in the period before:
    period, grp, revenue, previous_revenue, and the parts of the change — new, reactivated,
    expansion, contraction (≤ 0), lost (≤ 0) — with the customers of each kind. Sums are exact
    decimals, cast at the end. A customer (with ``by_channel``: a customer and channel) is
    new in the period of their first purchase ever; returning when they bought in the period
    before too; reactivated when they bought before that but not in the period before; lost
    in the period after one they bought in, when they buy nothing. ``by="category"`` splits
    each purchase by its lines' categories (the lines re-read from the raw rows)."""
    import dataclasses

    end = sql.timestamp(window.end)
    purchases = f"SELECT customer_id, channel, category, order_ts, amount FROM orders WHERE reason IS NULL AND order_ts < {end}"
    if by == "category" and data.facts.has_order_id:
        # the lines of the orders that are purchases (an order excluded as a whole — refunded
        # in full, a negative total — takes its lines with it)
        history = dataclasses.replace(window, start=None)
        purchases = f"""
            SELECT l.customer_id, l.channel, l.category, l.order_ts, l.amount FROM ({line_scope(data.facts, history)}) l
            ANTI JOIN (SELECT customer_id, order_id FROM orders WHERE reason IS NOT NULL AND lines > 0) x
                   ON l.customer_id = x.customer_id AND l.order_id = x.order_id"""
    group = {"channel": "coalesce(channel, '(none)')", "category": "coalesce(category, '(none)')"}.get(by or "", "''")
    query = f"""
        WITH act AS (SELECT customer_id, {group} AS grp, {period_start_sql('order_ts', period, week_start)} AS p, sum(amount) AS rev
                     FROM ({purchases}) GROUP BY 1, 2, 3),
        firsts AS (SELECT customer_id, min(p) AS first_p FROM act GROUP BY 1),
        prev AS (SELECT customer_id, grp, CAST(p + {period_step_sql(period)} AS DATE) AS p, rev FROM act),
        pairs AS (
            SELECT coalesce(a.customer_id, b.customer_id) AS customer_id, coalesce(a.grp, b.grp) AS grp, coalesce(a.p, b.p) AS p,
                   coalesce(a.rev, 0) AS rev, coalesce(b.rev, 0) AS prev_rev, a.p IS NOT NULL AS active, b.p IS NOT NULL AS was_active
            FROM act a FULL OUTER JOIN prev b ON a.customer_id = b.customer_id AND a.grp = b.grp AND a.p = b.p),
        kinds AS (
            SELECT pairs.*, CASE WHEN NOT active THEN 'lost' WHEN p = first_p THEN 'new' WHEN was_active THEN 'returning' ELSE 'reactivated' END AS kind
            FROM pairs JOIN firsts USING (customer_id))
        SELECT p AS period, grp,
               CAST(sum(rev) AS DOUBLE) AS revenue, CAST(sum(prev_rev) AS DOUBLE) AS previous_revenue,
               CAST(coalesce(sum(rev) FILTER (WHERE kind = 'new'), 0) AS DOUBLE) AS new,
               CAST(coalesce(sum(rev) FILTER (WHERE kind = 'reactivated'), 0) AS DOUBLE) AS reactivated,
               CAST(coalesce(sum(rev - prev_rev) FILTER (WHERE kind = 'returning' AND rev > prev_rev), 0) AS DOUBLE) AS expansion,
               CAST(coalesce(sum(rev - prev_rev) FILTER (WHERE kind = 'returning' AND rev < prev_rev), 0) AS DOUBLE) AS contraction,
               CAST(coalesce(-sum(prev_rev) FILTER (WHERE kind = 'lost'), 0) AS DOUBLE) AS lost,
               count(*) FILTER (WHERE kind = 'new') AS new_customers,
               count(*) FILTER (WHERE kind = 'reactivated') AS reactivated_customers,
               count(*) FILTER (WHERE kind = 'returning') AS returning_customers,
               count(*) FILTER (WHERE kind = 'lost') AS lost_customers
        FROM kinds GROUP BY 1, 2 ORDER BY 2, 1"""
    return data.engine.frame(query)
