"""Raw rows -> the canonical ``orders`` and ``events`` tables, and what was dropped and why.

Tables kept in the connection after :func:`build_orders` / :func:`build_events`:

``orders``  one row per order (customer_id, order_id, order_ts, amount, lines, quantity,
            channel, reason, and per row-level reason the rows dropped); ``reason`` is
            NULL for purchases. Raw rows are never materialised.
``events``  one row per event (user_id, event, event_ts, session_id when loaded, properties, reason),
            or with ``activity`` one row per user, day (or period) and reason.

What a build learned about the data (has amounts, order ids, the activity grain) is
returned as :class:`OrdersFacts` / :class:`EventsFacts`, kept on the loaded data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from userops.errors import DataError
from userops.imports import start_queued_imports
from userops.scan import sql
from userops.scan.engine import Engine
from userops.scan.sql import quote_ident as q
from userops.scan.window import Window, period_start_sql

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


#: Row-level drop reasons (in order of precedence) and order-level ones.
REASON_NO_CUSTOMER = "without customer id"
REASON_EXCLUDED_STATUS = "cancelled/refunded/unpaid status"
REASON_BAD_TIME = "unparseable dates"
REASON_TIME_RANGE = "with dates before 1990 or after tomorrow"
REASON_BAD_AMOUNT = "unparseable amounts"
REASON_NO_AMOUNT = "orders without an amount"
REASON_NEGATIVE = "refunds (negative order total)"
REASON_REFUNDED_IN_FULL = "refunded in full (refunded amount)"
REASON_OTHER_CURRENCY = "in another currency (--currency)"
#: Reasons that are business rules (refund exclusion, --currency), not data problems.
EXCLUSION_REASONS = (REASON_EXCLUDED_STATUS, REASON_NEGATIVE, REASON_REFUNDED_IN_FULL, REASON_OTHER_CURRENCY)
#: Row-level reasons are small codes in the parsed rows (NULL = usable).
ROW_REASONS = (REASON_NO_CUSTOMER, REASON_EXCLUDED_STATUS, REASON_BAD_TIME, REASON_TIME_RANGE, REASON_BAD_AMOUNT)
CODE = {reason: i + 1 for i, reason in enumerate(ROW_REASONS)}
#: Per order, the rows dropped for each row-level reason.
DROP_COLUMNS = {reason: f"dropped_{i + 1}" for i, reason in enumerate(ROW_REASONS)}
#: ``orders.reason`` of a group whose every row was dropped (its rows are in DROP_COLUMNS).
ROWS_DROPPED = "(rows dropped)"

#: Event rows not used, in order of precedence (codes 1..3 in ``events.reason``).
EVENT_REASONS = ("without user id", "without event name", REASON_BAD_TIME, REASON_TIME_RANGE)



@dataclass(frozen=True)
class OrdersSpec:
    """How to turn one raw source into canonical order rows (built by io/normalise.py)."""

    view: str  # the registered raw view
    types: dict[str, str]  # raw column -> engine type
    user: str
    time: str
    order: str | None = None
    amount: str | None = None
    amount_is_order_total: bool = False
    quantity: str | None = None
    unit_price: str | None = None
    status: str | None = None
    category: str | None = None
    channel: str | None = None
    refunded: str | None = None  # amount refunded on the order (order level, like a total)
    currency: str | None = None
    margin: str | None = None  # gross profit of the line (or order): read only when asked (``ltv``)
    keep_currency: str | None = None  # --currency: other currencies are excluded
    event: str | None = None  # a clickstream's event column: only ``purchase_events`` rows are orders
    purchase_events: tuple[str, ...] = ()
    excluded_statuses: tuple[str, ...] = ()
    cancel_invoice_prefix: str | None = None  # Online Retail: invoices starting with "C"
    include_refunds: bool = False
    decimal: str | None = None  # None: detect from a sample
    dayfirst: bool | None = None  # None: detect from a sample
    tz: str | None = None  # None: the wall-clock time written in the export
    keep: tuple[str, ...] = ()  # raw columns carried through per customer (--keep)


@dataclass(frozen=True)
class EventsSpec:
    """How to turn one raw source into canonical event rows (built by io/normalise.py)."""

    view: str
    types: dict[str, str]
    user: str
    event: str
    time: str
    session: str | None = None
    properties: tuple[tuple[str, str | None], ...] = ()  # (property name, raw header or None)
    tz: str | None = None  # None: the wall-clock time written in the export
    dayfirst: bool | None = None



@dataclass(frozen=True)
class OrdersFacts:
    """What :func:`build_orders` learned: the queries after the load depend on it."""

    parsed: str  # the SELECT of the parsed rows (a second pass over lines re-reads them)
    has_order_id: bool = False
    has_amount: bool = False
    has_category_lists: bool = False  # each order keeps its lines' categories
    has_refunds: bool = False  # order amounts are net of a refunded-amount column
    has_currency: bool = False  # orders carry their currency
    has_margin: bool = False  # orders carry their gross profit (``margin``)
    #: the table the orders are stored in: ``orders`` itself, or (rolled up from lines) a
    #: table that ``orders`` is a view of, the view adding the columns that are NULL in
    #: every order (stored, a NULL column still takes room in every order)
    table: str = "orders"


@dataclass(frozen=True)
class EventsFacts:
    """What :func:`build_events` learned."""

    #: (start events, return events) when the table holds per-user activity rows, else None
    activity: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    #: (period, week_start) of the activity rows
    grain: tuple[str, str] | None = None
    #: the zone event times were converted to: funnel windows are measured in absolute time
    #: through it (a 14-day window across a DST change is 14 x 24 hours, as in PostHog)
    tz: str | None = None

    @property
    def rows(self) -> str:
        """How many raw rows a row of ``events`` stands for (an SQL aggregate)."""
        return "count(*)" if self.activity is None else "sum(n)"

    def require_every_event(self, what: str) -> None:
        if self.activity is not None:
            raise DataError(f"{what} are not kept in daily-activity mode")


class HasOrders(Protocol):
    """Orders loaded into an engine (:class:`userops.io.normalise.LoadedOrders`). ``answers``
    keeps a query's answer that several analyses ask for (the report's segments and churn
    both need the gaps between orders): the loaded tables do not change."""

    engine: Engine
    facts: OrdersFacts
    answers: dict


class HasEvents(Protocol):
    """Events loaded into an engine (:class:`userops.io.normalise.LoadedEvents`)."""

    engine: Engine
    facts: EventsFacts


def read_notes(engine: Engine) -> list[str]:
    """How the files had to be read (an encoding changed, a careful re-read), for stderr."""
    return list(engine.read_notes)


def release(data: HasOrders | HasEvents, *, keep_database: bool = False) -> None:
    """Close the engine holding the data: its memory is freed, its tables are gone (a command
    whose numbers are computed releases it before writing a million-row output). With
    ``keep_database`` the engine's database may stay for the process's next command."""
    data.engine.close(keep_database=keep_database)


def drop_orders(data: HasOrders) -> None:
    """Free the ``orders`` table before the rest of a computation that no longer reads it
    (its memory goes back before the per-customer rows are built); the loaded data cannot
    be queried for orders again."""
    table = data.facts.table
    if table != "orders":
        data.engine.execute("DROP VIEW IF EXISTS orders")
    data.engine.execute(f"DROP TABLE IF EXISTS {q(table)}")


def purchases(window: Window) -> str:
    """The purchases (orders) in the window."""
    return f"SELECT * FROM orders WHERE reason IS NULL AND {window.within('order_ts')}"


def detect_timestamp_order(engine: Engine, view: str, column: str, dtype: str, *, tz: str | None, dayfirst: bool | None, file: str | None) -> list[str]:
    """Choose which timestamp layouts to try, from a sample of the column. The UTC offsets
    written in the sample are added to ``time_offsets`` (for the note that says how they
    were read)."""
    if not sql.is_text(dtype):
        return []
    col = q(column)
    cands = sql.timestamp_candidates(col, tz)
    if engine.dialect != "duckdb":
        return iso_timestamp_order(engine, view, column, cands, file=file)
    # the strptime layouts are counted only on values the ISO cast refuses: none of them
    # reads an ISO value, so the counts that rank them are unchanged, and on a clean ISO
    # column the costly format lists never run (they took most of the detection's time)
    def counted(name: str, expr: str) -> str:
        guarded = name not in ("iso", "iso_tz")
        return f"count(CASE WHEN {cands['iso']} IS NULL THEN {expr} END)" if guarded else f"count({expr})"

    counts_sql = ", ".join(counted(name, expr) for name, expr in cands.items())
    sample_sql = f"SELECT {col} FROM {view} WHERE {col} IS NOT NULL AND trim({col}) <> '' LIMIT 2000"
    with engine.file_order():
        row = engine.execute(
            f"SELECT count(*), {counts_sql}, list(DISTINCT {sql.offset_of(col)}) FROM ({sample_sql})", file=file
        ).fetchone()
    total, counts, offsets = row[0], dict(zip(cands.keys(), row[1:-1])), row[-1]
    engine.time_offsets.update(o.strip() for o in offsets or () if o)
    order = []
    if counts["iso_tz"] > 0:
        order.append("iso_tz")
    order.append("iso")
    if dayfirst is None:
        dayfirst = counts["dmy"] > counts["mdy"]
    order.append("dmy" if dayfirst else "mdy")
    order += ["other", "epoch"]
    # most successful first, keeping iso_tz ahead of iso (it only fires on offsets)
    rank = {name: i for i, name in enumerate(order)}
    order.sort(key=lambda n: (-(counts[n] if n != "iso_tz" else total + 1), rank[n]))
    return order


def iso_timestamp_order(engine: Engine, view: str, column: str, candidates: dict[str, str], *, file: str | None) -> list[str]:
    """Timestamps on an engine other than DuckDB: ISO 8601 only, with or without a UTC offset
    (the layouts of messy exports are read by the DuckDB engine). A sample with another
    layout is refused in one line naming the column and a value."""
    col = q(column)
    sample_sql = f"SELECT {col} FROM {view} WHERE {col} IS NOT NULL AND trim({col}) <> '' LIMIT 2000"
    with_offsets, other, offsets = engine.row(
        f"""SELECT count({candidates['iso_tz']}), min(CASE WHEN {candidates['iso']} IS NULL AND {candidates['iso_tz']} IS NULL THEN {col} END),
                   list(DISTINCT {sql.offset_of(col)})
            FROM ({sample_sql})""",
        file=file,
    )
    if other is not None:
        raise DataError(
            f"{other!r} is not an ISO 8601 timestamp, the only layout read on this engine",
            file=file, column=column,
            hint="write the column as 2024-03-05 10:00:00 (or typed, in Parquet/ORC), or run on the DuckDB engine, which reads other layouts",
        )
    if with_offsets:
        engine.time_offsets.update(o.strip() for o in offsets or () if o)
        return ["iso_tz", "iso"]
    return ["iso"]


def detect_decimal(engine: Engine, view: str, column: str, dtype: str, *, file: str | None) -> str:
    """The decimal convention of a money column, from a sample: ``","`` when its values
    show a decimal comma (``12,50 €``, ``1.234,00``), ``"."`` otherwise. A sample with both
    (``1,234.56`` and ``12,50``) is refused: either reading would be silently wrong."""
    if not sql.is_text(dtype):
        return "."
    col = q(column)
    sample_sql = f"SELECT trim({col}) AS v FROM {view} WHERE {col} IS NOT NULL AND trim({col}) <> '' LIMIT 2000"
    dot, comma = f"regexp_matches({sql.separators('v')}, {sql.sql_str(sql.DOT_DECIMAL)})", f"regexp_matches({sql.separators('v')}, {sql.sql_str(sql.COMMA_DECIMAL)})"
    with engine.file_order():
        n_comma, n_dot, comma_example, dot_example = engine.execute(
            f"SELECT count(*) FILTER (WHERE {comma}), count(*) FILTER (WHERE {dot}), "
            f"min(v) FILTER (WHERE {comma}), min(v) FILTER (WHERE {dot}) FROM ({sample_sql})",
            file=file,
        ).fetchone()
    if n_comma and n_dot:
        raise DataError(
            f"the amounts mix decimal styles: {dot_example!r} has a decimal point, {comma_example!r} a decimal comma",
            file=file,
            column=column,
            hint="set --decimal . or --decimal , (values in the other style are then counted as unparseable)",
        )
    return "," if n_comma else "."


def parsed_select(
    engine: Engine, spec: OrdersSpec, *, file: str | None, trace: str | None = None, clean_ids: bool = True, detected: dict | None = None,
) -> str:
    """SELECT of canonical row columns plus ``reason``. With ``trace`` (a raw column), the
    rows also carry their position ``__rn`` (1 = first data row) and that column's raw text.

    ``clean_ids=False`` leaves text ids as written (blank only becomes NULL): for a build that
    groups them and checks the grouped ids afterwards (see :func:`build_orders`). ``detected``
    keeps the choices read from a sample (timestamp layouts, decimal convention) between
    calls on the same spec."""
    t = spec.types
    detected = {} if detected is None else detected
    user = sql.id_expr(q(spec.user), t[spec.user], clean=clean_ids)
    order_id = sql.id_expr(q(spec.order), t[spec.order], clean=clean_ids) if spec.order else "NULL::VARCHAR"
    if "ts_order" not in detected:
        detected["ts_order"] = detect_timestamp_order(engine, spec.view, spec.time, t[spec.time], tz=spec.tz, dayfirst=spec.dayfirst, file=file)
    ts_order = detected["ts_order"]
    ts = sql.timestamp_expr(q(spec.time), t[spec.time], tz=spec.tz, order=ts_order or None)

    money_col = spec.amount or spec.unit_price
    decimal = spec.decimal
    if decimal is None:
        if "decimal" not in detected:
            detected["decimal"] = detect_decimal(engine, spec.view, money_col, t[money_col], file=file) if money_col else "."
        decimal = detected["decimal"]
    # every parse expression is evaluated once, in the inner query; the outer one derives
    # the failures from its results: a value fails when it gave NULL and was not blank. The
    # raw value is passed through and tested for blankness only where the parse gave NULL
    # (the test on every row cost more than parsing the amount).
    def failed(parsed: str, raw: str, column: str) -> str:
        return f"({parsed} IS NULL AND NOT {sql.blank(raw, t[column])})"

    quantity = sql.money_expr(q(spec.quantity), t[spec.quantity], decimal) if spec.quantity else "NULL::DOUBLE"
    if spec.amount:
        money_inner = f"{sql.money_expr(q(spec.amount), t[spec.amount], decimal)} AS __amount, {q(spec.amount)} AS __amount_raw"
        amount = "__amount"
        amount_failed = failed("__amount", "__amount_raw", spec.amount)
    elif spec.quantity and spec.unit_price:
        money_inner = (
            f"{sql.money_expr(q(spec.unit_price), t[spec.unit_price], decimal)} AS __price, "
            f"{q(spec.unit_price)} AS __price_raw, {q(spec.quantity)} AS __quantity_raw"
        )
        amount = "(quantity * __price)"
        amount_failed = f"({failed('quantity', '__quantity_raw', spec.quantity)} OR {failed('__price', '__price_raw', spec.unit_price)})"
    else:
        money_inner = "NULL::DOUBLE AS __amount"
        amount = "__amount"
        amount_failed = "false"
    category = sql.text_expr(q(spec.category), t[spec.category]) if spec.category else "NULL::VARCHAR"
    channel = sql.text_expr(q(spec.channel), t[spec.channel]) if spec.channel else "NULL::VARCHAR"
    currency = f"upper({sql.text_expr(q(spec.currency), t[spec.currency])})" if spec.currency else "NULL::VARCHAR"
    if spec.refunded:
        money_inner += f", {sql.money_expr(q(spec.refunded), t[spec.refunded], decimal)} AS __refunded, {q(spec.refunded)} AS __refunded_raw"
        refunded = "TRY_CAST(round(__refunded, 4) AS DECIMAL(18, 4))"
        amount_failed = f"({amount_failed} OR {failed('__refunded', '__refunded_raw', spec.refunded)})"
    else:
        refunded = "NULL::DECIMAL(18, 4)"
    if spec.margin:  # a margin that cannot be read drops its row, as an amount does
        money_inner += f", {sql.money_expr(q(spec.margin), t[spec.margin], decimal)} AS __margin, {q(spec.margin)} AS __margin_raw"
        margin = "TRY_CAST(round(__margin, 4) AS DECIMAL(18, 4))"
        amount_failed = f"({amount_failed} OR {failed('__margin', '__margin_raw', spec.margin)})"
    else:
        margin = "NULL::DECIMAL(18, 4)"

    excluded = []
    if spec.status and spec.excluded_statuses:
        # compared lower-cased against every spelling (spaces, _ or -; WooCommerce "wc-"):
        # an IN list is ~7x cheaper than normalising each value with trim/regexp
        raw_status = f"CAST({q(spec.status)} AS VARCHAR)"
        status = f"lower({raw_status})"
        spellings = set(sql.status_spellings(spec.excluded_statuses))
        listed = ", ".join(sql.sql_str(s) for s in sorted(spellings))
        every = f"coalesce({status} IN ({listed}), false)"
        if "statuses" not in detected:
            detected["statuses"] = sample_statuses(engine, spec, file=file)
        # the few statuses of a sample are answered first, as written (no lower-casing of
        # every value): the list has a hundred spellings, and most rows hold one of a
        # handful of values
        seen_excluded = [raw for raw, lowered in detected["statuses"] if lowered in spellings]
        seen_kept = [raw for raw, lowered in detected["statuses"] if lowered not in spellings]
        first = "".join(
            f"WHEN {raw_status} IN ({', '.join(sql.sql_str(s) for s in values)}) THEN {answer} "
            for values, answer in ((seen_kept, "false"), (seen_excluded, "true")) if values
        )
        excluded.append(f"CASE {first}ELSE {every} END" if first else every)
    if spec.order and spec.cancel_invoice_prefix:
        excluded.append(f"coalesce(starts_with(upper(trim(CAST({q(spec.order)} AS VARCHAR))), {sql.sql_str(spec.cancel_invoice_prefix)}), false)")
    excluded_sql = " OR ".join(excluded) if excluded and not spec.include_refunds else "false"

    only_purchases = ""
    if spec.event and spec.purchase_events:
        listed = ", ".join(sql.sql_str(e) for e in spec.purchase_events)
        only_purchases = f" WHERE trim(CAST({q(spec.event)} AS VARCHAR)) IN ({listed})"
    kept_outer = "".join(f", {q(sql.keep_column(c))}" for c in spec.keep)
    # contacts for a CRM or SMS upload: Excel's text guards (="0123", '138...) are unwrapped
    # as ids are, and a phone read as a number keeps no ".0"
    kept_inner = "".join(f", {sql.id_expr(q(c), t[c])} AS {q(sql.keep_column(c))}" for c in spec.keep)
    source, traced_outer, traced_inner = spec.view, "", ""
    if trace is not None:
        source = f"(SELECT *, row_number() OVER () AS __rn FROM {spec.view})"
        traced_outer = "__rn, __raw, "
        traced_inner = f"__rn, CAST({q(trace)} AS VARCHAR) AS __raw, "
    return f"""
        SELECT {traced_outer}
            CAST(CASE
                WHEN customer_id IS NULL THEN {CODE[REASON_NO_CUSTOMER]}
                WHEN excluded THEN {CODE[REASON_EXCLUDED_STATUS]}
                WHEN order_ts IS NULL THEN {CODE[REASON_BAD_TIME]}
                WHEN NOT ({sql.plausible('order_ts')}) THEN {CODE[REASON_TIME_RANGE]}
                WHEN {amount_failed} THEN {CODE[REASON_BAD_AMOUNT]}
            END AS UTINYINT) AS reason,
            customer_id, order_id, category, channel, order_ts,
            TRY_CAST(round({amount}, 4) AS DECIMAL(18, 4)) AS amount, quantity, {refunded} AS refunded, {margin} AS margin, currency{kept_outer}
        FROM (
            SELECT {traced_inner}{user} AS customer_id, {order_id} AS order_id, {ts} AS order_ts,
                   {money_inner}, {quantity} AS quantity, {category} AS category,
                   {channel} AS channel, {currency} AS currency, ({excluded_sql}) AS excluded{kept_inner}
            FROM {source}{only_purchases}
        )
    """


def build_orders(engine: Engine, specs: list[OrdersSpec], *, files: list[str], category_lists: bool = False, order_detail: bool = True) -> OrdersFacts:
    """Parse every source and roll its rows into the ``orders`` table in one streaming pass.

    Rows are never materialised: each order keeps its purchase lines' aggregates and the
    count of its rows dropped for each row-level reason. ``category_lists`` also keeps each
    order's line categories (for top categories: ~+30% on this pass, much less than a
    second one); otherwise line-level questions re-read the rows via :func:`line_scope`.
    Without ``order_detail`` the orders carry no channel and quantity (NULL): a quarter
    less time for commands that only need dates and amounts (segment).
    """
    if not specs:
        raise DataError("no input")
    has_order_id = all(s.order for s in specs)
    has_amount = all(s.amount or (s.quantity and s.unit_price) for s in specs)
    order_total = any(s.amount_is_order_total for s in specs)
    detected: list[dict] = [{} for _ in specs]
    parsed = " UNION ALL ".join(f"({parsed_select(engine, s, file=f, detected=d)})" for s, f, d in zip(specs, files, detected))
    # ids are grouped as written when a sample shows none needs unwrapping or trimming (the
    # check per row costs ~0.4 s per 10M rows and id); the grouped ids are checked afterwards
    raw_ids = all(ids_look_clean(engine, s, file=f) for s, f in zip(specs, files))
    grouped = parsed
    if raw_ids:
        grouped = " UNION ALL ".join(
            f"({parsed_select(engine, s, file=f, clean_ids=False, detected=d)})" for s, f, d in zip(specs, files, detected)
        )
    file = files[0] if len(files) == 1 else None
    table = "orders_rolled" if has_order_id else "orders"
    dropped = ", ".join(
        f"count(*) FILTER (WHERE reason = {code})::UINTEGER AS {q(DROP_COLUMNS[r])}" for r, code in CODE.items()
    )
    has_category_lists = bool(category_lists and has_order_id and all(s.category for s in specs))
    # refunds and currencies only when an export has them: two columns less per order else
    has_currency = any(s.currency for s in specs)
    with_refunds = any(s.refunded for s in specs)
    has_margin = any(s.margin for s in specs)
    categories = ", list(category) FILTER (WHERE reason IS NULL AND category IS NOT NULL) AS categories" if has_category_lists else ""
    include_refunds = all(s.include_refunds for s in specs)
    negative = "false" if include_refunds else "amount < 0"
    no_amount = "amount IS NULL" if has_amount else "false"
    excluded = q(DROP_COLUMNS[REASON_EXCLUDED_STATUS])
    has_refunds = with_refunds and not include_refunds
    # revenue is net of refunds where the export gives them (Shopify partially_refunded keeps
    # its full Total otherwise); --include-refunds keeps gross amounts, as it keeps refunds
    net = "TRY_CAST(amount - coalesce(refunded, 0) AS DECIMAL(18, 4))" if has_refunds else "amount"
    in_full = "refunded > 0 AND amount <= 0" if has_refunds else "false"
    keep_currency = next((s.keep_currency for s in specs if s.keep_currency), None)
    other_currency = f"currency IS DISTINCT FROM {sql.sql_str(keep_currency.upper())}" if keep_currency else "false"

    def orders_table(rows: str) -> str:
        """The statement that rolls parsed ``rows`` into the orders table."""
        if has_order_id:
            ok = "FILTER (WHERE reason IS NULL)"
            detail = f" sum(quantity) {ok} AS quantity, min(channel) {ok} AS channel," if order_detail else ""
            amount = f"max(amount) {ok}" if order_total else f"sum(amount) {ok}"
            money_detail = (f" max(refunded) {ok} AS refunded," if with_refunds else "") + (f" min(currency) {ok} AS currency," if has_currency else "")
            if has_margin:  # like the amount: a line's margin is summed, an order total's repeated
                money_detail += f" TRY_CAST({'max' if order_total else 'sum'}(margin) {ok} AS DECIMAL(18, 4)) AS margin,"
            # the refunded amount is an order-level figure (on the first line only, or repeated)
            orders = f"""
                SELECT customer_id, order_id, min(order_ts) {ok} AS order_ts,
                       TRY_CAST({amount} AS DECIMAL(18, 4)) AS amount, count(*) {ok} AS lines,{detail}{money_detail}
                       {dropped}{categories}
                FROM ({rows}) GROUP BY customer_id, order_id"""
        else:  # every row is an order
            per_row = ", ".join(
                f"coalesce(reason = {code}, false)::UINTEGER AS {q(DROP_COLUMNS[r])}" for r, code in CODE.items()
            )
            orders = f"""
                SELECT customer_id, order_id, CASE WHEN reason IS NULL THEN order_ts END AS order_ts, amount,
                       (reason IS NULL)::BIGINT AS lines, quantity, channel, category{', refunded' if with_refunds else ''}{', currency' if has_currency else ''}{', margin' if has_margin else ''}, {per_row}
                FROM ({rows})"""
        # A status on any line applies to the whole order (Shopify fills it on the first line only).
        return f"""CREATE OR REPLACE TABLE {q(table)} AS
            SELECT *, CASE WHEN lines = 0 THEN '{ROWS_DROPPED}'
                           WHEN {excluded} > 0 THEN '{REASON_EXCLUDED_STATUS}'
                           WHEN {other_currency} THEN '{REASON_OTHER_CURRENCY}'
                           WHEN {no_amount} THEN '{REASON_NO_AMOUNT}'
                           WHEN {in_full} THEN '{REASON_REFUNDED_IN_FULL}'
                           WHEN {negative} THEN '{REASON_NEGATIVE}' END AS reason
            FROM (SELECT * REPLACE ({net} AS amount) FROM ({orders}))"""

    start_queued_imports()
    engine.execute(orders_table(grouped), file=file)
    if table != "orders":
        # rolled up from lines, an order has no category of its own (line questions re-read
        # the lines), and without order_detail no quantity or channel
        nulls = ", NULL::VARCHAR AS category" + ("" if order_detail else ", NULL::DOUBLE AS quantity, NULL::VARCHAR AS channel")
        engine.execute(f"CREATE OR REPLACE VIEW orders AS SELECT *{nulls} FROM {q(table)}")
    if raw_ids and grouped_ids_need_cleaning(engine):
        # an id past the sample needs unwrapping or trimming (rare): the careful build
        engine.execute(orders_table(parsed), file=file)
    return OrdersFacts(
        parsed, has_order_id, has_amount, has_category_lists, has_refunds, has_currency, has_margin=has_margin, table=table
    )


#: Distinct statuses of the sample answered before the full list, at most.
SAMPLE_STATUSES = 16


def sample_statuses(engine: Engine, spec: OrdersSpec, *, file: str | None) -> list[tuple[str, str]]:
    """The most common statuses among the first rows (at most SAMPLE_STATUSES), as written
    and as the engine lower-cases them."""
    if not spec.status:
        return []
    with engine.file_order():
        rows = engine.execute(
            f"""SELECT s, lower(s) FROM (SELECT CAST({q(spec.status)} AS VARCHAR) AS s FROM {spec.view} LIMIT 2000)
                WHERE s IS NOT NULL GROUP BY s ORDER BY count(*) DESC, s LIMIT {SAMPLE_STATUSES}""",
            file=file,
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def ids_look_clean(engine: Engine, spec: OrdersSpec, *, file: str | None) -> bool:
    """Whether a sample's text ids (customer, order) are already what cleaning makes of
    them (:func:`sql.id_is_clean`): then the rows can be grouped on the ids as written."""
    columns = [c for c in (spec.user, spec.order) if c and sql.is_text(spec.types[c])]
    if not columns:
        return True
    dirty = " OR ".join(f"({q(c)} <> '' AND NOT ({sql.id_is_clean(q(c))}))" for c in columns)
    with engine.file_order():
        return not engine.value(f"SELECT count(*) FROM (SELECT * FROM {spec.view} LIMIT 2000) WHERE {dirty}", file=file)


def grouped_ids_need_cleaning(engine: Engine) -> bool:
    """Whether an id in the orders table built from ids as written needs unwrapping or
    trimming (one past the sample)."""
    dirty = " OR ".join(f"({c} IS NOT NULL AND NOT ({sql.id_is_clean(c)}))" for c in ("customer_id", "order_id"))
    return bool(engine.value(f"SELECT count(*) FROM orders WHERE {dirty}"))


def line_scope(facts: OrdersFacts, window: Window) -> str:
    """The purchase lines in the window, re-read from the raw rows (a second pass)."""
    return f"SELECT * FROM ({facts.parsed}) WHERE reason IS NULL AND {window.within('order_ts')}"


@dataclass(frozen=True)
class OrderTotals:
    """What the orders table says about the whole load, from one pass over it."""

    #: raw rows not used, by reason (row-level and order-level reasons, in lines), most first
    dropped: dict[str, int]
    rows_read: int
    first_ts: dt.datetime | None  # first and last purchase time, and the purchases
    last_ts: dt.datetime | None
    purchases: int


def order_totals(engine: Engine) -> OrderTotals:
    """Drop counts, rows read and the purchases' time span, in one scan of the orders (one
    group per order-level reason) instead of one scan per drop column and figure."""
    sums = ", ".join(f"sum({q(c)})" for c in DROP_COLUMNS.values())
    rows = engine.rows(f"SELECT reason, sum(lines), {sums}, min(order_ts), max(order_ts), count(*) FROM orders GROUP BY reason")
    dropped: dict[str, int] = {}
    rows_read, first, last, purchases = 0, None, None, 0
    for reason, lines, *rest in rows:
        by_column, (lo, hi, n) = rest[: len(DROP_COLUMNS)], rest[len(DROP_COLUMNS):]
        rows_read += int(lines or 0) + sum(int(v or 0) for v in by_column)
        for label, value in zip(DROP_COLUMNS, by_column):
            dropped[label] = dropped.get(label, 0) + int(value or 0)
        if reason is None:
            first, last, purchases = lo, hi, int(n)
        elif reason != ROWS_DROPPED:  # an order-level reason: its lines were read and not used
            dropped[reason] = dropped.get(reason, 0) + int(lines or 0)
    ranked = sorted(((r, n) for r, n in dropped.items() if n > 0), key=lambda item: (-item[1], item[0]))
    return OrderTotals(dict(ranked), rows_read, first, last, purchases)


def refund_totals(engine: Engine, facts: OrdersFacts) -> tuple[int, float]:
    """Purchases whose amount was netted of a refund, and the amount taken off."""
    if not facts.has_refunds:
        return 0, 0.0
    n, total = engine.row("SELECT count(*), coalesce(sum(refunded), 0) FROM orders WHERE reason IS NULL AND refunded > 0")
    return int(n), float(total)


def currencies(engine: Engine, facts: OrdersFacts) -> list[tuple[str | None, int]]:
    """The currencies of the purchases (NULL: none given) and how many orders each, most first."""
    if not facts.has_currency:
        return []
    return [
        (c, int(n))
        for c, n in engine.execute(
            "SELECT currency, count(*) FROM orders WHERE reason IS NULL GROUP BY currency ORDER BY count(*) DESC, currency NULLS LAST"
        ).fetchall()
    ]


def first_dropped_line(engine: Engine, spec: OrdersSpec, reason: str, *, file: str | None) -> tuple[int, str, str | None] | None:
    """The data line number (header = line 1), the raw column at fault and its value in the
    first row dropped for ``reason``.

    A second pass over the raw rows, used only to explain a ``--strict`` failure.
    """
    money = spec.amount or spec.unit_price
    column = {REASON_BAD_TIME: spec.time, REASON_TIME_RANGE: spec.time, REASON_BAD_AMOUNT: money, REASON_NO_AMOUNT: money}.get(reason) or spec.user
    parsed = parsed_select(engine, spec, file=file, trace=column)
    if reason in CODE:
        query = f"SELECT __rn, __raw FROM ({parsed}) WHERE reason = {CODE[reason]} ORDER BY __rn LIMIT 1"
    else:  # an order-level reason (no amount): the first line of the first such order
        query = (
            f"SELECT p.__rn, p.__raw FROM ({parsed}) p JOIN orders o ON o.customer_id = p.customer_id "
            f"AND o.order_id IS NOT DISTINCT FROM p.order_id WHERE o.reason = {sql.sql_str(reason)} ORDER BY p.__rn LIMIT 1"
        )
    with engine.file_order():  # row_number() follows the file
        row = engine.execute(query, file=file).fetchone()
    if row is None:
        return None
    return int(row[0]) + 1, column, None if row[1] is None else str(row[1])


def count_in(engine: Engine, window: Window) -> int:
    """Purchases inside the window."""
    return int(engine.value(f"SELECT count(*) FROM ({purchases(window)})"))


def count_after(engine: Engine, window: Window) -> int:
    """Purchases after the window's as-of date (ignored, and said so)."""
    return int(engine.value("SELECT count(*) FROM orders WHERE reason IS NULL AND order_ts >= ?", [window.end]))


def orders_frame(engine: Engine, window: Window) -> pd.DataFrame:
    """The canonical orders in the window (for library users and small analyses)."""
    return engine.frame(
        f"SELECT customer_id, order_id, order_ts, CAST(amount AS DOUBLE) AS amount, lines, quantity, channel, category "
        f"FROM ({purchases(window)}) ORDER BY customer_id, order_ts, order_id"
    )


def build_events(
    engine: Engine, specs: list[EventsSpec], *, files: list[str], activity: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
    grain: tuple[str, str] = ("day", "monday"),
) -> EventsFacts:
    """Parse every source into the ``events`` table (user_id, event, event_ts, session_id
    when some source has one, the requested properties, and ``reason``: NULL when usable, else a code of EVENT_REASONS).

    With ``activity = (start events, return events)`` the table instead holds one row per user,
    day and reason — ``event_ts`` the day, ``first_ts``/``last_ts`` its first and last event,
    ``s``/``r`` whether it had a start/return event, ``n`` the rows — which is all retention
    needs, at a fraction of the memory. ``grain = (period, week_start)`` makes those rows
    per week/month... instead of per day: retention by that period then skips a regrouping,
    but only for an as-of date on or after the last event (see :func:`userops.scan.retention.retention_cells`)."""
    selects = []
    # without session ids (none mapped, or not asked for) the column is left out: stored,
    # an all-NULL text column still takes about 4 bytes an event
    sessions = any(spec.session for spec in specs)
    for spec, file in zip(specs, files):
        t = spec.types
        order = detect_timestamp_order(engine, spec.view, spec.time, t[spec.time], tz=spec.tz, dayfirst=spec.dayfirst, file=file)
        ts = sql.timestamp_expr(q(spec.time), t[spec.time], tz=spec.tz, order=order or None)
        session = sql.id_expr(q(spec.session), t[spec.session]) if spec.session else "NULL::VARCHAR"
        props_inner = "".join(
            f", {sql.text_expr(q(header), t[header]) if header else 'NULL::VARCHAR'} AS {q(sql.property_column(name))}"
            for name, header in spec.properties
        )
        props_outer = "".join(f", {q(sql.property_column(name))}" for name, _ in spec.properties)
        selects.append(
            f"""SELECT CAST(CASE WHEN user_id IS NULL THEN 1 WHEN event IS NULL THEN 2 WHEN event_ts IS NULL THEN 3
                                 WHEN NOT ({sql.plausible('event_ts')}) THEN 4 END AS UTINYINT) AS reason,
                   user_id, event, event_ts{', session_id' if sessions else ''}{props_outer}
            FROM (SELECT {sql.id_expr(q(spec.user), t[spec.user], clean=activity is None)} AS user_id,
                         {sql.text_expr(q(spec.event), t[spec.event])} AS event, {ts} AS event_ts
                         {f', {session} AS session_id' if sessions else ''}{props_inner}
                  FROM {spec.view})"""
        )
    rows = " UNION ALL ".join(f"({sel})" for sel in selects)
    zones = {spec.tz for spec in specs}
    facts = EventsFacts(
        activity=(tuple(activity[0]), tuple(activity[1])) if activity is not None else None,
        grain=(grain[0], grain[1]) if activity is not None else None,
        tz=zones.pop() if len(zones) == 1 else None,
    )
    if activity is not None:
        # whether the row had a start / return event (any event: true, no aggregate needed)
        def had(names: tuple[str, ...]) -> str:
            return f"bool_or({sql.in_list('event', names)})" if names else "true"

        rows = f"""SELECT reason, user_id, CAST({period_start_sql('event_ts', *grain)} AS TIMESTAMP) AS event_ts,
                          min(event_ts) AS first_ts, max(event_ts) AS last_ts,
                          {had(activity[0])} AS s, {had(activity[1])} AS r, count(*) AS n
                   FROM ({rows}) GROUP BY reason, user_id, 3"""
    only_file = files[0] if len(files) == 1 else None
    start_queued_imports()
    if activity is not None:
        with engine.one_thread_more():
            engine.execute(f"CREATE OR REPLACE TABLE events AS {rows}", file=only_file)
        clean_activity_ids(engine)
    else:
        engine.execute(f"CREATE OR REPLACE TABLE events AS {rows}", file=only_file)
    return facts


def clean_activity_ids(engine: Engine) -> None:
    """Activity rows are grouped on the raw (only blanked) user ids: a few million keys
    instead of every event row. Unwrap and trim the ids that need it here, then merge
    the rows that now share a user (a padded id that trims to blank becomes a row
    without user id); the result is the table the cleaned rows would have given."""
    user_id = "user_id"
    dirty = engine.value(f"SELECT count(*) FROM events WHERE {user_id} IS NOT NULL AND NOT ({sql.id_is_clean(user_id)})")
    if not dirty:
        return
    engine.execute(
        f"""CREATE OR REPLACE TABLE events AS
        SELECT CAST(CASE WHEN id IS NULL THEN 1 ELSE reason END AS UTINYINT) AS reason, id AS user_id, event_ts,
               min(first_ts) AS first_ts, max(last_ts) AS last_ts, bool_or(s) AS s, bool_or(r) AS r, CAST(sum(n) AS BIGINT) AS n
        FROM (SELECT *, {sql.id_expr(user_id, "VARCHAR")} AS id FROM events)
        GROUP BY 1, 2, 3"""
    )


def event_drop_counts(engine: Engine, facts: EventsFacts) -> dict[str, int]:
    """Raw event rows not used, by reason."""
    rows = engine.rows(f"SELECT reason, {facts.rows} FROM events WHERE reason IS NOT NULL GROUP BY reason ORDER BY reason")
    return {EVENT_REASONS[code - 1]: int(n) for code, n in rows}


def event_bounds(engine: Engine, facts: EventsFacts) -> tuple[dt.datetime | None, dt.datetime | None, int, int]:
    """First and last usable event time, events read, usable events."""
    first, last = ("event_ts", "event_ts") if facts.activity is None else ("first_ts", "last_ts")
    lo, hi, n, good = engine.row(
        f"SELECT min({first}) FILTER (WHERE reason IS NULL), max({last}) FILTER (WHERE reason IS NULL), "
        f"{facts.rows}, {facts.rows} FILTER (WHERE reason IS NULL) FROM events"
    )
    return lo, hi, int(n or 0), int(good or 0)


def events_after(engine: Engine, facts: EventsFacts, window: Window) -> int:
    """Usable events after the window's as-of date (ignored, and said so)."""
    # activity rows: those wholly after the end (exact for days; periods never straddle it)
    first = "event_ts" if facts.activity is None else "first_ts"
    n = engine.value(f"SELECT {facts.rows} FROM events WHERE reason IS NULL AND {first} >= ?", [window.end])
    return int(n or 0)


def events_frame(engine: Engine, window: Window) -> pd.DataFrame:
    """The usable events in the window, sorted by user and time (for small data and tests)."""
    return engine.frame(
        f"SELECT * EXCLUDE (reason) FROM events WHERE reason IS NULL AND {window.within('event_ts')} ORDER BY user_id, event_ts, event"
    )


def time_range(engine: Engine, view: str, column: str, dtype: str, *, tz: str | None = None, dayfirst: bool | None = None, file: str | None = None):
    """First and last parsed timestamp of a raw column, and how many non-blank values failed."""
    order = detect_timestamp_order(engine, view, column, dtype, tz=tz, dayfirst=dayfirst, file=file)
    ts = sql.timestamp_expr(q(column), dtype, tz=tz, order=order or None)
    lo, hi, bad = engine.row(f"SELECT min({ts}), max({ts}), count(*) FILTER (WHERE {sql.failed(q(column), dtype, ts)}) FROM {view}", file=file)
    return lo, hi, int(bad)


def column_summary(
    engine: Engine, view: str, types: dict[str, str], *, file: str | None, time_column: str | None = None, dayfirst: bool | None = None
) -> pd.DataFrame:
    """Per raw column, in file order: the type its values read as (:func:`value_type`), the
    type it is stored as, non-blank count, distinct count (approximate, never above the
    non-blank count) and the first non-blank value among the first 1,000 rows."""
    import pandas as pd

    stats = []
    for col, dtype in types.items():
        c = q(col)
        stats.append(f"count(*) FILTER (WHERE NOT {sql.blank(c, dtype)})")
        stats.append(f"approx_count_distinct({c})")
    counts = engine.row(f"SELECT {', '.join(stats)} FROM {view}", file=file)
    with engine.file_order():
        head = engine.rows(f"SELECT * FROM {view} LIMIT 1000", file=file)
    rows = []
    for i, (col, dtype) in enumerate(types.items()):
        example = next((v for v in (r[i] for r in head) if v is not None and str(v).strip() != ""), None)
        non_blank = int(counts[2 * i])
        kind = value_type(engine, view, col, dtype, file=file, time_first=col == time_column, dayfirst=dayfirst)
        rows.append((col, kind, dtype, non_blank, min(int(counts[2 * i + 1]), non_blank), None if example is None else str(example)))
    return pd.DataFrame(rows, columns=["column", "type", "stored_as", "non_blank", "distinct_approx", "example"])


#: Share of a sample's values that must read as a type for the column to be called that type.
TYPE_SHARE = 0.95
#: ISO layouts named in ``inspect`` (the ISO cast reads them all, and more).
ISO_LAYOUTS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
#: What may stand around the number of a money value: signs, brackets, currency signs and codes.
MONEY_MARKS = r"[-+()$€£¥₹元\s]*([A-Z]{3})?[-+()$€£¥₹元\s]*"


def value_type(
    engine: Engine, view: str, column: str, dtype: str, *, file: str | None, time_first: bool = False, dayfirst: bool | None = None
) -> str:
    """What the values of a column read as, from its first 2,000 non-blank values: integer,
    decimal, money (currency signs, thousands separators), timestamp with its layout
    (``timestamp %d/%m/%Y %H:%M``, ``timestamp ISO 8601 with UTC offset``, ``timestamp epoch
    seconds``), date, boolean or text. A type needs 95% of the sample; ``time_first`` (the
    time column) tries timestamps before numbers (``20240131`` is a date there)."""
    base = dtype.split("(")[0].upper()
    if not sql.is_text(dtype):
        if base in sql.NUMERIC_TYPES:
            return "integer"
        if base in sql.FLOAT_TYPES or base == "DECIMAL":
            return "decimal"
        if base.startswith("TIMESTAMP"):
            return "timestamp"
        return {"DATE": "date", "BOOLEAN": "boolean"}.get(base, "text")
    v = "v"
    layouts = ISO_LAYOUTS + (sql.DMY_FORMATS + sql.MDY_FORMATS if dayfirst else sql.MDY_FORMATS + sql.DMY_FORMATS) + sql.OTHER_FORMATS
    if engine.dialect != "duckdb":  # other layouts are read by the DuckDB engine only
        layouts = []
    cands = sql.timestamp_candidates(v, None)
    money = (
        f"(({sql.money_expr(v, 'VARCHAR', '.')}) IS NOT NULL OR ({sql.money_expr(v, 'VARCHAR', ',')}) IS NOT NULL) "
        f"AND regexp_full_match(regexp_replace({v}, '[0-9,.]', '', 'g'), {sql.sql_str(MONEY_MARKS)}) AND regexp_matches({v}, '[0-9]')"
    )
    measures = {
        # digits only (the cast alone rounds '32.03'), and no leading zero: '007' is an id, text
        "integer": f"regexp_full_match(trim({v}), '[-+]?(0|[1-9][0-9]*)') AND TRY_CAST(trim({v}) AS BIGINT) IS NOT NULL",
        "decimal": f"isfinite(TRY_CAST(trim({v}) AS DOUBLE)) AND NOT regexp_matches(trim({v}), '^[-+]?0[0-9]')",
        "money": money,
        # and some of them are more than a plain number ($12.00, 1,234.50): else '00042' ids
        "money marked": f"{money} AND TRY_CAST(trim({v}) AS DOUBLE) IS NULL",
        "boolean": f"lower(trim({v})) IN ('true', 'false')",
        "iso": f"{cands['iso']} IS NOT NULL",
        "iso_tz": f"{cands['iso_tz']} IS NOT NULL",
        "epoch seconds": f"regexp_full_match(trim({v}), '1[0-9]{{9}}(\\.[0-9]+)?')",
        "epoch milliseconds": f"regexp_full_match(trim({v}), '1[0-9]{{12}}')",
    }
    measures |= {layout: f"try_strptime(trim({v}), {sql.sql_str(layout)}) IS NOT NULL" for layout in layouts}
    sample = f"SELECT CAST({q(column)} AS VARCHAR) AS v FROM {view} WHERE {q(column)} IS NOT NULL AND trim(CAST({q(column)} AS VARCHAR)) <> '' LIMIT 2000"
    with engine.file_order():
        row = engine.row(f"SELECT count(*), {', '.join(f'count(*) FILTER (WHERE {m})' for m in measures.values())} FROM ({sample})", file=file)
    n, counts = row[0], dict(zip(measures, row[1:]))
    if not n:
        return "empty"

    def enough(name: str) -> bool:
        return counts[name] >= TYPE_SHARE * n

    def timestamp() -> str | None:
        if enough("iso_tz"):
            return "timestamp ISO 8601 with UTC offset"
        best = max(layouts, key=lambda layout: counts[layout]) if layouts else None  # the first of a tie: ISO, then the chosen day order
        if best is not None and enough(best):
            return "date " + best if not any(t in best for t in ("%H", "%M", "%S")) else "timestamp " + best
        if enough("iso"):
            return "timestamp ISO 8601"
        for epoch in ("epoch seconds", "epoch milliseconds"):
            if enough(epoch):
                return "timestamp " + epoch
        return None

    if time_first and (found := timestamp()):
        return found
    for name in ("integer", "decimal"):
        if enough(name):
            return name
    if found := timestamp():
        return found
    if enough("money") and counts["money marked"]:
        return "money"
    return "boolean" if enough("boolean") else "text"


def common_values(engine: Engine, view: str, column: str, *, limit: int = 6, sample: int = 200_000, file: str | None = None) -> list[tuple[str, int]]:
    """The most common values of a raw column among its first ``sample`` rows (for messages)."""
    c = q(column)
    rows = engine.rows(
        f"SELECT v, count(*) FROM (SELECT trim(CAST({c} AS VARCHAR)) AS v FROM {view} LIMIT {int(sample)}) "
        f"WHERE v IS NOT NULL AND v <> '' GROUP BY v ORDER BY count(*) DESC, v LIMIT {int(limit)}",
        file=file,
    )
    return [(str(v), int(n)) for v, n in rows]


def distinct_values(engine: Engine, view: str, column: str, *, limit: int = 500, file: str | None = None) -> list[str]:
    """The distinct non-blank values of a raw column over every row (a status column's
    values, for an export profile), at most ``limit``, sorted."""
    c = q(column)
    rows = engine.rows(
        f"SELECT DISTINCT v FROM (SELECT trim(CAST({c} AS VARCHAR)) AS v FROM {view}) WHERE v IS NOT NULL AND v <> '' ORDER BY v LIMIT {int(limit)}",
        file=file,
    )
    return [str(r[0]) for r in rows]


def count_rows(engine: Engine, view: str, *, file: str | None = None) -> int:
    """Rows of a raw view."""
    return int(engine.value(f"SELECT count(*) FROM {view}", file=file))
