"""Raw inputs + column mapping -> the canonical orders table, and what was dropped and why.

``load_orders`` is the library entry point used by every command that reads orders:

    loaded = load_orders(["orders.csv"], LoadOptions())
    window = loaded.window()                      # as-of = latest purchase
    customers = scan.customers.customer_aggregates(loaded, window)

The work itself runs in the scan engine (:mod:`userops.scan.load`); this module decides
what to ask for: which column plays which role, which statuses are not purchases, and it
turns the engine's counts into a :class:`DropReport`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from userops import schema
from userops.errors import DataError, UsageError
from userops.glossary import Said, count, say
from userops.io import columns as colmod
from userops.io.readers import RawSource, ReadInfo, open_source
from userops.scan import load as scan_load
from userops.scan.engine import Engine
from userops.scan.load import EXCLUSION_REASONS, REASON_OTHER_CURRENCY, EventsFacts, EventsSpec, OrdersFacts, OrdersSpec
from userops.scan.window import Window, resolve_window

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Status values (lower case; ``_``/``-`` read as spaces; WooCommerce ``wc-`` prefix removed)
#: that mean the order is not a purchase. ``--include-refunds`` keeps them.
EXCLUDED_STATUSES = (
    "cancelled", "canceled", "cancel", "refunded", "refund", "fully refunded", "voided", "void",
    "unpaid", "pending", "pending payment", "failed", "payment failed", "declined", "returned",
    "chargeback", "charged back", "expired", "abandoned", "trash", "draft",
    "已取消", "取消", "退款成功", "已退款", "全额退款", "交易关闭", "未付款", "等待买家付款", "待付款", "付款失败",
    "已关闭", "订单关闭", "退货成功",
)

#: Normalised headers of amount columns that hold the *order* total repeated (or only on the
#: first line) on every line of an order: the order amount is their maximum, not their sum.
ORDER_TOTAL_HEADERS = {
    colmod.normalise_header(h)
    for h in ("total", "order total", "order_total", "order total amount", "total price", "totalprice",
              "买家实际支付金额", "实付金额", "实际支付金额", "支付金额", "实收金额", "paid_amount", "payment_amount")
}

#: Order-id headers of the UCI Online Retail layout, where invoices starting with "C" are cancellations.
INVOICE_HEADERS = {"invoiceno", "invoice", "invoicenumber"}


@dataclass(frozen=True)
class LoadOptions:
    """Everything that changes how raw rows become orders."""

    columns: dict[str, str] = field(default_factory=dict)  # role -> header overrides
    encoding: str | None = None
    decimal: str | None = None  # "." or ","; None detects
    dayfirst: bool | None = None  # None detects
    tz: str | None = None  # None: the wall-clock time written in the export (see time_notes)
    include_refunds: bool = False
    currency: str | None = None  # keep only orders in this currency (an export mixing several)
    purchase_events: tuple[str, ...] = ()  # a clickstream given as orders: these events are the orders
    strict: bool = False
    keep: tuple[str, ...] = ()  # raw columns to carry through per customer (--keep email,phone)
    margin: bool = False  # read the margin column (gross profit) when there is one


@dataclass(frozen=True)
class DropReport:
    """Rows read and rows not used, by reason. Exclusions (refund rules) are kept apart from
    data problems; only data problems fail ``--strict``."""

    rows_read: int
    dropped: dict[str, int]  # data problems: reason -> rows
    excluded: dict[str, int]  # business rules: reason -> rows
    after_as_of: int = 0  # purchases (or events) after the as-of date, ignored
    unit: str = "order"  # what ``after_as_of`` counts, for the message

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def n_excluded(self) -> int:
        return sum(self.excluded.values())

    def lines(self) -> list[str]:
        """Human lines for stderr, e.g. ``dropped 12 rows: 9 without customer id, 3 unparseable dates``
        (glossary messages: the command line says them in its language)."""
        out: list[str] = []
        if self.dropped:
            out.append(say("dropped_rows", rows=count(self.n_dropped, "row"), detail=_reasons(self.dropped)))
        if self.excluded:
            refunds = any(r != REASON_OTHER_CURRENCY for r in self.excluded)
            hint = say("include_refunds_hint") if refunds else ""
            out.append(say("excluded_rows", rows=count(self.n_excluded, "row"), detail=_reasons(self.excluded), hint=hint))
        if self.after_as_of:
            out.append(say("ignored_after", count=count(self.after_as_of, self.unit)))
        return out

    def plain_lines(self) -> list[str]:
        """What was left out, in plain words for a reader of the report (``140 order lines had
        no customer id and were left out``), one line per reason."""
        rows = {**self.dropped, **self.excluded}
        if not rows:
            return [say("plain_all_read", n=f"{self.rows_read:,}")]
        return [say(f"plain_{REASON_NOTES[reason]}", n=f"{n:,}") for reason, n in rows.items()]

    def as_dict(self) -> dict:
        return {"rows_read": self.rows_read, "dropped": dict(self.dropped), "excluded": dict(self.excluded), "after_as_of": self.after_as_of}


#: Each reason a row is not used -> its message in the glossary.
REASON_NOTES = {
    scan_load.REASON_NO_CUSTOMER: "reason_no_customer",
    scan_load.REASON_EXCLUDED_STATUS: "reason_excluded_status",
    scan_load.REASON_BAD_TIME: "reason_bad_time",
    scan_load.REASON_TIME_RANGE: "reason_time_range",
    scan_load.REASON_BAD_AMOUNT: "reason_bad_amount",
    scan_load.REASON_NO_AMOUNT: "reason_no_amount",
    scan_load.REASON_NEGATIVE: "reason_negative",
    scan_load.REASON_REFUNDED_IN_FULL: "reason_refunded_in_full",
    scan_load.REASON_OTHER_CURRENCY: "reason_other_currency",
    scan_load.EVENT_REASONS[0]: "reason_no_user",
    scan_load.EVENT_REASONS[1]: "reason_no_event",
}


def _rows(n: int) -> str:
    return _count(n, "row")


def _count(n: int, noun: str) -> str:
    """``1 row``, ``2,000 rows`` (in error messages, which stay English)."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _reasons(rows: dict[str, int]) -> list[Said]:
    return [say("reason_count", n=f"{n:,}", reason=say(REASON_NOTES[reason])) for reason, n in rows.items()]


@dataclass
class LoadedOrders:
    """Canonical orders held by a scan engine, with how they were read and what was dropped."""

    engine: Engine
    facts: OrdersFacts  # what the load learned (order ids, amounts, refunds...)
    infos: list[ReadInfo]
    mappings: list[colmod.ColumnMapping]
    specs: list[OrdersSpec]
    drops: DropReport
    first_ts: dt.datetime | None
    last_ts: dt.datetime | None
    n_orders: int
    notes: tuple[str, ...] = ()  # how the data was read, for stderr (time offsets...)
    #: answers of the engine kept for this load (see :class:`userops.scan.load.HasOrders`)
    answers: dict = field(default_factory=dict, repr=False, compare=False)

    def window(
        self, as_of: dt.date | dt.datetime | str | None = None, *, start: dt.date | None = None, end: dt.date | None = None, end_bounds_starts: bool = False
    ) -> Window:
        """Resolve the analysis window. ``as_of`` defaults to the date of the latest purchase;
        ``"today"`` is allowed. Purchases after the as-of date (or after ``end``) are out."""
        return resolve_window(self.last_ts, as_of, start=start, end=end, end_bounds_starts=end_bounds_starts)

    def drops_for(self, window: Window) -> DropReport:
        """The drop report with the purchases after the window's as-of date counted."""
        return DropReport(self.drops.rows_read, self.drops.dropped, self.drops.excluded, scan_load.count_after(self.engine, window))

    def late_notes(self) -> list[str]:
        """How a file had to be read, learned after the load (a re-read by the engine)."""
        return [line for line in scan_load.read_notes(self.engine) if line not in self.notes]

    def purchases_in(self, window: Window) -> int:
        """Purchases inside the window."""
        return scan_load.count_in(self.engine, window)

    def close(self, *, keep_database: bool = False) -> None:
        """Free the engine's memory (the tables are gone after this); see
        :func:`userops.scan.load.release`."""
        scan_load.release(self, keep_database=keep_database)


@dataclass
class LoadedEvents:
    """Canonical events held by a scan engine (table ``events``), with what was dropped."""

    engine: Engine
    facts: EventsFacts  # what the load learned (activity rows and their grain, the zone)
    infos: list[ReadInfo]
    mappings: list[colmod.ColumnMapping]
    drops: DropReport
    first_ts: dt.datetime | None
    last_ts: dt.datetime | None
    n_events: int
    properties: tuple[str, ...] = ()
    #: whether session ids were kept (``load_events(sessions=False)`` skips them)
    sessions: bool = True
    notes: tuple[str, ...] = ()  # how the data was read, for stderr (time offsets...)

    def window(
        self, as_of: dt.date | dt.datetime | str | None = None, *, start: dt.date | None = None, end: dt.date | None = None, end_bounds_starts: bool = False
    ) -> Window:
        """As for orders; ``as_of`` defaults to the date of the latest event."""
        return resolve_window(self.last_ts, as_of, start=start, end=end, end_bounds_starts=end_bounds_starts)

    def drops_for(self, window: Window) -> DropReport:
        return DropReport(self.drops.rows_read, self.drops.dropped, {}, scan_load.events_after(self.engine, self.facts, window), unit="event")

    def late_notes(self) -> list[str]:
        return [line for line in scan_load.read_notes(self.engine) if line not in self.notes]

    def close(self, *, keep_database: bool = False) -> None:
        scan_load.release(self, keep_database=keep_database)


def load_events(
    paths: list[str],
    options: LoadOptions | None = None,
    *,
    properties: tuple[str, ...] = (),
    engine: Engine | None = None,
    stdin=None,
    activity: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
    grain: tuple[str, str] = ("day", "monday"),
    sessions: bool = True,
) -> LoadedEvents:
    """Read and map clickstream exports (user, event, time; optional session) into ``events``.

    ``properties`` are raw columns kept per event (for breakdowns, e.g. ``channel``); a file
    without one of them gets blanks for it, a name no file has is a usage error. ``activity =
    (start events, return events)`` keeps only per-user-day activity (enough for retention), or
    per user and period with ``grain = (period, week_start)`` (retention as of the last event).
    ``sessions=False`` does not parse or keep the session ids (a funnel by user does not need
    them: one id column less to parse, ~70 MB less memory on 10M events)."""
    options = options or LoadOptions()
    engine = engine or Engine()
    sources = [engine.open(p, encoding=options.encoding, stdin=stdin) for p in paths]
    specs, mappings, files = [], [], []
    found: set[str] = set()
    for source in sources:
        name = source.info.name
        view, types = engine.register(source)
        headers = list(types)
        mapping = colmod.resolve_roles(headers, options.columns, file=name)
        colmod.require_roles(mapping, colmod.REQUIRED_FOR_EVENTS, headers, file=name, user_label="user")
        by_norm = {colmod.normalise_header(h): h for h in headers}
        props = tuple((p, p if p in headers else by_norm.get(colmod.normalise_header(p))) for p in properties)
        found.update(p for p, header in props if header)
        specs.append(
            EventsSpec(
                view=view, types=types, user=mapping.required(schema.ROLE_USER), event=mapping.required(schema.ROLE_EVENT),
                time=mapping.required(schema.ROLE_TIME), session=mapping.get(schema.ROLE_SESSION) if sessions else None, properties=props,
                tz=options.tz, dayfirst=options.dayfirst,
            )
        )
        mappings.append(mapping)
        files.append(name)
    missing = [p for p in properties if p not in found]
    if missing:
        raise UsageError(f"no column {', '.join(repr(m) for m in missing)} in the events", hint=f"columns found: {', '.join(headers)}")
    facts = scan_load.build_events(engine, specs, files=files, activity=activity, grain=grain)
    dropped = scan_load.event_drop_counts(engine, facts)
    first_ts, last_ts, n_read, n_ok = scan_load.event_bounds(engine, facts)
    file = files[0] if len(files) == 1 else None
    if n_read == 0:
        raise DataError("the file has a header but no data rows", file=file)
    if n_ok == 0:
        raise DataError("no usable events (" + "; ".join(DropReport(n_read, dropped, {}).lines()) + ")", file=file, hint="check the column mapping with 'userops inspect'")
    if options.strict and dropped:
        reason, n = next(iter(dropped.items()))
        raise DataError(f"{_count(n, 'event row')} {reason} (--strict)", file=file, hint="fix the rows or run without --strict to drop them")
    return LoadedEvents(
        engine, facts, [s.info for s in sources], mappings, DropReport(n_read, dropped, {}), first_ts, last_ts, n_ok, tuple(properties), sessions,
        notes=tuple(n for src in sources for n in src.notes) + tuple(scan_load.read_notes(engine)) + time_notes(engine.time_offsets, options.tz),
    )


def input_has_events(paths: list[str], options: LoadOptions | None = None, *, engine: Engine | None = None) -> bool:
    """True when every input has an event-name column (so it is a clickstream, not orders).
    Reads only headers (stdin is assumed to hold orders: it cannot be read twice)."""
    options = options or LoadOptions()
    if not paths or "-" in paths:
        return False
    for path in paths:
        source = engine.open(path, encoding=options.encoding) if engine is not None else open_source(path, encoding=options.encoding)
        headers = list(source.info.headers) or (list(source.table.column_names) if source.table is not None else [])
        mapping = colmod.resolve_roles(headers, options.columns, file=source.info.name)
        if schema.ROLE_EVENT not in mapping:
            return False
    return True


def time_notes(offsets: set[str], tz: str | None) -> tuple[str, ...]:
    """What was done with the UTC offsets written in the timestamps (e.g. Shopify's ``+0800``)."""
    if not offsets:
        return (f"--tz {tz}: the timestamps carry no UTC offset, so they are read as written",) if tz else ()
    shown = ", ".join(sorted(offsets)[:3]) + (", ..." if len(offsets) > 3 else "")
    if tz:
        return (f"timestamps with UTC offsets ({shown}) are converted to {tz} (--tz)",)
    return (f"timestamps carry UTC offsets ({shown}); they are read as the export's own local time (--tz ZONE converts them)",)


def check_time_zone(tz: str | None) -> str | None:
    """A --tz value the engine knows (``Asia/Shanghai``, ``UTC``), before any data is read."""
    if tz is None:
        return None
    from userops.scan.engine import time_zone_names

    names = time_zone_names()
    if tz in names:
        return tz
    by_lower = {n.lower(): n for n in names}
    if tz.lower() in by_lower:
        return by_lower[tz.lower()]
    raise UsageError(f"--tz {tz!r} is not a time zone", hint="use a name such as Asia/Shanghai, America/New_York or UTC")


def load_orders(
    paths: list[str], options: LoadOptions | None = None, *, engine: Engine | None = None, stdin=None, line_detail: bool = False,
    order_detail: bool = True,
) -> LoadedOrders:
    """Read, map and normalise order exports into the engine's canonical ``orders`` table.

    ``line_detail`` keeps each order's line categories (wanted for per-customer top
    categories; without it they cost a second pass over the rows); ``order_detail=False``
    leaves out each order's channel and quantity (faster when only dates and amounts count)."""
    options = options or LoadOptions()
    engine = engine or Engine()
    sources = [engine.open(p, encoding=options.encoding, stdin=stdin) for p in paths]
    return _load(engine, sources, options, line_detail=line_detail, order_detail=order_detail)


def prepare_orders(frame: "pd.DataFrame", columns: dict[str, str] | None = None, options: LoadOptions | None = None) -> LoadedOrders:
    """The same mapping and normalisation for a DataFrame you already have (notebooks)."""
    import pyarrow as pa

    options = options or LoadOptions()
    if columns:
        options = LoadOptions(**{**options.__dict__, "columns": {**options.columns, **columns}})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    source = RawSource(ReadInfo("<DataFrame>", "frame", headers=tuple(table.column_names)), table=table)
    return _load(Engine(), [source], options)


def _load(engine: Engine, sources: list[RawSource], options: LoadOptions, *, line_detail: bool = False, order_detail: bool = True) -> LoadedOrders:
    specs, mappings, files = [], [], []
    for source in sources:
        name = source.info.name
        view, types = engine.register(source)
        headers = list(types)
        mapping = colmod.resolve_roles(headers, options.columns, file=name)
        colmod.require_roles(mapping, colmod.REQUIRED_FOR_ORDERS, headers, file=name)
        amount = mapping.get(schema.ROLE_AMOUNT)
        order = mapping.get(schema.ROLE_ORDER)
        event = _purchase_event_column(engine, view, mapping, options, name)
        if event and amount is None and mapping.get(schema.ROLE_QUANTITY) is None:
            amount = mapping.get(schema.ROLE_UNIT_PRICE)  # a purchase event's price is its amount
        specs.append(
            OrdersSpec(
                view=view,
                types=types,
                user=mapping.required(schema.ROLE_USER),
                time=mapping.required(schema.ROLE_TIME),
                order=order,
                amount=amount,
                amount_is_order_total=bool(amount and order and colmod.normalise_header(amount) in ORDER_TOTAL_HEADERS),
                quantity=mapping.get(schema.ROLE_QUANTITY),
                unit_price=mapping.get(schema.ROLE_UNIT_PRICE),
                status=mapping.get(schema.ROLE_STATUS),
                category=mapping.get(schema.ROLE_CATEGORY),
                channel=mapping.get(schema.ROLE_CHANNEL),
                refunded=mapping.get(schema.ROLE_REFUNDED),
                currency=mapping.get(schema.ROLE_CURRENCY),
                margin=mapping.get(schema.ROLE_MARGIN) if options.margin else None,
                keep_currency=options.currency,
                event=event,
                purchase_events=options.purchase_events if event else (),
                excluded_statuses=EXCLUDED_STATUSES,
                cancel_invoice_prefix="C" if order and colmod.normalise_header(order) in INVOICE_HEADERS else None,
                include_refunds=options.include_refunds,
                decimal=options.decimal,
                dayfirst=options.dayfirst,
                tz=options.tz,
                keep=_keep_columns(options.keep, headers, name),
            )
        )
        if options.currency and schema.ROLE_CURRENCY not in mapping:
            raise UsageError(
                f"--currency {options.currency}: the file has no currency column", file=name, hint=f"set --currency-col; columns found: {', '.join(headers)}"
            )
        mappings.append(mapping)
        files.append(name)
    if options.margin and any(s.margin for s in specs) and not all(s.margin for s in specs):
        lacking = [f for s, f in zip(specs, files) if not s.margin]
        raise DataError(
            "some inputs have a margin column and some do not: their margins cannot be added up", file=lacking[0],
            hint="set --margin-col for every input, or give --margin as a share of revenue",
        )
    facts = scan_load.build_orders(engine, specs, files=files, category_lists=line_detail, order_detail=order_detail)
    notes = _money_notes(engine, facts, specs, files, options)
    if any(s.event for s in specs):
        purchases = ", ".join(repr(e) for e in options.purchase_events)
        amounts = sorted({s.amount for s in specs if s.event and s.amount} | {s.unit_price for s in specs if s.event and s.unit_price and s.quantity})
        notes = (
            f"orders are the clickstream's {purchases} events"
            + (f", amounts from {', '.join(repr(a) for a in amounts)}" if amounts else ", without amounts")
            + " (--purchase-event)",
        ) + notes

    totals = scan_load.order_totals(engine)
    dropped = {r: n for r, n in totals.dropped.items() if r not in EXCLUSION_REASONS}
    excluded = {r: n for r, n in totals.dropped.items() if r in EXCLUSION_REASONS}
    rows_read = totals.rows_read
    drops = DropReport(rows_read, dropped, excluded)
    if options.strict and dropped:
        _fail_strict(engine, specs, files, dropped)
    first_ts, last_ts, n_orders = totals.first_ts, totals.last_ts, totals.purchases
    clickstream = next((s for s in specs if s.event), None)
    if rows_read == 0 and clickstream is not None and clickstream.event is not None:
        raise DataError(
            f"no event named {', '.join(repr(e) for e in options.purchase_events)} (--purchase-event)",
            file=files[0] if len(files) == 1 else None,
            hint=f"events here include {_listed(scan_load.common_values(engine, clickstream.view, clickstream.event))}",
        )
    if rows_read == 0:
        raise DataError("the file has a header but no data rows", file=files[0] if len(files) == 1 else None)
    if n_orders == 0:
        summary = "; ".join(drops.lines())
        raise DataError(f"no usable purchases ({summary})", file=files[0] if len(files) == 1 else None, hint="check the column mapping with 'userops inspect'")
    return LoadedOrders(
        engine, facts, [s.info for s in sources], mappings, specs, drops, first_ts, last_ts, n_orders,
        notes=tuple(n for src in sources for n in src.notes) + tuple(scan_load.read_notes(engine)) + time_notes(engine.time_offsets, options.tz) + notes,
    )


def _purchase_event_column(engine: Engine, view: str, mapping: colmod.ColumnMapping, options: LoadOptions, name: str) -> str | None:
    """A clickstream given where orders are expected: refused (its page views would count as
    orders), unless ``--purchase-event`` says which events are the orders."""
    event = mapping.get(schema.ROLE_EVENT)
    if event is None:
        if options.purchase_events:
            raise UsageError("--purchase-event: the file has no event column", file=name, hint="set --event-col, or drop --purchase-event for an order export")
        return None
    if options.purchase_events:
        return event
    common = scan_load.common_values(engine, view, event, file=name)
    raise DataError(
        f"this looks like a clickstream, not orders (column {event!r}: {_listed(common)})",
        file=name,
        hint="pass the order export, or take the orders from its purchase events with --purchase-event NAME",
    )


def _listed(values: list[tuple[str, int]]) -> str:
    return ", ".join(v for v, _ in values) or "none"


def _money_notes(engine: Engine, facts: OrdersFacts, specs: list[OrdersSpec], files: list[str], options: LoadOptions) -> tuple[str, ...]:
    """Refunds netted out, and one currency: amounts in different currencies are never summed."""
    file = files[0] if len(files) == 1 else None
    currencies = scan_load.currencies(engine, facts)
    named = [(c, n) for c, n in currencies if c is not None]
    if options.currency is None and len(named) > 1:
        listed = ", ".join(f"{n:,} in {c}" for c, n in named[:5])
        raise DataError(
            f"the orders are in {len(named)} currencies ({listed}); their amounts cannot be added up",
            file=file,
            hint=f"keep one with --currency {named[0][0]}",
        )
    notes: list[str] = []
    if options.currency:
        notes.append(say("currency_only", currency=options.currency.upper()))
    n, total = scan_load.refund_totals(engine, facts)
    if n:
        columns = sorted({s.refunded for s in specs if s.refunded})
        notes.append(
            f"revenue is net of refunds: {n:,} order{'' if n == 1 else 's'} less {total:,.2f} refunded "
            f"(column {', '.join(repr(c) for c in columns)}; --include-refunds keeps gross amounts)"
        )
    return tuple(notes)


def _keep_columns(keep: tuple[str, ...], headers: list[str], name: str) -> tuple[str, ...]:
    """Resolve --keep names against the headers (same normalisation as the aliases)."""
    by_norm = {colmod.normalise_header(h): h for h in headers}
    out = []
    for wanted in keep:
        header = wanted if wanted in headers else by_norm.get(colmod.normalise_header(wanted))
        if header is None:
            raise UsageError(f"--keep names {wanted!r}, which is not a column", file=name, hint=f"columns found: {', '.join(headers)}")
        out.append(header)
    return tuple(out)


def _fail_strict(engine: Engine, specs: list[OrdersSpec], files: list[str], dropped: dict[str, int]) -> None:
    reason, n = next(iter(dropped.items()))
    # the line of the first such row: files read by DuckDB (Spark reads files in parts, in no order)
    for spec, file in zip(specs, files) if engine.dialect == "duckdb" else ():
        found = scan_load.first_dropped_line(engine, spec, reason, file=file)
        if found:
            line, column, raw = found
            shown = f" ({raw!r})" if raw is not None else ""
            raise DataError(
                f"{_rows(n)} {reason}, the first here{shown} (--strict)",
                file=file,
                row=line,
                column=column,
                hint="fix the rows or run without --strict to drop them",
            )
    raise DataError(f"{_rows(n)} {reason} (--strict)", file=files[0] if len(files) == 1 else None, hint="fix the rows or run without --strict to drop them")


@dataclass(frozen=True)
class InspectResult:
    """What ``userops inspect`` shows: the read settings, the mapping and a per-column summary."""

    info: ReadInfo
    rows: int
    mapping: colmod.ColumnMapping
    columns: "pd.DataFrame"  # column, role, type, non_blank, distinct_approx, example
    first_ts: dt.datetime | None = None
    last_ts: dt.datetime | None = None
    unparseable_times: int = 0
    status_values: tuple[str, ...] = ()  # every distinct value of the status column


def inspect_columns_in_language(columns: "pd.DataFrame", lang: str) -> "pd.DataFrame":
    """inspect's column table with its roles and value types named in ``lang`` (a layout
    after the type, ``timestamp %Y-%m-%d``, stays as written)."""
    from userops.glossary import name

    if lang == "en":
        return columns
    out = columns.copy()
    out["role"] = [None if role is None else name(role, lang) for role in columns["role"]]
    out["type"] = [" ".join([name(kind.split(" ", 1)[0], lang), *kind.split(" ", 1)[1:]]) for kind in columns["type"]]
    return out


def inspect_input(path: str, options: LoadOptions | None = None, *, stdin=None, engine: Engine | None = None) -> InspectResult:
    """Detected encoding, delimiter, column roles, types, row count and date range of one input."""
    options = options or LoadOptions()
    engine = engine or Engine()
    source = engine.open(path, encoding=options.encoding, stdin=stdin)
    name = source.info.name
    view, types = engine.register(source)
    mapping = colmod.resolve_roles(list(types), options.columns, file=name)
    summary = scan_load.column_summary(
        engine, view, types, file=name, time_column=mapping.get(schema.ROLE_TIME), dayfirst=options.dayfirst
    )
    # the roles only some analyses read (paid_at, shipped_at...: the order-status funnel) are
    # shown where a column plays no other role
    on_demand = colmod.resolve_roles(list(types), options.columns, file=name, roles=schema.ON_DEMAND_ROLES)
    role_of = {header: role for role, header in on_demand.columns.items()} | {header: role for role, header in mapping.columns.items()}
    summary.insert(1, "role", [role_of.get(c) for c in summary["column"]])
    rows = scan_load.count_rows(engine, view, file=name)
    first = last = None
    bad = 0
    time_col = mapping.get(schema.ROLE_TIME)
    if time_col:
        first, last, bad = scan_load.time_range(engine, view, time_col, types[time_col], tz=options.tz, dayfirst=options.dayfirst, file=name)
    status_col = mapping.get(schema.ROLE_STATUS)
    statuses = tuple(scan_load.distinct_values(engine, view, status_col, file=name)) if status_col else ()
    return InspectResult(source.info, rows, mapping, summary, first, last, bad, statuses)
