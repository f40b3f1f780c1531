"""Segment queries: every customer's RFM values, scores, segment, lifecycle status and
action computed in the engine and kept as Arrow until it is written.

The definitions are :func:`userops.analytics.segment.segment_frame`'s (the same on a
frame, for notebooks and tests), in SQL:

* values: recency in calendar days to the as-of date, distinct orders, revenue (or the
  mean order value) rounded as numpy rounds, ``round_even(x * 100, 0) / 100``;
* cut points: ``quantile_cont`` (linear interpolation, as ``np.quantile``), rounded in
  Python; scores ``1 + number of cut points below`` (recency reversed), bound as parameters;
* the rfm10 grid or the cn8 high/low code, as an ENUM in the scheme's order;
* lifecycle: new within the period, churned past the threshold, at risk past the
  customer's mean gap (else the median gap), otherwise active.

The values live in a table of their own between the cut-point query and the scoring query
(one pass over the orders), dropped once the rows are out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from userops.scan import load, sql
from userops.scan.load import HasOrders, line_scope, purchases
from userops.scan.sql import quote_ident as q
from userops.scan.window import Window

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    import pyarrow as pa

VALUES_TABLE = "rfm_values"
#: Each customer's total revenue in the list (for the summary; not written): a name no
#: --keep column has.
REVENUE = "__total_revenue"


def create_rfm_values(orders: HasOrders, window: Window, *, monetary: str, drop_orders: bool = False, promo: str | None = None) -> tuple[int, bool]:
    """Each customer's RFM values (and what the lifecycle needs) into a table of their own;
    the number of customers and whether any has a monetary value. ``drop_orders`` frees the
    orders table afterwards (see :func:`userops.scan.load.drop_orders`). ``promo`` (an SQL
    condition on ``order_ts``) adds the customer's orders in promotions, ``promo_orders``."""
    as_of = sql.timestamp(window.as_of)
    value = "revenue" if monetary == "total" else "revenue / orders"
    promo_orders, promoted = (f", count(*) FILTER (WHERE {promo}) AS promo_orders", ", promo_orders") if promo else ("", "")
    orders.engine.execute(
        f"""CREATE OR REPLACE TABLE {VALUES_TABLE} AS
        SELECT customer_id, date_diff('day', CAST(last_order AS DATE), CAST({as_of} AS DATE)) AS recency_days,
               date_diff('day', CAST(first_order AS DATE), CAST({as_of} AS DATE)) AS tenure_days,
               orders AS frequency, round_even(({value}) * 100, 0) / 100 AS monetary, revenue,
               -- (last - first) in microseconds as a double, / 1e6 / 86400: numpy's arithmetic, to the bit
               CASE WHEN orders > 1 THEN (epoch_us(last_order) - epoch_us(first_order)) / 1e6 / 86400.0 / (orders - 1) END AS mean_gap{promoted}
        FROM (SELECT customer_id, min(order_ts) AS first_order, max(order_ts) AS last_order, count(*) AS orders,
                     CAST(sum(amount) AS DOUBLE) AS revenue{promo_orders}
              FROM ({purchases(window)}) GROUP BY customer_id)"""
    )
    if drop_orders:
        load.drop_orders(orders)
    customers, priced = orders.engine.row(f"SELECT count(*), count(monetary) FROM {VALUES_TABLE}")
    return int(customers), int(priced) > 0


def rfm_quantiles(orders: HasOrders, bins: int) -> dict[str, list[float]]:
    """The 1/bins, 2/bins... quantiles of recency, frequency and monetary (not rounded)."""
    probs = [k / bins for k in range(1, bins)]
    r, f, m = orders.engine.row(
        f"SELECT quantile_cont(recency_days, $1), quantile_cont(frequency, $1), quantile_cont(monetary, $1) FROM {VALUES_TABLE}", [probs]
    )
    return {"recency_days": list(r or []), "frequency": list(f or []), "monetary": list(m or [])}


def split_values(orders: HasOrders, split: str) -> dict[str, float]:
    """cn8's split point of recency, frequency and monetary: the mean or the median.

    The means are numpy's: whole numbers summed exactly; monetary summed in its cents (a
    float sum's last bit depends on the order of the rows). The median is the middle value,
    or the mean of the two middle ones, as ``np.median``."""
    if split == "mean":
        r, f, m, n = orders.engine.row(
            f"""SELECT CAST(sum(recency_days) AS DOUBLE), CAST(sum(frequency) AS DOUBLE),
                       CAST(sum(CAST(monetary AS DECIMAL(38, 2))) AS DOUBLE), count(*) FROM {VALUES_TABLE}"""
        )
        return {"recency_days": r / n, "frequency": f / n, "monetary": m / n}
    n = int(orders.engine.value(f"SELECT count(*) FROM {VALUES_TABLE}"))
    middle = [(n - 1) // 2, n // 2]
    at = {}
    for column in ("recency_days", "frequency", "monetary"):
        values = [
            float(v)
            for (v,) in orders.engine.rows(f"SELECT {column} FROM {VALUES_TABLE} ORDER BY {column} LIMIT $1 OFFSET $2", [middle[1] - middle[0] + 1, middle[0]])
        ]
        at[column] = (values[0] + values[-1]) / 2 if len(values) > 1 else values[0]
    return at


def _score(column: str, cuts: tuple[float, ...], params: list, *, reverse: bool = False) -> str:
    """``1 + number of cut points strictly below`` (recency: ``len + 2 -`` that)."""
    below = []
    for cut in cuts:
        params.append(float(cut))
        below.append(f"CAST({column} > ${len(params)} AS INTEGER)")
    count = " + ".join(below) if below else "0"
    return f"({len(cuts) + 1} - ({count}))" if reverse else f"(1 + {count})"


def rfm_value_sample(orders: HasOrders, size: int) -> tuple["pd.DataFrame", int]:
    """``recency_days, frequency, monetary`` of every customer in customer-id order, or, past
    ``size`` customers, of a fixed sample of ``size`` (the first by the MD5 of their id: the
    same customers on every run and engine), in customer-id order; and the customer count."""
    customers = int(orders.engine.value(f"SELECT count(*) FROM {VALUES_TABLE}"))
    source = VALUES_TABLE if customers <= size else f"(SELECT * FROM {VALUES_TABLE} ORDER BY md5(customer_id), customer_id LIMIT {int(size)})"
    return orders.engine.frame(f"SELECT recency_days, frequency, monetary FROM {source} ORDER BY customer_id"), customers


def assign_clusters(orders: HasOrders, mean: "np.ndarray", std: "np.ndarray", centres: "np.ndarray") -> "pd.DataFrame":
    """Every customer's nearest k-means centre (on log1p of recency, frequency and monetary,
    standardised by ``mean`` and ``std``; the lowest number of equally near ones, as
    scikit-learn) as a ``cluster`` column of the values table; per cluster, the mean recency
    days, frequency and monetary of its customers (index: the cluster number)."""
    number = lambda x: f"CAST('{float(x)!r}' AS DOUBLE)"  # noqa: E731 (the shortest repr reads back as the same double)
    logs = ["ln(1 + recency_days)", "ln(1 + frequency)", "ln(1 + greatest(coalesce(monetary, 0), 0))"]
    z = [f"(({x}) - {number(m)}) / {number(s)}" for x, m, s in zip(logs, mean, std)]
    distances = ", ".join(
        f"{' + '.join(f'power({zj} - {number(cj)}, 2)' for zj, cj in zip(z, centre))} AS d{i}" for i, centre in enumerate(centres)
    )
    k = len(centres)
    nearest = "CASE " + " ".join(
        "WHEN " + " AND ".join([f"d{i} < d{j}" for j in range(i)] + [f"d{i} <= d{j}" for j in range(i + 1, k)]) + f" THEN {i}"
        for i in range(k - 1)
    ) + f" ELSE {k - 1} END" if k > 1 else "0"
    dropped = ", ".join(f"d{i}" for i in range(k))
    orders.engine.execute(
        f"""CREATE OR REPLACE TABLE {VALUES_TABLE} AS
            SELECT * EXCLUDE ({dropped}), {nearest} AS cluster FROM (SELECT *, {distances} FROM {VALUES_TABLE})"""
    )
    means = orders.engine.frame(
        f"""SELECT cluster, avg(recency_days) AS recency_days, avg(frequency) AS frequency, avg(monetary) AS monetary
            FROM {VALUES_TABLE} GROUP BY cluster ORDER BY cluster"""
    )
    return means.set_index("cluster")


def cluster_sql(names: dict[int, str]) -> str:
    """The k-means segment: the name of each customer's cluster."""
    return "CASE cluster " + " ".join(f"WHEN {c} THEN {sql.sql_str(name)}" for c, name in sorted(names.items())) + " END"


def segment_rows(
    orders: HasOrders,
    window: Window,
    *,
    bins: int,
    r_cuts: tuple[float, ...],
    f_cuts: tuple[float, ...],
    m_cuts: tuple[float, ...] | None,
    segment_sql: str,
    segments: list[str],
    new_within_days: int,
    churn_threshold_days: int,
    median_gap_days: float | None,
    statuses: dict[str, str],
    actions: dict[str, str],
    keep: tuple[str, ...] = (),
    promo: bool = False,
) -> "pa.Table":
    """The per-customer list (``rfm.CUSTOMER_COLUMNS``; with ``promo``, the values table
    having them, ``promo_orders``, ``promo_order_share`` and ``promo_only``; then ``REVENUE`` —
    each customer's total, for the summary — then the ``--keep`` columns), ordered by
    customer id.

    ``segment_sql`` names the segment from ``r_score, f_score, m_score`` and the values
    (see :func:`rfm10_sql`, :func:`cn8_sql`); ``m_cuts`` None: no amounts, no M score and
    codes "54-"."""
    params: list = []
    r = _score("recency_days", r_cuts, params, reverse=True)
    f = _score("frequency", f_cuts, params)
    m = _score("monetary", m_cuts, params) if m_cuts is not None else "CAST(NULL AS INTEGER)"
    code = "CAST(r_score * 100 + f_score * 10 + m_score AS VARCHAR)" if m_cuts is not None else "CAST(r_score * 10 + f_score AS VARCHAR) || '-'"
    # every code the scores can make, as an ENUM: a few hundred values, not a string per
    # customer (the writer then guards and formats the distinct codes only)
    scores = range(1, bins + 1)
    codes = [f"{a}{b}{c}" for a in scores for b in scores for c in scores] if m_cuts is not None else [f"{a}{b}-" for a in scores for b in scores]
    usual = "mean_gap"
    if median_gap_days is not None and median_gap_days == median_gap_days:  # not NaN
        params.append(float(median_gap_days))
        usual = f"coalesce(mean_gap, ${len(params)})"
    enum = lambda names: "ENUM(" + ", ".join(sql.sql_str(n) for n in names) + ")"  # noqa: E731
    shown = lambda status: sql.sql_str(statuses[status])  # noqa: E731 (a status in the chosen language)
    action_names = list(dict.fromkeys(actions.get(s, "") for s in segments))
    action = "CASE segment " + " ".join(f"WHEN {sql.sql_str(s)} THEN {sql.sql_str(actions.get(s, ''))}" for s in segments) + " END"
    kept_join, kept_select = "", ""
    if keep:
        names = ["customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_code", "segment",
                 "lifecycle_status", "action"]
        kept = lambda c: q(sql.keep_column(c))  # noqa: E731
        # the latest value; of two at the same time the greater (every run, every engine)
        picks = ", ".join(
            f"arg_max({kept(c)}, (order_ts, {kept(c)})) FILTER (WHERE {kept(c)} IS NOT NULL AND {kept(c)} <> '') AS {q(f'kept:{i}')}" for i, c in enumerate(keep)
        )
        kept_join = f"LEFT JOIN (SELECT customer_id, {picks} FROM ({line_scope(orders.facts, window)}) GROUP BY customer_id) k USING (customer_id)"
        kept_select = ", " + ", ".join(f"k.{q(f'kept:{i}')} AS {q(f'{c} (input)' if c in names else c)}" for i, c in enumerate(keep))
    # the deal hunters: every order in a promotion window
    promoted = " promo_orders, round(promo_orders / frequency, 4) AS promo_order_share, promo_orders = frequency AS promo_only," if promo else ""
    query = f"""
        WITH scored AS (
            SELECT *, {r} AS r_score, {f} AS f_score, {m} AS m_score FROM {VALUES_TABLE}),
        named AS (
            SELECT *, CAST({segment_sql} AS {enum(segments)}) AS segment FROM scored)
        SELECT v.customer_id, recency_days, frequency, monetary, r_score, f_score, m_score, CAST({code} AS {enum(codes)}) AS rfm_code, segment,
               CAST(CASE WHEN tenure_days < {int(new_within_days)} THEN {shown('new')}
                         WHEN recency_days > {int(churn_threshold_days)} THEN {shown('churned')}
                         WHEN recency_days > {usual} THEN {shown('at risk')}
                         ELSE {shown('active')} END AS {enum(list(statuses.values()))}) AS lifecycle_status,
               CAST({action} AS {enum(action_names)}) AS action,{promoted} revenue AS {q(REVENUE)}{kept_select}
        FROM named v {kept_join} ORDER BY v.customer_id"""
    try:
        return orders.engine.list_table(query, params)
    finally:
        orders.engine.execute(f"DROP TABLE IF EXISTS {VALUES_TABLE}")


def rfm10_sql(grid: dict[int, dict[int, str]]) -> str:
    """The R×F grid as a CASE on the scores."""
    return "CASE " + " ".join(f"WHEN r_score = {r} AND f_score = {f} THEN {sql.sql_str(name)}" for r, row in grid.items() for f, name in row.items()) + " END"


def cn8_sql(at: dict[str, float], labels: dict[str, str]) -> str:
    """The cn8 label from high/low against the split values (recency high when below it,
    frequency and monetary when above; equal counts as low). The split values are written
    as their shortest repr, read back as the same double."""
    value = lambda name: f"CAST('{float(at[name])!r}' AS DOUBLE)"  # noqa: E731
    code = " || ".join(
        f"CASE WHEN {column} {op} {value(column)} THEN 'H' ELSE 'L' END"
        for column, op in (("recency_days", "<"), ("frequency", ">"), ("monetary", ">"))
    )
    return f"CASE {code} " + " ".join(f"WHEN {sql.sql_str(c)} THEN {sql.sql_str(label)}" for c, label in labels.items()) + " END"
