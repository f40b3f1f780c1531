"""The order-status funnel in SQL: one row per order with the time it reached each status
and the furthest status it reached, then per step the orders, the times from the step
before and the orders counted there by the rule for skipped steps.

The rows are read from the raw exports (the canonical ``orders`` table keeps purchases only;
an unpaid or cancelled order is a step of this funnel). What a status value means is the
analytics' business (:mod:`userops.analytics.order_status`); this module only writes it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from userops.scan import load as scan_load
from userops.scan import sql
from userops.scan.load import HasOrders, OrdersSpec
from userops.scan.sql import quote_ident as q
from userops.scan.window import Window, period_start_sql


@dataclass(frozen=True)
class StatusSource:
    """What one export gives the funnel: the column of each step's time (None where it has
    none; step 1 falls back to the order time), its status column, and the column or text
    expression that groups orders (``--by``)."""

    spec: OrdersSpec
    file: str
    times: tuple[str | None, ...]
    status: str | None
    group: str | None = None  # a raw column
    group_from_address: bool = False  # the group is the first word of this column (收货地址)
    discount: str | None = None  # the order's discount (order level, like a refunded amount)


@dataclass(frozen=True)
class StepRow:
    """One step's figures (in one group or period)."""

    orders: int
    timed: int  # orders with this step's and the step before's times, in order
    median_us: float | None
    p90_us: float | None
    inferred: int  # counted here for a later step only (no time or status of this step)
    out_of_order: int  # this step's time before the previous step's
    closed_here: int  # stopped here and closed (cancelled, refunded, 交易关闭)


def _times(engine, source: StatusSource) -> list[str]:
    """Per step, the SQL TIMESTAMP of its column (NULL where the export has none)."""
    spec, out = source.spec, []
    for column in source.times:
        if column is None:
            out.append("NULL::TIMESTAMP")
            continue
        dtype = spec.types[column]
        order = scan_load.detect_timestamp_order(engine, spec.view, column, dtype, tz=spec.tz, dayfirst=spec.dayfirst, file=source.file)
        ts = sql.timestamp_expr(q(column), dtype, tz=spec.tz, order=order or None)
        out.append(f"CASE WHEN {sql.plausible(ts)} THEN {ts} END")
    return out


def _unread(source: StatusSource, times: list[str]) -> list[str]:
    """Per step, SQL 1 where the row's value of its column is not blank but gave no time (a
    layout not read, a date before 1990), else 0."""
    return [
        "0" if column is None else f"CAST({sql.failed(q(column), source.spec.types[column], t)} AS INTEGER)"
        for column, t in zip(source.times, times)
    ]


def _status_case(column: str, steps: dict[str, int]) -> str:
    """SQL: the step a status value (lower-cased, trimmed) names, NULL for others."""
    by_step: dict[int, list[str]] = {}
    for value, step in steps.items():
        by_step.setdefault(step, []).append(value)
    value = f"lower(trim(CAST({q(column)} AS VARCHAR)))"
    whens = " ".join(f"WHEN {sql.in_list(value, sorted(values))} THEN {step}" for step, values in sorted(by_step.items()))
    return f"CASE {whens} END" if whens else "NULL::INTEGER"


def _closed(source: StatusSource, closing: tuple[str, ...]) -> str:
    """SQL BOOLEAN: the row's status is one that closes an order."""
    if not source.status:
        return "false"
    return f"coalesce({sql.in_list(f'lower(trim(CAST({q(source.status)} AS VARCHAR)))', closing)}, false)"


def per_order(engine, sources: list[StatusSource], statuses: dict[str, int], closing: tuple[str, ...], *, grouped: bool = False) -> str:
    """SELECT of one row per order: ``t1..tn`` (the first time on any of its lines),
    ``u1..un`` (its values that could not be read as times), ``s`` (the furthest step its
    status names), ``closed``, ``anonymous`` with ``lines`` (the rows
    of an export's order-id column left blank, grouped together: left out and counted) and,
    when ``grouped``, ``grp`` (one row per group an order's lines name). An export without
    an order-id column has one order per row."""
    n = len(sources[0].times)
    tmin = ", ".join(f"min(t{k}) AS t{k}" for k in range(1, n + 1))
    usum = ", ".join(f"sum(u{k}) AS u{k}" for k in range(1, n + 1))
    tcols = ", ".join(f"t{k}" for k in range(1, n + 1)) + ", " + ", ".join(f"u{k}" for k in range(1, n + 1))
    parts = []
    for i, source in enumerate(sources):
        spec = source.spec
        times = _times(engine, source)
        unread = ", ".join(f"{u} AS u{k + 1}" for k, u in enumerate(_unread(source, times)))
        status = _status_case(source.status, statuses) if source.status else "NULL::INTEGER"
        closed = _closed(source, closing)
        if source.group is None:
            group = "NULL::VARCHAR"
        elif source.group_from_address:
            group = f"nullif(split_part(trim(CAST({q(source.group)} AS VARCHAR)), ' ', 1), '')"
        else:
            group = sql.text_expr(q(source.group), spec.types[source.group])
        group = f"coalesce({group}, '(none)')"
        columns = ", ".join(f"{t} AS t{k + 1}" for k, t in enumerate(times)) + ", " + unread
        if spec.order is None:
            parts.append(f"SELECT {columns}, {status} AS s, {closed} AS closed, false AS anonymous, 1 AS lines{f', {group} AS grp' if grouped else ''} FROM {spec.view}")
            continue
        key = sql.id_expr(q(spec.order), spec.types[spec.order])
        rows = f"SELECT {key} AS order_key, {columns}, {status} AS s, {closed} AS closed, {group} AS grp FROM {spec.view}"
        orders = f"""SELECT order_key, {tmin}, {usum}, max(s) AS s, bool_or(closed) AS closed, order_key IS NULL AS anonymous, count(*) AS lines
                     FROM r{i} GROUP BY order_key"""
        if grouped:
            # an order counts in each group its lines name (an order of two categories in both)
            orders = f"""SELECT o.*, g.grp FROM ({orders}) o
                JOIN (SELECT DISTINCT order_key, grp FROM r{i}) g ON o.order_key IS NOT DISTINCT FROM g.order_key"""
        parts.append(f"SELECT {tcols}, s, closed, anonymous, lines{', grp' if grouped else ''} FROM (WITH r{i} AS ({rows}) {orders})")
    return " UNION ALL ".join(parts)


def first_orders(data: HasOrders, window: Window, sources: list[StatusSource], statuses: dict[str, int], closing: tuple[str, ...]):
    """Per customer, the first order in the exports up to the as-of date (by creation time,
    cancelled and unpaid ones included): ``customer_id, created, paid, shipped, delivered``
    (the step times; NULL where not recorded), ``closed`` (cancelled, refunded, 交易关闭),
    ``refunded`` (a refunded amount above 0), ``amount`` and ``discount`` (NULL without the
    column)."""
    parts = []
    end = sql.timestamp(window.end)
    for source in sources:
        spec = source.spec
        # what had happened by the as-of date: a later shipment was not known then
        times = [f"CASE WHEN {t} < {end} THEN {t} END" for t in _times(data.engine, source)]
        decimal = spec.decimal or scan_load.detect_decimal(data.engine, spec.view, spec.amount, spec.types[spec.amount], file=source.file) if spec.amount else "."

        def money(column: str | None) -> str:
            return f"CAST({sql.money_expr(q(column), spec.types[column], decimal)} AS DOUBLE)" if column else "NULL::DOUBLE"

        user = sql.id_expr(q(spec.user), spec.types[spec.user])
        key = sql.id_expr(q(spec.order), spec.types[spec.order]) if spec.order else "NULL::VARCHAR"
        rows = f"""SELECT {user} AS customer_id, {key} AS order_key, {', '.join(f'{t} AS t{k + 1}' for k, t in enumerate(times[:4]))},
                          {_closed(source, closing)} AS closed, {money(spec.refunded)} AS refunded, {money(spec.amount)} AS amount, {money(source.discount)} AS discount
                   FROM {spec.view}"""
        total = "max(amount)" if spec.amount_is_order_total else "sum(amount)"
        if spec.order:  # the order's lines together; without ids every row is an order
            rows = f"""SELECT min(customer_id) AS customer_id, order_key, min(t1) AS t1, min(t2) AS t2, min(t3) AS t3, min(t4) AS t4, bool_or(closed) AS closed,
                              max(refunded) AS refunded, {total} AS amount, max(discount) AS discount
                       FROM ({rows}) WHERE order_key IS NOT NULL GROUP BY order_key"""
        parts.append(f"SELECT customer_id, order_key, t1, t2, t3, t4, closed, refunded, amount, discount FROM ({rows})")
    # the first order: the earliest created (of two at once, the lower order id)
    first = lambda x: f"arg_min_null({x}, (t1, order_key))"  # noqa: E731
    query = f"""
        SELECT customer_id, min(t1) AS created, {first('t2')} AS paid, {first('t3')} AS shipped, {first('t4')} AS delivered,
               {first('closed')} AS closed, coalesce({first('refunded')}, 0) > 0 AS refunded,
               {first('amount')} AS amount, {first('discount')} AS discount
        FROM ({' UNION ALL '.join(parts)})
        WHERE customer_id IS NOT NULL AND t1 IS NOT NULL
        GROUP BY customer_id ORDER BY customer_id"""
    return data.engine.frame(query)


def latest_creation(data: HasOrders, sources: list[StatusSource]):
    """The latest creation time in the exports (unpaid orders may come after the last purchase)."""
    parts = []
    for source in sources:  # the first step's column only
        created = _times(data.engine, StatusSource(source.spec, source.file, source.times[:1], None))[0]
        parts.append(f"SELECT max({created}) AS t FROM {source.spec.view}")
    return data.engine.value(f"SELECT max(t) FROM ({' UNION ALL '.join(parts)})")


@dataclass
class StepStats:
    """What :func:`step_stats` found."""

    parts: dict[object, list[StepRow]]  # per group or period (one None key without a split)
    whole: list[StepRow] | None  # every order together
    untimed: int  # orders left out for want of a creation time
    unnamed: int  # rows left out for want of an order id
    unreadable: list[int]  # per step (1..n), the values of its column that were not times


def step_stats(
    data: HasOrders, window: Window, sources: list[StatusSource], statuses: dict[str, int], closing: tuple[str, ...], steps: list[int],
    measured_from: list[int | None], *, grouped: bool = False, period: str | None = None, overall: bool = False,
) -> StepStats:
    """Per key (the group with ``grouped``; the period of the creation time with ``period``;
    else None), the :class:`StepRow` of each shown step (``steps``: 1-based step numbers,
    step 1 first; each timed from the step ``measured_from`` gives, None for none), and
    with ``overall`` also those of every order together, from the same pass. Orders count
    where their creation time lies in the window."""
    n = len(sources[0].times)
    furthest = "greatest(coalesce(s, 0), CASE " + " ".join(f"WHEN t{k} IS NOT NULL THEN {k}" for k in sorted(steps, reverse=True)) + " ELSE 0 END)"
    orders = per_order(data.engine, sources, statuses, closing, grouped=grouped)
    if grouped:
        key = "grp"
    elif period:
        key = period_start_sql("t1", period)
    else:
        key = "NULL"

    def counted(condition: str) -> str:  # orders without a creation time or an id count nowhere
        return f"count(*) FILTER (WHERE t1 IS NOT NULL AND NOT anonymous AND {condition})"

    stats = []
    for i, k in enumerate(steps):
        reached = f"furthest >= {k}"
        stats.append(counted(reached))
        prev = measured_from[i]
        if prev is None:
            stats += ["0", "NULL", "NULL", counted(f"{reached} AND t{k} IS NULL AND coalesce(s, 0) <> {k}") if i else "0", "0"]
        else:
            gap, timed = f"epoch_us(t{k}) - epoch_us(t{prev})", f"t{k} >= t{prev}"
            stats += [
                counted(timed), f"quantile_cont({gap}, 0.5) FILTER (WHERE t1 IS NOT NULL AND NOT anonymous AND {timed})",
                f"quantile_cont({gap}, 0.9) FILTER (WHERE t1 IS NOT NULL AND NOT anonymous AND {timed})",
                counted(f"{reached} AND t{k} IS NULL AND coalesce(s, 0) <> {k}"), counted(f"t{k} < t{prev}"),
            ]
        stats.append(counted(f"furthest = {k} AND closed"))
    split = grouped or period is not None
    sets, whole = ("GROUPING SETS ((k), ())", "grouping(k)") if split and overall else ("k", "0")
    unread = ", ".join(f"coalesce(sum(u{k}), 0)" for k in range(1, n + 1))
    query = f"""
        WITH o AS (SELECT *, {furthest} AS furthest, {key} AS k FROM ({orders}))
        SELECT k, {whole} AS whole, count(*) FILTER (WHERE t1 IS NULL AND NOT anonymous) AS untimed,
               coalesce(sum(lines) FILTER (WHERE anonymous), 0) AS unnamed, {unread}, {', '.join(stats)}
        FROM o WHERE t1 IS NULL OR ({window.within('t1')})
        GROUP BY {sets}
    """
    parts: dict[object, list[StepRow]] = {}
    whole_rows: list[StepRow] | None = None
    # counted in the groups (index 0) and in the whole (index 1)
    untimed, unnamed, unreadable = [0, 0], [0, 0], [[0] * n, [0] * n]
    width = 7
    for key_value, is_whole, missing, no_id, *values in data.engine.rows(query):
        side = int(bool(is_whole))
        untimed[side] += int(missing or 0)
        unnamed[side] += int(no_id or 0)
        unreadable[side] = [a + int(b or 0) for a, b in zip(unreadable[side], values[:n])]
        values = values[n:]
        steps_here = [
            StepRow(int(v[0] or 0), int(v[1] or 0), v[2], v[3], int(v[4] or 0), int(v[5] or 0), int(v[6] or 0))
            for v in (values[j * width:(j + 1) * width] for j in range(len(steps)))
        ]
        if is_whole:
            whole_rows = steps_here
        elif steps_here[0].orders or not split:  # not a group (period) of orders without a creation time only
            parts[key_value] = steps_here
    if not split:
        whole_rows = parts.get(None)
    side = 1 if whole_rows is not None and split else 0
    return StepStats(parts, whole_rows, untimed[side], unnamed[side], unreadable[side])
