"""Churn queries: the risk model's per-customer features and labels at a cutoff.

The model (snapshots, classifier, evaluation against recency) is
:mod:`userops.analytics.churn_risk`; the BTYD inputs are
:func:`userops.scan.customers.purchase_day_summary`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from userops.scan import sql
from userops.scan.load import HasOrders
from userops.scan.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def churn_features(orders: HasOrders, window: Window, cutoff: dt.datetime, horizon_days: int, *, label: bool = True) -> "pd.DataFrame":
    """Risk-model features per customer from the purchases before ``cutoff`` (a midnight:
    the snapshot is as of the day before it; from the window's start on), and with
    ``label`` whether they bought nothing in [cutoff, cutoff + horizon).

    recency/tenure in days as of the snapshot day; orders and revenue overall, in the last horizon
    and in the horizon before it (the trend); mean gap; largest order; first-order channel
    and how many channels were used."""
    c = sql.timestamp(cutoff)
    h = f"INTERVAL {int(horizon_days)} DAY"
    since = f" AND order_ts >= {sql.timestamp(window.start)}" if window.start else ""
    # amounts stay DECIMAL until summed: a parallel sum of doubles can differ in the last
    # bit from run to run, and the model would then differ too
    history = f"SELECT customer_id, order_id, order_ts, amount, channel FROM orders WHERE reason IS NULL AND order_ts < {c}{since}"
    labelled = ""
    if label:
        labelled = f""", (customer_id NOT IN (SELECT customer_id FROM orders
                            WHERE reason IS NULL AND order_ts >= {c} AND order_ts < {c} + {h})) AS churned"""
    return orders.engine.frame(
        f"""WITH f AS (
            SELECT customer_id,
                   date_diff('day', CAST(max(order_ts) AS DATE), CAST({c} - INTERVAL 1 DAY AS DATE)) AS recency_days,
                   date_diff('day', CAST(min(order_ts) AS DATE), CAST({c} - INTERVAL 1 DAY AS DATE)) AS tenure_days,
                   count(*) AS frequency, CAST(coalesce(sum(amount), 0) AS DOUBLE) AS monetary,
                   CAST(coalesce(max(amount), 0) AS DOUBLE) AS max_order_value,
                   count(*) FILTER (WHERE order_ts >= {c} - {h}) AS orders_last_horizon,
                   count(*) FILTER (WHERE order_ts >= {c} - 2 * {h} AND order_ts < {c} - {h}) AS orders_prior_horizon,
                   CAST(coalesce(sum(amount) FILTER (WHERE order_ts >= {c} - {h}), 0) AS DOUBLE) AS revenue_last_horizon,
                   CASE WHEN count(*) > 1 THEN epoch(max(order_ts) - min(order_ts)) / 86400.0 / (count(*) - 1) END AS mean_gap_days,
                   count(DISTINCT channel) AS channels,
                   first(channel ORDER BY order_ts, order_id) AS first_channel
            FROM ({history}) GROUP BY customer_id)
        SELECT *{labelled} FROM f ORDER BY customer_id"""
    )
