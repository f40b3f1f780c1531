"""Churn queries: the risk model's per-customer features and labels at a cutoff.

The model (snapshots, classifier, evaluation against recency) is
:mod:`userops.analytics.churn_risk`; the BTYD inputs are
:func:`userops.scan.customers.purchase_day_summary`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from userops.scan.load import HasOrders
from userops.scan.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: The feature columns of a snapshot, in order (then ``churned`` when labelled).
FEATURE_COLUMNS = [
    "customer_id", "recency_days", "tenure_days", "frequency", "monetary", "max_order_value", "orders_last_horizon",
    "orders_prior_horizon", "revenue_last_horizon", "mean_gap_days", "channels", "first_channel",
]


@dataclass(frozen=True)
class Snapshot:
    """Features from the purchases before ``cutoff`` (a midnight: the snapshot is as of the
    day before it), labelled with whether the customer then bought nothing for the horizon."""

    cutoff: dt.datetime
    label: bool = True


def engine_threads(orders: HasOrders) -> int:
    """The engine's threads (--threads, or every core): what the models may use too."""
    return orders.engine.threads


def churn_features(orders: HasOrders, window: Window, cutoff: dt.datetime, horizon_days: int, *, label: bool = True) -> "pd.DataFrame":
    """One snapshot of :func:`churn_snapshots`."""
    return churn_snapshots(orders, window, [Snapshot(cutoff, label)], horizon_days)[0]


def churn_snapshots(orders: HasOrders, window: Window, snapshots: list[Snapshot], horizon_days: int) -> list["pd.DataFrame"]:
    """Risk-model features per customer at each snapshot, from the purchases before its
    cutoff (from the window's start on), and with ``label`` whether they bought nothing in
    [cutoff, cutoff + horizon). Every snapshot comes from one pass over the orders.

    recency/tenure in days as of the snapshot day; orders and revenue overall, in the last horizon
    and in the horizon before it (the trend); mean gap; largest order; first-order channel
    and how many channels were used. Rows are the customers with a purchase before the cutoff,
    ordered by customer id."""
    import pyarrow.compute as pc

    from userops.scan.engine import arrow_to_frame

    h = f"INTERVAL {int(horizon_days)} DAY"
    params: list[object] = []  # the cutoffs and bounds, bound as parameters

    def bound(value: dt.datetime) -> str:
        params.append(value)
        return f"${len(params)}"

    # amounts stay DECIMAL until summed: a parallel sum of doubles can differ in the last
    # bit from run to run, and the model would then differ too
    reach = max(s.cutoff + (dt.timedelta(days=horizon_days) if s.label else dt.timedelta()) for s in snapshots)
    scope = f"SELECT * FROM orders WHERE reason IS NULL AND order_ts < {bound(reach)}" + (f" AND order_ts >= {bound(window.start)}" if window.start else "")
    sums, features, channels = [], [], []
    for k, s in enumerate(snapshots):
        c = bound(s.cutoff)
        before = f"order_ts < {c}"
        last_h = f"order_ts >= {c} - {h} AND {before}"
        sums += [
            f"max(order_ts) FILTER (WHERE {before}) AS last_{k}", f"count(*) FILTER (WHERE {before}) AS n_{k}",
            f"sum(amount) FILTER (WHERE {before}) AS revenue_{k}", f"max(amount) FILTER (WHERE {before}) AS largest_{k}",
            f"count(*) FILTER (WHERE {last_h}) AS last_h_{k}", f"count(*) FILTER (WHERE order_ts >= {c} - 2 * {h} AND order_ts < {c} - {h}) AS prior_h_{k}",
            f"sum(amount) FILTER (WHERE {last_h}) AS revenue_h_{k}",
        ]
        day = f"CAST({c} - INTERVAL 1 DAY AS DATE)"
        features += [
            f"date_diff('day', CAST(last_{k} AS DATE), {day}) AS recency_days_{k}",
            f"date_diff('day', CAST(first_ts AS DATE), {day}) AS tenure_days_{k}",
            f"n_{k} AS frequency_{k}", f"CAST(coalesce(revenue_{k}, 0) AS DOUBLE) AS monetary_{k}",
            f"CAST(coalesce(largest_{k}, 0) AS DOUBLE) AS max_order_value_{k}",
            f"last_h_{k} AS orders_last_horizon_{k}", f"prior_h_{k} AS orders_prior_horizon_{k}",
            f"CAST(coalesce(revenue_h_{k}, 0) AS DOUBLE) AS revenue_last_horizon_{k}",
            f"CASE WHEN n_{k} > 1 THEN epoch(last_{k} - first_ts) / 86400.0 / (n_{k} - 1) END AS mean_gap_days_{k}",
            f"coalesce(channels_{k}, 0) AS channels_{k}",
        ]
        # channels used before the cutoff: each channel's first use, counted (cheaper than a
        # DISTINCT per cutoff)
        channels.append(f"count(*) FILTER (WHERE first_use < {c}) AS channels_{k}")
        if s.label:
            sums.append(f"count(*) FILTER (WHERE order_ts >= {c} AND order_ts < {c} + {h}) AS bought_{k}")
            features.append(f"bought_{k} = 0 AS churned_{k}")
    table = orders.engine.arrow(
        f"""WITH scope AS ({scope}),
            sums AS (SELECT customer_id, min(order_ts) AS first_ts, arg_min_null(channel, (order_ts, order_id)) AS first_channel, {", ".join(sums)}
                     FROM scope GROUP BY customer_id),
            used AS (SELECT customer_id, {", ".join(channels)}
                     FROM (SELECT customer_id, channel, min(order_ts) AS first_use FROM scope WHERE channel IS NOT NULL GROUP BY ALL)
                     GROUP BY customer_id)
            SELECT customer_id, {", ".join(features)}, first_channel
            FROM sums LEFT JOIN used USING (customer_id) ORDER BY customer_id""",
        params,
    )
    frames = []
    for k, s in enumerate(snapshots):
        columns = [f"{name}_{k}" if name not in ("customer_id", "first_channel") else name for name in FEATURE_COLUMNS]
        if s.label:
            columns.append(f"churned_{k}")
        part = table.select(columns)
        bought = pc.greater(table[f"frequency_{k}"], 0)
        if not pc.all(bought).as_py():  # the snapshot at the window's end has every customer
            part = part.filter(bought)
        frames.append(arrow_to_frame(part.rename_columns([*FEATURE_COLUMNS, *(["churned"] if s.label else [])])))
    return frames
