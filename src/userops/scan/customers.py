"""Per-customer and per-period queries over the purchases: what profile, segment and the
report's KPIs are computed from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from userops.scan import sql
from userops.scan.load import HasOrders, line_scope, purchases
from userops.scan.sql import quote_ident as q
from userops.scan.window import PERIOD_UNITS, Window, period_step_sql

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa


def customer_aggregates(orders: HasOrders, window: Window, *, period: str | None = "month", detail: bool = True) -> "pd.DataFrame":
    """One row per customer in the window: first/last order, orders, revenue, active periods
    (unless ``period`` is None), and (``detail``) top category by order lines and top
    channel by orders; ties alphabetical.

    Category counts come from the lines of purchases in the window (lines of orders excluded
    at order level — refund status on another line, negative total — do not count)."""
    return orders.engine.frame(customer_aggregates_sql(orders, window, period=period, detail=detail))


@dataclass(frozen=True)
class CustomerTotals:
    """The window's customers summed up: the inputs of the headline KPIs."""

    customers: int
    orders: int
    revenue: float | None  # None without amounts
    repeat_customers: int  # customers with two orders or more
    first_order: dt.datetime | None
    last_order: dt.datetime | None


def customer_totals(orders: HasOrders, window: Window) -> CustomerTotals:
    """:class:`CustomerTotals` of the purchases in the window, in one row from the engine
    (revenue summed exactly, in the amounts' decimal type)."""
    return customer_totals_of(orders, [window])[0]


def customer_totals_of(orders: HasOrders, windows: list[Window]) -> list[CustomerTotals]:
    """:func:`customer_totals` of several windows from one pass over the orders (the report
    compares a period with the one before, each also from the start). Only the customer
    counts need a group per customer (its orders in each window); orders, revenue and the
    first and last order are summed over the rows."""
    counts, totals, flat, picked = [], [], [], []
    for k, window in enumerate(windows):
        inside = f"FILTER (WHERE {window.within('order_ts')})"
        counts.append(f"count(*) {inside} AS orders_{k}")
        totals += [f"count(*) FILTER (WHERE orders_{k} > 0) AS customers_{k}", f"count(*) FILTER (WHERE orders_{k} >= 2) AS repeat_{k}"]
        flat += [f"count(*) {inside} AS orders_{k}", f"CAST(sum(amount) {inside} AS DOUBLE) AS revenue_{k}",
                 f"min(order_ts) {inside} AS first_{k}", f"max(order_ts) {inside} AS last_{k}"]
        picked += [f"customers_{k}", f"f.orders_{k}", f"revenue_{k}", f"repeat_{k}", f"first_{k}", f"last_{k}"]
    anywhere = " OR ".join(f"({window.within('order_ts')})" for window in windows)
    row = orders.engine.row(
        f"""WITH scope AS (SELECT customer_id, order_ts, amount FROM orders WHERE reason IS NULL AND ({anywhere})),
            c AS (SELECT {", ".join(totals)} FROM (SELECT customer_id, {", ".join(counts)} FROM scope GROUP BY customer_id)),
            f AS (SELECT {", ".join(flat)} FROM scope)
            SELECT {", ".join(picked)} FROM c, f"""
    )
    return [
        CustomerTotals(int(row[6 * k]), int(row[6 * k + 1]), row[6 * k + 2], int(row[6 * k + 3]), row[6 * k + 4], row[6 * k + 5])
        for k in range(len(windows))
    ]


def customer_aggregates_sql(orders: HasOrders, window: Window, *, period: str | None, detail: bool) -> str:
    """The query of :func:`customer_aggregates`, ordered by customer id."""
    scope = purchases(window)
    if period is None:
        base = """
        SELECT customer_id, min(order_ts) AS first_order, max(order_ts) AS last_order,
               count(*) AS orders, CAST(sum(amount) AS DOUBLE) AS revenue
        FROM scope GROUP BY customer_id"""
    else:  # grouping by (customer, period) first is much faster than count(DISTINCT period)
        unit = PERIOD_UNITS[period]
        base = f"""
        SELECT customer_id, min(first_order) AS first_order, max(last_order) AS last_order,
               sum(orders)::BIGINT AS orders, CAST(sum(revenue) AS DOUBLE) AS revenue, count(*) AS active_periods
        FROM (SELECT customer_id, date_trunc('{unit}', order_ts) AS p, min(order_ts) AS first_order,
                     max(order_ts) AS last_order, count(*) AS orders, sum(amount) AS revenue
              FROM scope GROUP BY customer_id, p)
        GROUP BY customer_id"""
    if not detail:
        return f"WITH scope AS ({scope}) {base} ORDER BY customer_id"
    if orders.facts.has_category_lists:
        lines = "SELECT customer_id, category, count(*) AS n FROM (SELECT customer_id, unnest(categories) AS category FROM scope) GROUP BY ALL"
    elif orders.facts.has_order_id:
        lines = f"""
            SELECT l.customer_id, l.category, count(*) AS n
            FROM ({line_scope(orders.facts, window)}) l
            ANTI JOIN (SELECT customer_id, order_id FROM orders WHERE reason IS NOT NULL AND lines > 0) x
                   ON l.customer_id = x.customer_id AND l.order_id = x.order_id
            WHERE l.category IS NOT NULL GROUP BY ALL"""
    else:
        lines = "SELECT customer_id, category, count(*) AS n FROM scope WHERE category IS NOT NULL GROUP BY ALL"
    query = f"""
        WITH scope AS ({scope}),
        base AS ({base}),
        cat AS ({lines}),
        top_cat AS (SELECT customer_id, first(category ORDER BY n DESC, category) AS top_category FROM cat GROUP BY 1),
        ch AS (SELECT customer_id, channel, count(*) AS n FROM scope WHERE channel IS NOT NULL GROUP BY ALL),
        top_ch AS (SELECT customer_id, first(channel ORDER BY n DESC, channel) AS top_channel FROM ch GROUP BY 1)
        SELECT base.*, top_cat.top_category, top_ch.top_channel
        FROM base LEFT JOIN top_cat USING (customer_id) LEFT JOIN top_ch USING (customer_id)
        ORDER BY customer_id"""
    return query


def customer_profiles(
    orders: HasOrders, window: Window, *, period: str, churn_threshold_days: int, median_gap_days: float | None, new_within_days: int,
    statuses: dict[str, str],
) -> "pa.Table":
    """One profile row per customer, computed in the engine and kept as Arrow until it is
    written (:func:`userops.analytics.profile.customer_profile` is the same definition on a
    frame): the aggregates, AOV, mean days between orders, tenure and recency in calendar
    days, and the lifecycle status (:mod:`userops.analytics.lifecycle`: new within
    ``new_within_days``, churned past the threshold, at risk past the customer's usual gap —
    their rounded mean gap, else the median gap — otherwise active).

    Rounding is numpy's (half to even on the scaled value): ``round_even(x * 100, 0) / 100``
    gives ``np.round(x, 2)`` exactly, where DuckDB's ``round`` rounds halves away from zero."""
    as_of = f"DATE '{window.as_of.isoformat()}'"

    def cents(expr: str) -> str:
        return f"round_even(({expr}) * 100, 0) / 100"

    # (last - first) in microseconds as a double, / 1e6 / 86400: numpy's arithmetic, to the bit
    gap = "(epoch_us(last_order) - epoch_us(first_order)) / 1e6 / 86400.0 / (orders - 1)"
    usual = "mean_days_between_orders"
    if median_gap_days is not None and median_gap_days == median_gap_days:  # not NaN
        usual = f"coalesce(mean_days_between_orders, CAST({float(median_gap_days)!r} AS DOUBLE))"
    status_type = "ENUM(" + ", ".join(sql.sql_str(s) for s in statuses.values()) + ")"
    shown = lambda status: sql.sql_str(statuses[status])  # noqa: E731 (a status in the chosen language)
    query = f"""
        WITH c AS ({customer_aggregates_sql(orders, window, period=period, detail=True)}),
        p AS (
            SELECT customer_id, first_order, last_order, orders, {cents('revenue')} AS revenue, {cents('revenue / orders')} AS aov,
                   CASE WHEN orders > 1 THEN {cents(gap)} END AS mean_days_between_orders,
                   date_diff('day', CAST(first_order AS DATE), {as_of}) AS tenure_days,
                   date_diff('day', CAST(last_order AS DATE), {as_of}) AS recency_days,
                   top_category, top_channel, active_periods
            FROM c)
        SELECT *, CAST(CASE WHEN tenure_days < {int(new_within_days)} THEN {shown('new')}
                            WHEN recency_days > {int(churn_threshold_days)} THEN {shown('churned')}
                            WHEN recency_days > {usual} THEN {shown('at risk')}
                            ELSE {shown('active')} END AS {status_type}) AS lifecycle_status
        FROM p ORDER BY customer_id"""
    return orders.engine.list_table(query)


def customer_attributes(orders: HasOrders, window: Window, columns: tuple[str, ...]) -> "pd.DataFrame":
    """Per customer, the latest non-blank value of each --keep column in the window (of two
    values at the same latest time, the greater: the same answer on every run and engine)."""
    scope = line_scope(orders.facts, window)
    kept = lambda c: q(sql.keep_column(c))  # noqa: E731
    picks = ", ".join(f"arg_max({kept(c)}, (order_ts, {kept(c)})) FILTER (WHERE {kept(c)} IS NOT NULL AND {kept(c)} <> '') AS {q(f'kept:{c}')}" for c in columns)
    frame = orders.engine.frame(f"SELECT customer_id, {picks} FROM ({scope}) GROUP BY customer_id ORDER BY customer_id")
    frame.columns = ["customer_id", *columns]  # a kept column may itself be called customer_id
    return frame


def purchase_day_summary(orders: HasOrders, window: Window) -> "pd.DataFrame":
    """Per customer in the window: repeat purchase days (distinct days − 1), first and last
    purchase day, and the mean value of the repeat days (same-day orders are one purchase,
    the first day is left out: the inputs of BG/NBD and Gamma–Gamma)."""
    return orders.engine.frame(
        f"""WITH d AS (SELECT customer_id, CAST(order_ts AS DATE) AS day, sum(amount) AS value
                       FROM ({purchases(window)}) GROUP BY 1, 2),
             k AS (SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY day) AS n FROM d)
        SELECT customer_id, count(*) - 1 AS repeat_days, min(day) AS first_day, max(day) AS last_day,
               CAST(avg(value) FILTER (WHERE n > 1) AS DOUBLE) AS repeat_mean_value
        FROM k GROUP BY customer_id ORDER BY customer_id"""
    )


def gap_stats(orders: HasOrders, window: Window, quantiles: tuple[float, ...] = (0.5, 0.9)) -> list[float | None]:
    """Quantiles of the days between consecutive orders of the same customer (fractional
    days); asked again for the same window, the answer kept from the first time."""
    key = ("gap_stats", window, quantiles)
    if key not in orders.answers:
        qs = ", ".join(f"quantile_cont(gap, {x})" for x in quantiles)
        orders.answers[key] = list(
            orders.engine.row(
                f"""WITH scope AS ({purchases(window)})
                SELECT {qs} FROM (
                    SELECT epoch(order_ts - lag(order_ts) OVER (PARTITION BY customer_id ORDER BY order_ts)) / 86400.0 AS gap
                    FROM scope) WHERE gap IS NOT NULL"""
            )
        )
    return list(orders.answers[key])


def first_order_attributes(orders: HasOrders, window: Window) -> "pd.DataFrame":
    """Per customer in the window, what is known at acquisition: the first order's value,
    channel and (with line categories) its most common category (ties alphabetical)."""
    scope = purchases(window)
    firsts = f"""SELECT customer_id, first(order_id ORDER BY order_ts, order_id) AS first_order_id,
                        first(CAST(amount AS DOUBLE) ORDER BY order_ts, order_id) AS first_order_value,
                        first(channel ORDER BY order_ts, order_id) AS first_channel,
                        first(category ORDER BY order_ts, order_id) AS first_category
                 FROM ({scope}) GROUP BY customer_id"""
    if not orders.facts.has_category_lists:  # one row per order: its category; else none known
        return orders.engine.frame(f"SELECT customer_id, first_order_value, first_channel, first_category FROM ({firsts}) ORDER BY customer_id")
    return orders.engine.frame(
        f"""WITH firsts AS ({firsts}),
        cats AS (SELECT o.customer_id, unnest(o.categories) AS category
                 FROM orders o JOIN firsts f ON o.customer_id = f.customer_id AND o.order_id = f.first_order_id),
        top AS (SELECT customer_id, first(category ORDER BY n DESC, category) AS first_category
                FROM (SELECT customer_id, category, count(*) AS n FROM cats GROUP BY ALL) GROUP BY 1)
        SELECT firsts.customer_id, first_order_value, first_channel, top.first_category
        FROM firsts LEFT JOIN top USING (customer_id) ORDER BY customer_id"""
    )


def period_aggregates(orders: HasOrders, window: Window, *, period: str = "month", promo: str | None = None) -> "pd.DataFrame":
    """Per period: new customers (first purchase ever in it), active customers, orders,
    revenue; with ``promo`` (an SQL condition on ``order_ts``) also the orders and revenue
    it holds for (``promo_orders``, ``promo_revenue``)."""
    unit = PERIOD_UNITS[period]
    scope = purchases(window)
    # new = first purchase ever (not first within --from) falls in the window and the period
    since = f"HAVING min(order_ts) >= {sql.timestamp(window.start)}" if window.start else ""
    promoted = (
        f", count(*) FILTER (WHERE {promo}) AS promo_orders, CAST(coalesce(sum(amount) FILTER (WHERE {promo}), 0) AS DOUBLE) AS promo_revenue"
        if promo else ""
    )
    firsts = f"""
        SELECT date_trunc('{unit}', min(order_ts)) AS period, customer_id
        FROM orders WHERE reason IS NULL AND order_ts < {sql.timestamp(window.end)}
        GROUP BY customer_id {since}"""
    query = f"""
        WITH scope AS ({scope}),
        act AS (SELECT date_trunc('{unit}', order_ts) AS period, count(DISTINCT customer_id) AS active_customers,
                       count(*) AS orders, CAST(sum(amount) AS DOUBLE) AS revenue{promoted} FROM scope GROUP BY 1),
        new AS (SELECT period, count(*) AS new_customers FROM ({firsts}) GROUP BY 1)
        SELECT act.period, coalesce(new.new_customers, 0) AS new_customers, act.active_customers,
               act.orders, act.revenue{', act.promo_orders, act.promo_revenue' if promo else ''}
        FROM act LEFT JOIN new USING (period) ORDER BY act.period"""
    return orders.engine.frame(query)


def lifecycle_counts(orders: HasOrders, window: Window, *, period: str = "month") -> "pd.DataFrame":
    """Per period: customers new (first purchase ever), returning (active this and the
    previous period), resurrected (active now, not in the previous period, not new) and
    dormant (active in the previous period, not now). Periods run from the window's first
    to the as-of date's period, empty ones included."""
    unit = PERIOD_UNITS[period]
    step = period_step_sql(period)
    end = sql.timestamp(window.end)
    history = f"SELECT customer_id, order_ts FROM orders WHERE reason IS NULL AND order_ts < {end}"
    last_p = f"date_trunc('{unit}', {end} - INTERVAL 1 MICROSECOND)"
    first_p = (
        f"date_trunc('{unit}', {sql.timestamp(window.start)})" if window.start else
        f"(SELECT date_trunc('{unit}', min(order_ts)) FROM ({history}))"
    )
    query = f"""
        WITH act AS (SELECT DISTINCT customer_id, date_trunc('{unit}', order_ts) AS p FROM ({history})),
        seq AS (SELECT customer_id, p,
                       lag(p) OVER w AS prev_p, lead(p) OVER w AS next_p, min(p) OVER (PARTITION BY customer_id) AS first_p
                FROM act WINDOW w AS (PARTITION BY customer_id ORDER BY p)),
        marks AS (
            SELECT p, CASE WHEN p = first_p THEN 'new' WHEN prev_p = p - {step} THEN 'returning' ELSE 'resurrected' END AS kind FROM seq
            UNION ALL
            SELECT p + {step} AS p, 'dormant' AS kind FROM seq WHERE next_p IS NULL OR next_p > p + {step}),
        periods AS (SELECT unnest(generate_series({first_p}, {last_p}, {step})) AS p)
        SELECT periods.p AS period,
               count(kind) FILTER (WHERE kind = 'new') AS new,
               count(kind) FILTER (WHERE kind = 'returning') AS returning,
               count(kind) FILTER (WHERE kind = 'resurrected') AS resurrected,
               count(kind) FILTER (WHERE kind = 'dormant') AS dormant
        FROM periods LEFT JOIN marks USING (p) GROUP BY periods.p ORDER BY periods.p"""
    return orders.engine.frame(query)


def purchase_days_after(orders: HasOrders, window: Window, end: dt.datetime) -> int:
    """Distinct (customer, day) purchases in [window end, ``end``) by the customers who had
    bought in the window: what BG/NBD forecasts (customers acquired later are not in it)."""
    return int(
        orders.engine.value(
            "SELECT count(*) FROM (SELECT DISTINCT customer_id, CAST(order_ts AS DATE) FROM orders "
            f"WHERE reason IS NULL AND order_ts >= ? AND order_ts < ? AND customer_id IN (SELECT customer_id FROM ({purchases(window)})))",
            [window.end, end],
        )
    )


def purchase_days_by_period_after(orders: HasOrders, window: Window, end: dt.datetime, *, unit_days: float) -> "pd.DataFrame":
    """Distinct purchase days in [window end, ``end``) of each customer who bought in the
    window, per period of ``unit_days`` after the window's end (0 = the first):
    ``customer_id, period, purchase_days`` (a BTYD holdout: customers acquired later are
    not in it)."""
    return orders.engine.frame(
        f"""WITH days AS (SELECT DISTINCT customer_id, CAST(order_ts AS DATE) AS day FROM orders
                          WHERE reason IS NULL AND order_ts >= ? AND order_ts < ?
                                AND customer_id IN (SELECT customer_id FROM ({purchases(window)})))
            SELECT customer_id, CAST(floor(date_diff('day', CAST(? AS DATE), day) / {float(unit_days)!r}) AS BIGINT) AS period,
                   count(*) AS purchase_days
            FROM days GROUP BY 1, 2 ORDER BY 1, 2""",
        [window.end, end, window.end],
    )


def purchase_days_of(orders: HasOrders, window: Window, ids: "list[str]") -> "pd.DataFrame":
    """The distinct purchase days in the window of the given customers: ``customer_id, day``,
    ordered (a few customers' histories, for P(alive) week by week)."""
    if not ids:
        return orders.engine.frame("SELECT CAST(NULL AS VARCHAR) AS customer_id, CAST(NULL AS DATE) AS day WHERE false")
    return orders.engine.frame(
        f"""SELECT DISTINCT customer_id, CAST(order_ts AS DATE) AS day FROM ({purchases(window)})
            WHERE {sql.in_list("customer_id", list(ids))} ORDER BY 1, 2"""
    )


def revenue_between(orders: HasOrders, start: dt.datetime, end: dt.datetime) -> "pa.Table":
    """Each customer's revenue from purchases in [start, end): ``customer_id, revenue_since``
    (what a segment's customers spent after a date, for the migration table)."""
    return orders.engine.arrow(
        f"""SELECT customer_id, CAST(sum(amount) AS DOUBLE) AS revenue_since FROM orders
            WHERE reason IS NULL AND order_ts >= {sql.timestamp(start)} AND order_ts < {sql.timestamp(end)} GROUP BY 1"""
    )
