"""The scan: the only module that runs SQL.

One embedded DuckDB connection over the raw inputs (files read in place, or Arrow
tables). Every query that touches all raw rows lives here — parsing and normalising,
rolling order lines into orders, per-customer / per-period / dataset aggregates — and
returns small pandas frames. This is the seam where an out-of-core or distributed engine
plugs in later; analytics never see SQL.

Tables kept in the connection after :meth:`Engine.build_orders`:

``orders``       one row per order (customer_id, order_id, order_ts, amount, lines,
                 quantity, channel, reason, and per row-level reason the rows dropped);
                 ``reason`` is NULL for purchases. Raw rows are never materialised.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from userops.errors import DataError, InputError, UseropsError
from userops.io import parse
from userops.io.parse import quote_ident as q

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from userops.io.readers import RawSource

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

#: Timestamps before this are typos or placeholders (1900-01-01, epoch 0), not orders or events.
EARLIEST_PLAUSIBLE = dt.datetime(1990, 1, 1)


def plausible_times() -> str:
    """SQL condition on ``{col}``: a time no earlier than 1990 and no later than tomorrow (a
    ``2099`` typo would make it the default as-of date and every customer churned;
    ``9999-12-31`` has no next day)."""
    latest = dt.datetime.combine(dt.date.today() + dt.timedelta(days=2), dt.time())
    return f"{{col}} >= TIMESTAMP '{EARLIEST_PLAUSIBLE.isoformat(sep=' ')}' AND {{col}} < TIMESTAMP '{latest.isoformat(sep=' ')}'"

PERIOD_UNITS = {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year"}


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


def property_column(name: str) -> str:
    """Name of an event property (a raw column such as ``channel``) in the ``events`` table."""
    return f"prop:{name}"


@dataclass(frozen=True)
class Window:
    """The analysis window: orders with ``start <= order_ts < end`` (``end`` = day after as-of).

    ``until`` bounds only what *starts* an analysis (a funnel's step-1 event, a retention
    cohort): with ``--to`` those must fall in range while later steps and returns may follow
    up to the as-of date."""

    as_of: dt.date
    end: dt.datetime
    start: dt.datetime | None = None
    until: dt.datetime | None = None

    def starts_before(self, column: str) -> str:
        """SQL condition for a starting event/period column (true when there is no --to)."""
        return f"{column} < TIMESTAMP '{self.until.isoformat(sep=' ')}'" if self.until else "true"


def period_start_sql(column: str, period: str, week_start: str = "monday") -> str:
    """SQL DATE: the start of the day/week/month/quarter/year holding the timestamp ``column``
    (weeks from Monday, or from Sunday with ``week_start="sunday"``)."""
    if period == "day":
        return f"CAST({column} AS DATE)"
    if period == "week" and week_start == "sunday":
        return f"CAST(date_trunc('week', {column} + INTERVAL 1 DAY) - INTERVAL 1 DAY AS DATE)"
    return f"CAST(date_trunc('{PERIOD_UNITS[period]}', {column}) AS DATE)"


def keep_column(name: str) -> str:
    """Name of a --keep column among the parsed rows."""
    return f"keep:{name}"


#: The longest line (a record, quoted line breaks included) the careful CSV scanner accepts.
CAREFUL_MAX_LINE_BYTES = 1 << 30


def _refused_csv(message: str) -> bool:
    """DuckDB's CSV scanner could not read a file (its sniffer, a row, the encoding)."""
    first = message.strip().splitlines()[0].lower() if message.strip() else ""
    return "csv error" in first or "sniffing file" in first or "unicode" in message.lower()


def _needs_careful_csv(message: str) -> bool:
    """The fast CSV scanner refused what the single-threaded one reads."""
    return "parallel=false" in message or "Maximum line size" in message


@functools.lru_cache(maxsize=1)
def time_zone_names() -> frozenset[str]:
    """The time zone names the engine converts to (IANA names and aliases such as ``UTC``)."""
    import duckdb

    with duckdb.connect(":memory:") as con:
        return frozenset(r[0] for r in con.execute("SELECT name FROM pg_timezone_names()").fetchall())


def status_spellings(statuses: tuple[str, ...]) -> list[str]:
    """Lower-case spellings of each status: ``pending payment`` also as ``pending_payment``,
    ``pending-payment``, ``wc-pending-payment``... (sorted, for stable SQL)."""
    out = set()
    for status in statuses:
        base = status.lower().strip()
        for spelled in (base, base.replace(" ", "_"), base.replace(" ", "-"), base.replace(" ", "")):
            out.update((spelled, f"wc-{spelled}"))
    return sorted(out)


class Engine:
    """An embedded DuckDB connection holding the raw views and the canonical tables."""

    def __init__(self, *, threads: int | None = None) -> None:
        import duckdb

        self._duckdb = duckdb
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")  # never draw on stderr (pipes, cron mail)
        # row order inside the tables does not matter (every output is sorted by a key) and
        # dropping it makes the full pass ~40% faster; first_dropped_line turns it back on
        self.con.execute("SET preserve_insertion_order = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self._n_views = 0
        self._arrow_tables: dict[str, object] = {}  # name -> pyarrow Table behind a raw view
        self._csv_views: dict[str, tuple[str, list[str]]] = {}  # view -> (path, read_csv options)
        self._csv_careful = False  # CSV views use the single-threaded scanner
        self._csv_sources: dict[str, "RawSource"] = {}
        self.read_notes: list[str] = []  # how a file had to be read (encoding changed...), for stderr
        self.events_tz: str | None = None  # the zone event times were converted to (build_events)
        self.time_offsets: set[str] = set()  # UTC offsets seen in sampled timestamps (+0800, Z)
        self.has_order_id = False
        self.has_amount = False
        self.has_category_lists = False
        self.has_refunds = False  # order amounts are net of a refunded-amount column
        self.has_currency = False  # orders carry their currency

    def close(self) -> None:
        """Free the connection and every table in it (a command whose numbers are computed
        releases the engine's memory before writing a million-row output)."""
        self.con.close()

    # --- plumbing -------------------------------------------------------------------
    def _sql(self, sql: str, params: list | None = None, *, file: str | None = None):
        return self._guarded(lambda: self.con.execute(sql, params or []), file)

    def _guarded(self, run, file: str | None):
        """Run a statement; when DuckDB's fast CSV scanner refuses a valid file (a line break
        inside a quoted cell, a cell of several MB), re-create the CSV views with the careful
        settings and run it once more; when the scanner refuses a file still (mixed line
        endings, an encoding that changes after the sample, a broken quote), read the CSV
        files with Python's csv module (which names the line it cannot read) and run it again;
        map what still fails to the error a user can act on."""
        try:
            return run()
        except self._duckdb.Error as exc:
            if not self._csv_careful and self._csv_views and _needs_careful_csv(str(exc)):
                self._csv_careful = True
                try:
                    for view, (path, opts) in self._csv_views.items():
                        self._create_csv_view(view, path, opts)
                    return run()
                except self._duckdb.Error as again:
                    exc = again
            if self._csv_views and _refused_csv(str(exc)):
                # what the scanner refuses, Python's csv module may read (mixed line endings,
                # an encoding that changes after the sample), or say on which line it cannot
                self._read_csv_views_in_python()
                try:
                    return run()
                except self._duckdb.Error as again:
                    raise self._error(again, file) from again
            raise self._error(exc, file) from exc

    def _read_csv_views_in_python(self) -> None:
        from userops.io.readers import read_csv_strictly

        # newer DuckDB refuses a registration while an earlier statement's result is unfetched
        finish = getattr(self.con, "complete", None)
        if finish is not None:
            with contextlib.suppress(self._duckdb.Error):
                finish()
        for view in list(self._csv_views):
            source = self._csv_sources[view]
            table, note = read_csv_strictly(source)
            if note:
                self.read_notes.append(note)
            del self._csv_views[view]
            self._arrow_tables[f"{view}_arrow"] = table
            self.con.register(f"{view}_arrow", table)
            self.con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {view}_arrow")

    def _error(self, exc: Exception, file: str | None) -> UseropsError:
        """A DuckDB failure as a user-facing error: problems reading the data blame the file
        (exit 65); running out of memory says what to set; anything else is what it is, an
        internal failure of the query (exit 1), not the file's fault."""
        text = str(exc).strip()
        msg = text.splitlines()[0] if text else type(exc).__name__
        d = self._duckdb
        if isinstance(exc, d.OutOfMemoryException) or "out of memory" in msg.lower():
            return UseropsError(
                f"the engine ran out of memory ({msg})",
                hint="run on a machine with more memory, or split the input by date",
            )
        if isinstance(exc, d.IOException) and file:
            return InputError(f"cannot read the file ({msg})", file=file)
        first = msg.lower()
        if "unicode" in first or "utf-8" in first or "utf8" in first:
            return DataError(f"cannot read the data ({msg})", file=file, hint="the file is not valid UTF-8; set --encoding (e.g. gb18030)")
        if "csv error" in first or "sniffing file" in first:
            detail = next((line.strip() for line in text.splitlines()[1:] if line.strip() and not line.startswith(("Original Line", " "))), "")
            return DataError(
                f"cannot read the data ({msg}{': ' + detail if detail else ''})",
                file=file,
                hint="check the delimiter and quoting of the file",
            )
        return UseropsError(f"internal error in the engine: {type(exc).__name__}: {msg} (rerun with --debug for the traceback)")

    def frame(self, sql: str, params: list | None = None) -> "pd.DataFrame":
        """Run a query into pandas, text columns as Arrow-backed strings (no per-cell Python objects)."""
        import pandas as pd
        import pyarrow as pa

        def run():
            # a fresh cursor (same database, so it sees the tables): its relation API streams
            # Arrow without the extra copy a DB-API result makes (~1 s on 3M customers). Arrow
            # tables are registered per connection, so the cursor gets them too (GBK, XLSX...)
            cursor = self.con.cursor()
            for name, arrow in self._arrow_tables.items():
                cursor.register(name, arrow)
            relation = cursor.sql(sql, params=params)
            return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()

        table = self._guarded(run, None)
        text = pd.StringDtype("pyarrow")
        return table.to_pandas(types_mapper=lambda t: text if pa.types.is_string(t) or pa.types.is_large_string(t) else None)

    def register(self, source: "RawSource") -> tuple[str, dict[str, str]]:
        """Register a raw source as a view; return its name and column types."""
        self._n_views += 1
        view = f"raw_{self._n_views}"
        info = source.info
        if source.csv_path is not None:
            names = "[" + ", ".join(parse.sql_str(h) for h in info.headers) + "]"
            opts = [
                f"delim = {parse.sql_str(info.delimiter or ',')}",
                "header = true",
                "all_varchar = true",
                "quote = '\"'",
                "escape = '\"'",
                f"names = {names}",
                "null_padding = true",
                f"compression = {parse.sql_str('gzip' if source.csv_compression == 'gzip' else 'none')}",
            ]
            self._csv_views[view] = (source.csv_path, opts)
            self._csv_sources[view] = source
            # a line break inside a quoted cell seen in the sample: the careful scanner at once
            # (the fast one would fail on it, after a pass over the file)
            self._csv_careful = self._csv_careful or source.quoted_newlines
            self._guarded(lambda: self._create_csv_view(view, source.csv_path, opts), info.name)
        else:
            self._arrow_tables[f"{view}_arrow"] = source.table
            self.con.register(f"{view}_arrow", source.table)
            self._sql(f"CREATE VIEW {view} AS SELECT * FROM {view}_arrow", file=info.name)
        rows = self._sql(f"DESCRIBE SELECT * FROM {view}", file=info.name).fetchall()
        return view, {r[0]: r[1] for r in rows}

    def _create_csv_view(self, view: str, path: str, opts: list[str]) -> None:
        if view not in self._csv_views:  # read by Python's csv module instead (see _guarded)
            return
        # DuckDB's parallel scanner refuses null_padding (kept for short rows) together with
        # quoted line breaks, and lines over 2 MB; valid CSV has both (Shopify notes, Taobao
        # 买家留言, pasted HTML), so those files are read by the single-threaded scanner
        careful = [f"parallel = false, max_line_size = {CAREFUL_MAX_LINE_BYTES}"] if self._csv_careful else []
        self.con.execute(
            f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM read_csv({parse.sql_str(parse.literal_path(path))}, {', '.join(opts + careful)})"
        )

    @contextlib.contextmanager
    def _file_order(self):
        """Queries that must see rows in file order (samples, line numbers)."""
        self.con.execute("SET preserve_insertion_order = true")
        try:
            yield
        finally:
            self.con.execute("SET preserve_insertion_order = false")

    @contextlib.contextmanager
    def _one_thread_more(self):
        """Run a hash aggregation that leads to a few rows per user (retention's activity
        and cohort cells) on one DuckDB thread more than there are cores. Measured on the
        2-core machine at 10M events: the activity group-by 1.74-1.99 s -> 1.54-1.58 s and the
        cohort query 0.76-0.89 s -> 0.69-0.72 s, with less CPU time; the funnel's window
        queries and segment's order roll-up gained nothing, so only these statements do it."""
        threads = int(self.con.execute("SELECT current_setting('threads')").fetchone()[0])
        self.con.execute(f"SET threads = {threads + 1}")
        try:
            yield
        finally:
            self.con.execute(f"SET threads = {threads}")

    def common_values(self, view: str, column: str, *, limit: int = 6, sample: int = 200_000, file: str | None = None) -> list[tuple[str, int]]:
        """The most common values of a raw column among its first ``sample`` rows (for messages)."""
        c = q(column)
        rows = self._sql(
            f"SELECT v, count(*) FROM (SELECT trim(CAST({c} AS VARCHAR)) AS v FROM {view} LIMIT {int(sample)}) "
            f"WHERE v IS NOT NULL AND v <> '' GROUP BY v ORDER BY count(*) DESC, v LIMIT {int(limit)}",
            file=file,
        ).fetchall()
        return [(str(v), int(n)) for v, n in rows]

    def count_rows(self, view: str, *, file: str | None = None) -> int:
        return self._sql(f"SELECT count(*) FROM {view}", file=file).fetchone()[0]

    # --- format detection on samples ----------------------------------------------
    def detect_timestamp_order(self, view: str, column: str, dtype: str, *, tz: str | None, dayfirst: bool | None, file: str | None) -> list[str]:
        """Choose which timestamp layouts to try, from a sample of the column. The UTC offsets
        written in the sample are added to ``time_offsets`` (for the note that says how they
        were read)."""
        if not parse.is_text(dtype):
            return []
        col = q(column)
        cands = parse.timestamp_candidates(col, tz)
        counts_sql = ", ".join(f"count({expr})" for expr in cands.values())
        sample_sql = f"SELECT {col} FROM {view} WHERE {col} IS NOT NULL AND trim({col}) <> '' LIMIT 2000"
        with self._file_order():
            row = self._sql(
                f"SELECT count(*), {counts_sql}, list(DISTINCT {parse.offset_of(col)}) FROM ({sample_sql})", file=file
            ).fetchone()
        total, counts, offsets = row[0], dict(zip(cands.keys(), row[1:-1])), row[-1]
        self.time_offsets.update(o.strip() for o in offsets or () if o)
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

    def detect_decimal(self, view: str, column: str, dtype: str, *, file: str | None) -> str:
        """The decimal convention of a money column, from a sample: ``","`` when its values
        show a decimal comma (``12,50 €``, ``1.234,00``), ``"."`` otherwise. A sample with both
        (``1,234.56`` and ``12,50``) is refused: either reading would be silently wrong."""
        if not parse.is_text(dtype):
            return "."
        col = q(column)
        sample_sql = f"SELECT trim({col}) AS v FROM {view} WHERE {col} IS NOT NULL AND trim({col}) <> '' LIMIT 2000"
        dot, comma = f"regexp_matches({parse.separators('v')}, {parse.sql_str(parse.DOT_DECIMAL)})", f"regexp_matches({parse.separators('v')}, {parse.sql_str(parse.COMMA_DECIMAL)})"
        with self._file_order():
            n_comma, n_dot, comma_example, dot_example = self._sql(
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

    # --- orders ----------------------------------------------------------------------
    def _parsed_select(self, spec: OrdersSpec, *, file: str | None, trace: str | None = None) -> str:
        """SELECT of canonical row columns plus ``reason``. With ``trace`` (a raw column), the
        rows also carry their position ``__rn`` (1 = first data row) and that column's raw text."""
        t = spec.types
        user = parse.id_expr(q(spec.user), t[spec.user])
        order_id = parse.id_expr(q(spec.order), t[spec.order]) if spec.order else "NULL::VARCHAR"
        ts_order = self.detect_timestamp_order(spec.view, spec.time, t[spec.time], tz=spec.tz, dayfirst=spec.dayfirst, file=file)
        ts = parse.timestamp_expr(q(spec.time), t[spec.time], tz=spec.tz, order=ts_order or None)

        money_col = spec.amount or spec.unit_price
        decimal = spec.decimal
        if decimal is None:
            decimal = self.detect_decimal(spec.view, money_col, t[money_col], file=file) if money_col else "."
        # every parse expression is evaluated once, in the inner query; the outer one derives
        # the failures from its results (a value fails when it was not blank and gave NULL)
        quantity = parse.money_expr(q(spec.quantity), t[spec.quantity], decimal) if spec.quantity else "NULL::DOUBLE"
        if spec.amount:
            money_inner = (
                f"{parse.money_expr(q(spec.amount), t[spec.amount], decimal)} AS __amount, "
                f"{parse.blank(q(spec.amount), t[spec.amount])} AS __amount_blank"
            )
            amount = "__amount"
            amount_failed = "(NOT __amount_blank AND __amount IS NULL)"
        elif spec.quantity and spec.unit_price:
            money_inner = (
                f"{parse.money_expr(q(spec.unit_price), t[spec.unit_price], decimal)} AS __price, "
                f"{parse.blank(q(spec.unit_price), t[spec.unit_price])} AS __price_blank, "
                f"{parse.blank(q(spec.quantity), t[spec.quantity])} AS __quantity_blank"
            )
            amount = "(quantity * __price)"
            amount_failed = "((NOT __quantity_blank AND quantity IS NULL) OR (NOT __price_blank AND __price IS NULL))"
        else:
            money_inner = "NULL::DOUBLE AS __amount"
            amount = "__amount"
            amount_failed = "false"
        category = parse.text_expr(q(spec.category), t[spec.category]) if spec.category else "NULL::VARCHAR"
        channel = parse.text_expr(q(spec.channel), t[spec.channel]) if spec.channel else "NULL::VARCHAR"
        currency = f"upper({parse.text_expr(q(spec.currency), t[spec.currency])})" if spec.currency else "NULL::VARCHAR"
        if spec.refunded:
            money_inner += (
                f", {parse.money_expr(q(spec.refunded), t[spec.refunded], decimal)} AS __refunded,"
                f" {parse.blank(q(spec.refunded), t[spec.refunded])} AS __refunded_blank"
            )
            refunded = "TRY_CAST(round(__refunded, 4) AS DECIMAL(18, 4))"
            amount_failed = f"({amount_failed} OR (NOT __refunded_blank AND __refunded IS NULL))"
        else:
            refunded = "NULL::DECIMAL(18, 4)"

        excluded = []
        if spec.status and spec.excluded_statuses:
            # compared lower-cased against every spelling (spaces, _ or -; WooCommerce "wc-"):
            # an IN list is ~7x cheaper than normalising each value with trim/regexp
            status = f"lower(CAST({q(spec.status)} AS VARCHAR))"
            listed = ", ".join(parse.sql_str(s) for s in status_spellings(spec.excluded_statuses))
            excluded.append(f"coalesce({status} IN ({listed}), false)")
        if spec.order and spec.cancel_invoice_prefix:
            excluded.append(f"coalesce(starts_with(upper(trim(CAST({q(spec.order)} AS VARCHAR))), {parse.sql_str(spec.cancel_invoice_prefix)}), false)")
        excluded_sql = " OR ".join(excluded) if excluded and not spec.include_refunds else "false"

        only_purchases = ""
        if spec.event and spec.purchase_events:
            listed = ", ".join(parse.sql_str(e) for e in spec.purchase_events)
            only_purchases = f" WHERE trim(CAST({q(spec.event)} AS VARCHAR)) IN ({listed})"
        kept_outer = "".join(f", {q(keep_column(c))}" for c in spec.keep)
        # contacts for a CRM or SMS upload: Excel's text guards (="0123", '138...) are unwrapped
        # as ids are, and a phone read as a number keeps no ".0"
        kept_inner = "".join(f", {parse.id_expr(q(c), t[c])} AS {q(keep_column(c))}" for c in spec.keep)
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
                    WHEN NOT ({plausible_times().format(col='order_ts')}) THEN {CODE[REASON_TIME_RANGE]}
                    WHEN {amount_failed} THEN {CODE[REASON_BAD_AMOUNT]}
                END AS UTINYINT) AS reason,
                customer_id, order_id, category, channel, order_ts,
                TRY_CAST(round({amount}, 4) AS DECIMAL(18, 4)) AS amount, quantity, {refunded} AS refunded, currency{kept_outer}
            FROM (
                SELECT {traced_inner}{user} AS customer_id, {order_id} AS order_id, {ts} AS order_ts,
                       {money_inner}, {quantity} AS quantity, {category} AS category,
                       {channel} AS channel, {currency} AS currency, ({excluded_sql}) AS excluded{kept_inner}
                FROM {source}{only_purchases}
            )
        """

    def build_orders(self, specs: list[OrdersSpec], *, files: list[str], category_lists: bool = False, order_detail: bool = True) -> None:
        """Parse every source and roll its rows into the ``orders`` table in one streaming pass.

        Rows are never materialised: each order keeps its purchase lines' aggregates and the
        count of its rows dropped for each row-level reason. ``category_lists`` also keeps each
        order's line categories (for top categories: ~+30% on this pass, much less than a
        second one); otherwise line-level questions re-read the rows via :meth:`_line_scope`.
        Without ``order_detail`` the orders carry no channel and quantity (NULL): a quarter
        less time for commands that only need dates and amounts (segment).
        """
        if not specs:
            raise DataError("no input")
        self.has_order_id = all(s.order for s in specs)
        self.has_amount = all(s.amount or (s.quantity and s.unit_price) for s in specs)
        order_total = any(s.amount_is_order_total for s in specs)
        self._parsed = " UNION ALL ".join(f"({self._parsed_select(s, file=f)})" for s, f in zip(specs, files))
        self._files = files
        file = files[0] if len(files) == 1 else None
        dropped = ", ".join(
            f"count(*) FILTER (WHERE reason = {code})::UINTEGER AS {q(DROP_COLUMNS[r])}" for r, code in CODE.items()
        )
        self.has_category_lists = bool(category_lists and self.has_order_id and all(s.category for s in specs))
        # refunds and currencies only when an export has them: two columns less per order else
        self.has_currency = any(s.currency for s in specs)
        with_refunds = any(s.refunded for s in specs)
        categories = ", list(category) FILTER (WHERE reason IS NULL AND category IS NOT NULL) AS categories" if self.has_category_lists else ""
        if self.has_order_id:
            ok = "FILTER (WHERE reason IS NULL)"
            detail = f"sum(quantity) {ok} AS quantity, min(channel) {ok} AS channel" if order_detail else "NULL::DOUBLE AS quantity, NULL::VARCHAR AS channel"
            amount = f"max(amount) {ok}" if order_total else f"sum(amount) {ok}"
            money_detail = (f", max(refunded) {ok} AS refunded" if with_refunds else "") + (f", min(currency) {ok} AS currency" if self.has_currency else "")
            # the refunded amount is an order-level figure (on the first line only, or repeated)
            orders = f"""
                SELECT customer_id, order_id, min(order_ts) {ok} AS order_ts,
                       TRY_CAST({amount} AS DECIMAL(18, 4)) AS amount, count(*) {ok} AS lines,
                       {detail}, NULL::VARCHAR AS category{money_detail},
                       {dropped}{categories}
                FROM ({self._parsed}) GROUP BY customer_id, order_id"""
        else:  # every row is an order
            per_row = ", ".join(
                f"coalesce(reason = {code}, false)::UINTEGER AS {q(DROP_COLUMNS[r])}" for r, code in CODE.items()
            )
            orders = f"""
                SELECT customer_id, order_id, CASE WHEN reason IS NULL THEN order_ts END AS order_ts, amount,
                       (reason IS NULL)::BIGINT AS lines, quantity, channel, category{', refunded' if with_refunds else ''}{', currency' if self.has_currency else ''}, {per_row}
                FROM ({self._parsed})"""
        include_refunds = all(s.include_refunds for s in specs)
        negative = "false" if include_refunds else "amount < 0"
        no_amount = "amount IS NULL" if self.has_amount else "false"
        excluded = q(DROP_COLUMNS[REASON_EXCLUDED_STATUS])
        self.has_refunds = with_refunds and not include_refunds
        # revenue is net of refunds where the export gives them (Shopify partially_refunded keeps
        # its full Total otherwise); --include-refunds keeps gross amounts, as it keeps refunds
        net = "TRY_CAST(amount - coalesce(refunded, 0) AS DECIMAL(18, 4))" if self.has_refunds else "amount"
        in_full = "refunded > 0 AND amount <= 0" if self.has_refunds else "false"
        keep_currency = next((s.keep_currency for s in specs if s.keep_currency), None)
        other_currency = f"currency IS DISTINCT FROM {parse.sql_str(keep_currency.upper())}" if keep_currency else "false"
        # A status on any line applies to the whole order (Shopify fills it on the first line only).
        self._sql(
            f"""CREATE OR REPLACE TABLE orders AS
            SELECT *, CASE WHEN lines = 0 THEN '{ROWS_DROPPED}'
                           WHEN {excluded} > 0 THEN '{REASON_EXCLUDED_STATUS}'
                           WHEN {other_currency} THEN '{REASON_OTHER_CURRENCY}'
                           WHEN {no_amount} THEN '{REASON_NO_AMOUNT}'
                           WHEN {in_full} THEN '{REASON_REFUNDED_IN_FULL}'
                           WHEN {negative} THEN '{REASON_NEGATIVE}' END AS reason
            FROM (SELECT * REPLACE ({net} AS amount) FROM ({orders}))""",
            file=file,
        )

    def _line_scope(self, window: Window) -> str:
        """The purchase lines in the window, re-read from the raw rows (a second pass)."""
        cond = [f"order_ts < TIMESTAMP '{window.end.isoformat(sep=' ')}'"]
        if window.start is not None:
            cond.append(f"order_ts >= TIMESTAMP '{window.start.isoformat(sep=' ')}'")
        return f"SELECT * FROM ({self._parsed}) WHERE reason IS NULL AND " + " AND ".join(cond)

    # --- events -------------------------------------------------------------------------
    def build_events(
        self, specs: list[EventsSpec], *, files: list[str], activity: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
        grain: tuple[str, str] = ("day", "monday"),
    ) -> None:
        """Parse every source into the ``events`` table (user_id, event, event_ts, session_id,
        the requested properties, and ``reason``: NULL when usable, else a code of EVENT_REASONS).

        With ``activity = (start events, return events)`` the table instead holds one row per user,
        day and reason — ``event_ts`` the day, ``first_ts``/``last_ts`` its first and last event,
        ``s``/``r`` whether it had a start/return event, ``n`` the rows — which is all retention
        needs, at a fraction of the memory. ``grain = (period, week_start)`` makes those rows
        per week/month... instead of per day: retention by that period then skips a regrouping,
        but only for an as-of date on or after the last event (see :meth:`retention_cells`)."""
        selects = []
        for spec, file in zip(specs, files):
            t = spec.types
            order = self.detect_timestamp_order(spec.view, spec.time, t[spec.time], tz=spec.tz, dayfirst=spec.dayfirst, file=file)
            ts = parse.timestamp_expr(q(spec.time), t[spec.time], tz=spec.tz, order=order or None)
            session = parse.id_expr(q(spec.session), t[spec.session]) if spec.session else "NULL::VARCHAR"
            props_inner = "".join(
                f", {parse.text_expr(q(header), t[header]) if header else 'NULL::VARCHAR'} AS {q(property_column(name))}"
                for name, header in spec.properties
            )
            props_outer = "".join(f", {q(property_column(name))}" for name, _ in spec.properties)
            selects.append(
                f"""SELECT CAST(CASE WHEN user_id IS NULL THEN 1 WHEN event IS NULL THEN 2 WHEN event_ts IS NULL THEN 3
                                     WHEN NOT ({plausible_times().format(col='event_ts')}) THEN 4 END AS UTINYINT) AS reason,
                       user_id, event, event_ts, session_id{props_outer}
                FROM (SELECT {parse.id_expr(q(spec.user), t[spec.user], clean=activity is None)} AS user_id,
                             {parse.text_expr(q(spec.event), t[spec.event])} AS event, {ts} AS event_ts,
                             {session} AS session_id{props_inner}
                      FROM {spec.view})"""
            )
        rows = " UNION ALL ".join(f"({sel})" for sel in selects)
        self.events_activity = activity
        # the zone the event times were converted to: funnel windows are measured in absolute
        # time through it (a 14-day window across a DST change is 14 x 24 hours, as in PostHog)
        zones = {spec.tz for spec in specs}
        self.events_tz = zones.pop() if len(zones) == 1 else None
        self.events_grain = tuple(grain) if activity is not None else None
        if activity is not None:
            # whether the row had a start / return event (any event: true, no aggregate needed)
            had = lambda names: ("bool_or(event IN (" + ", ".join(parse.sql_str(e) for e in names) + "))") if names else "true"  # noqa: E731
            rows = f"""SELECT reason, user_id, CAST({period_start_sql('event_ts', *grain)} AS TIMESTAMP) AS event_ts,
                              min(event_ts) AS first_ts, max(event_ts) AS last_ts,
                              {had(activity[0])} AS s, {had(activity[1])} AS r, count(*) AS n
                       FROM ({rows}) GROUP BY reason, user_id, 3"""
        file = files[0] if len(files) == 1 else None
        if activity is not None:
            with self._one_thread_more():
                self._sql(f"CREATE OR REPLACE TABLE events AS {rows}", file=file)
            self._clean_activity_ids()
        else:
            self._sql(f"CREATE OR REPLACE TABLE events AS {rows}", file=file)

    def _clean_activity_ids(self) -> None:
        """Activity rows are grouped on the raw (only blanked) user ids: a few million keys
        instead of every event row. Unwrap and trim the ids that need it here, then merge
        the rows that now share a user (a padded id that trims to blank becomes a row
        without user id); the result is the table the cleaned rows would have given."""
        user_id = "user_id"
        dirty = self.con.execute(f"SELECT count(*) FROM events WHERE {user_id} IS NOT NULL AND NOT ({parse.id_is_clean(user_id)})").fetchone()[0]
        if not dirty:
            return
        self._sql(
            f"""CREATE OR REPLACE TABLE events AS
            SELECT CAST(CASE WHEN id IS NULL THEN 1 ELSE reason END AS UTINYINT) AS reason, id AS user_id, event_ts,
                   min(first_ts) AS first_ts, max(last_ts) AS last_ts, bool_or(s) AS s, bool_or(r) AS r, CAST(sum(n) AS BIGINT) AS n
            FROM (SELECT *, {parse.id_expr(user_id, "VARCHAR")} AS id FROM events)
            GROUP BY 1, 2, 3"""
        )

    @property
    def _event_rows(self) -> str:
        """How many raw rows a row of ``events`` stands for."""
        return "sum(n)" if getattr(self, "events_activity", None) is not None else "count(*)"

    def event_drop_counts(self) -> dict[str, int]:
        rows = self.con.execute(
            f"SELECT reason, {self._event_rows} FROM events WHERE reason IS NOT NULL GROUP BY reason ORDER BY reason"
        ).fetchall()
        return {EVENT_REASONS[code - 1]: int(n) for code, n in rows}

    def event_bounds(self) -> tuple[dt.datetime | None, dt.datetime | None, int, int]:
        """First and last usable event time, events read, usable events."""
        rows = self._event_rows
        ok = rows.replace("(*)", "(*) FILTER (WHERE reason IS NULL)") if rows == "count(*)" else "sum(n) FILTER (WHERE reason IS NULL)"
        first, last = ("first_ts", "last_ts") if rows != "count(*)" else ("event_ts", "event_ts")
        lo, hi, n, good = self.con.execute(
            f"SELECT min({first}) FILTER (WHERE reason IS NULL), max({last}) FILTER (WHERE reason IS NULL), "
            f"{rows}, {ok} FROM events"
        ).fetchone()
        return lo, hi, int(n or 0), int(good or 0)

    def event_user_counts(self, window: Window, limit: int = 10) -> list[tuple[str, int]]:
        """The most widespread event names in the window: (event, distinct users), most first."""
        if self._event_rows != "count(*)":
            raise DataError("event names are not kept in daily-activity mode")
        cond = f"reason IS NULL AND event_ts < TIMESTAMP '{window.end.isoformat(sep=' ')}'"
        if window.start is not None:
            cond += f" AND event_ts >= TIMESTAMP '{window.start.isoformat(sep=' ')}'"
        rows = self.con.execute(
            f"SELECT event, count(DISTINCT user_id) AS n FROM events WHERE {cond} GROUP BY event ORDER BY n DESC, event LIMIT {int(limit)}"
        ).fetchall()
        return [(str(e), int(n)) for e, n in rows]

    def purchase_paths(self, window: Window, purchase: tuple[str, ...], limit: int = 10) -> tuple[int, list[tuple[str, int, float]]]:
        """How users move to a purchase: the users with a ``purchase`` event in the window and,
        per other event, how many of them did it before their first purchase and the median
        seconds from its first time to that purchase (most users first)."""
        if self._event_rows != "count(*)":
            raise DataError("event names are not kept in daily-activity mode")
        def scope(alias: str) -> str:
            cond = f"{alias}.reason IS NULL AND {alias}.event_ts < TIMESTAMP '{window.end.isoformat(sep=' ')}'"
            if window.start is not None:
                cond += f" AND {alias}.event_ts >= TIMESTAMP '{window.start.isoformat(sep=' ')}'"
            return cond

        listed = ", ".join(parse.sql_str(e) for e in purchase)
        buyers = f"SELECT user_id, min(event_ts) AS pt FROM events b WHERE {scope('b')} AND event IN ({listed}) GROUP BY user_id"
        n = int(self.con.execute(f"SELECT count(*) FROM ({buyers})").fetchone()[0])
        rows = self.con.execute(
            f"""WITH p AS ({buyers}),
                f AS (SELECT e.user_id, e.event, min(e.event_ts) AS ft FROM events e JOIN p ON e.user_id = p.user_id
                      WHERE {scope('e')} AND e.event NOT IN ({listed}) AND e.event_ts <= p.pt
                      GROUP BY e.user_id, e.event)
            SELECT f.event, count(*) AS users, median(epoch(p.pt - f.ft)) AS lead
            FROM f JOIN p ON f.user_id = p.user_id GROUP BY f.event ORDER BY users DESC, f.event LIMIT {int(limit)}"""
        ).fetchall()
        return n, [(str(e), int(u), float(lead)) for e, u, lead in rows]

    def events_present(self, names: list[str]) -> set[str]:
        """Which of these event names some usable event has (a scan of the events table)."""
        if not names:
            return set()
        if self._event_rows != "count(*)":
            raise DataError("event names are not kept in daily-activity mode")
        listed = ", ".join(parse.sql_str(n) for n in names)
        rows = self.con.execute(f"SELECT DISTINCT event FROM events WHERE reason IS NULL AND event IN ({listed})").fetchall()
        return {str(r[0]) for r in rows}

    def events_have_times(self) -> bool:
        """Whether some usable event has a time of day (an export of dates only has none).
        Stops at the first such event: instant on ordinary data."""
        if self._event_rows != "count(*)":
            raise DataError("event times are not kept in daily-activity mode")
        return self.con.execute(
            "SELECT 1 FROM events WHERE reason IS NULL AND CAST(event_ts AS TIME) <> TIME '00:00:00' LIMIT 1"
        ).fetchone() is not None

    def events_after(self, window: Window) -> int:
        # activity rows: those wholly after the end (exact for days; periods never straddle it)
        first = "first_ts" if self._event_rows != "count(*)" else "event_ts"
        n = self.con.execute(f"SELECT {self._event_rows} FROM events WHERE reason IS NULL AND {first} >= ?", [window.end]).fetchone()[0]
        return int(n or 0)

    def events_frame(self, window: Window) -> "pd.DataFrame":
        """The usable events in the window, sorted by user and time (for small data and tests)."""
        cond = [f"event_ts < TIMESTAMP '{window.end.isoformat(sep=' ')}'"]
        if window.start is not None:
            cond.append(f"event_ts >= TIMESTAMP '{window.start.isoformat(sep=' ')}'")
        return self.frame(
            f"SELECT * EXCLUDE (reason) FROM events WHERE reason IS NULL AND {' AND '.join(cond)} ORDER BY user_id, event_ts, event"
        )

    def funnel_users(
        self,
        window: Window,
        steps: tuple[tuple[str, ...], ...],
        window_s: int,
        order: str,
        *,
        by: str | None = None,
        trend: str | None = None,
        session: bool = False,
        exclusions: tuple[tuple[tuple[str, ...], int, int], ...] = (),
    ) -> "pd.DataFrame":
        """One row per user (per period with ``trend``): the furthest step of their best attempt
        and its step times ``t1``..``tn`` (see :mod:`userops.analytics.funnel` for the rules).

        Ordered funnels chain ASOF joins (the earliest step-k event after the step-(k-1) one);
        strict ones join the user's very next event; unordered ones look for each step from
        every attempt start."""
        n = len(steps)
        if getattr(self, "events_activity", None) is not None:
            raise DataError("the events were loaded as daily activity (for retention); funnels need every event")
        cond = [f"event_ts < TIMESTAMP '{window.end.isoformat(sep=' ')}'"]
        if window.start is not None:
            cond.append(f"event_ts >= TIMESTAMP '{window.start.isoformat(sep=' ')}'")
        group = f", {q(property_column(by))} AS grp" if by else ""
        # the unit of the funnel: a user, or with ``session`` a user's session (user \x1f session)
        unit = "concat_ws(chr(31), user_id, coalesce(session_id, ''))" if session else "user_id"
        # each event carries a bit mask of the steps (and exclusions) it belongs to instead of its
        # name; all events are numbered (strict needs the gaps), only step events are kept.
        # Events at the same time are numbered in funnel order (the earliest step they can fill
        # first, then exclusions, then other events; then by name), so a later step may happen
        # at the same time as the one before it, as in PostHog, and a date-only export is read
        # as "in funnel order within a day" rather than alphabetically
        names = lambda step: "event IN (" + ", ".join(parse.sql_str(e) for e in step) + ")"  # noqa: E731
        sets = [step for step in steps] + [x[0] for x in exclusions]
        mask = " + ".join(f"(({names(step)})::INTEGER << {bit})" for bit, step in enumerate(sets))
        first_set = "CASE " + " ".join(f"WHEN (m & {1 << bit}) <> 0 THEN {bit}" for bit in range(len(sets))) + f" ELSE {len(sets)} END"
        keep = "" if order == "strict" else "WHERE m <> 0"
        events = (
            f"SELECT * FROM (SELECT user_id, m, ts, row_number() OVER (PARTITION BY user_id ORDER BY ts, {first_set}, event) AS seq"
            f"{', grp' if by else ''} FROM (SELECT {unit} AS user_id, {mask} AS m, event_ts AS ts, event{group} "
            f"FROM events WHERE reason IS NULL AND {' AND '.join(cond)})) {keep}"
        )
        has_bit = lambda bit: f"(m & {1 << bit}) <> 0"  # noqa: E731
        limit = f"INTERVAL {int(window_s)} SECOND"
        tz = self.events_tz
        if tz and tz.upper() != "UTC":
            # wall-clock times in a zone with DST: compare the instants they stand for
            instant = lambda col: f"timezone({parse.sql_str(tz)}, {col})"  # noqa: E731
        else:
            instant = lambda col: col  # noqa: E731
        in_window = lambda later, start: f"{instant(later)} <= {instant(start)} + {limit}"  # noqa: E731
        ctes = [f"e AS MATERIALIZED ({events})"]
        carry = ", grp" if by else ""
        for k in range(1, n + 1):
            ctes.append(f"s{k} AS (SELECT user_id, ts, seq{carry} FROM e WHERE {has_bit(k - 1)})")
        if order in ("ordered", "strict"):
            ctes.append(f"a1 AS (SELECT user_id, ts AS t1, seq AS q1{carry} FROM s1 WHERE {window.starts_before('ts')})")
            for k in range(2, n + 1):
                if order == "ordered":
                    join = f"ASOF LEFT JOIN s{k} s ON a.user_id = s.user_id AND s.seq > a.q{k - 1}"
                else:
                    join = f"LEFT JOIN s{k} s ON a.user_id = s.user_id AND s.seq = a.q{k - 1} + 1"
                # an attempt that missed step k-1 cannot reach step k (older DuckDB ASOF joins
                # match a NULL inequality key, so say it explicitly)
                reached = f"a.q{k - 1} IS NOT NULL AND {in_window('s.ts', 'a.t1')}"
                ctes.append(
                    f"a{k} AS (SELECT a.*, CASE WHEN {reached} THEN s.ts END AS t{k}, "
                    f"CASE WHEN {reached} THEN s.seq END AS q{k} FROM a{k - 1} a {join})"
                )
            times = ", ".join(f"t{k}" for k in range(1, n + 1))
            furthest = " + ".join(f"(t{k} IS NOT NULL)::INT" for k in range(1, n + 1))
            # an attempt with an excluded event after step FROM and before step TO (or, when TO
            # was not reached, before the end of its window) is excluded; a person whose
            # furthest attempt is excluded leaves the funnel (below)
            dropped = []
            for j, (_, first, last) in enumerate(exclusions):
                ctes.append(f"x{j} AS (SELECT user_id, ts, seq FROM e WHERE {has_bit(n + j)})")
                dropped.append(
                    f"EXISTS (SELECT 1 FROM x{j} x WHERE x.user_id = a.user_id AND a.q{first} IS NOT NULL AND x.seq > a.q{first} "
                    f"AND CASE WHEN a.q{last} IS NOT NULL THEN x.seq < a.q{last} ELSE {in_window('x.ts', 'a.t1')} END)"
                )
            excluded = f"({' OR '.join(dropped)})" if dropped else "false"
            attempts = f"SELECT user_id{carry}, {furthest} AS furthest, {excluded} AS excluded, {times}, q1 FROM a{n} a"
        else:
            ctes.append(f"a0 AS (SELECT user_id, ts AS t0, seq AS q0{carry} FROM e WHERE (m & {(1 << n) - 1}) <> 0 AND {window.starts_before('ts')})")
            if exclusions:
                # an excluded event resets an attempt's progress: its steps count up to the
                # first excluded event after its start (within its window); an attempt it cuts
                # short counts for nothing, and later attempts start afresh (PostHog)
                bits = sum(1 << (n + j) for j in range(len(exclusions)))
                ctes.append(f"x AS (SELECT user_id, ts, seq FROM e WHERE (m & {bits}) <> 0)")
                ctes.append(
                    f"a0x AS (SELECT a.*, CASE WHEN x.seq IS NOT NULL AND {in_window('x.ts', 'a.t0')} THEN x.seq END AS qx "
                    f"FROM a0 a ASOF LEFT JOIN x ON a.user_id = x.user_id AND x.seq > a.q0)"
                )
                cut = " AND (a.qx IS NULL OR s.seq < a.qx)"
            else:
                ctes.append("a0x AS (SELECT *, NULL::BIGINT AS qx FROM a0)")
                cut = ""
            found = []
            # steps naming the same events (``view,view,cart``) need as many distinct events:
            # the first from the attempt start on, the next ones the class's following events
            classes: dict[frozenset, list[int]] = {}
            for k, step in enumerate(steps, 1):
                classes.setdefault(frozenset(step), []).append(k)
            for k in range(1, n + 1):
                prev = "a0x" if k == 1 else f"u{k - 1}"
                same = classes[frozenset(steps[k - 1])]
                within = f"CASE WHEN {in_window('s.ts', 'a.t0')}{cut} THEN s.ts END AS f{k}"
                if len(same) == 1:
                    ctes.append(f"u{k} AS (SELECT a.*, {within} FROM {prev} a ASOF LEFT JOIN s{k} s ON a.user_id = s.user_id AND s.seq >= a.q0)")
                elif k == same[0]:  # the class's events numbered per user; the first one's number carried
                    ctes.append(f"c{k} AS (SELECT user_id, ts, seq, row_number() OVER (PARTITION BY user_id ORDER BY seq) AS r FROM s{k})")
                    ctes.append(
                        f"u{k} AS (SELECT a.*, {within}, s.r AS r{k} "
                        f"FROM {prev} a ASOF LEFT JOIN c{k} s ON a.user_id = s.user_id AND s.seq >= a.q0)"
                    )
                else:
                    first = same[0]
                    ctes.append(
                        f"u{k} AS (SELECT a.*, {within} "
                        f"FROM {prev} a LEFT JOIN c{first} s ON a.user_id = s.user_id AND s.r = a.r{first} + {same.index(k)})"
                    )
                found.append(f"f{k}")
            sorted_times = f"list_sort([{', '.join(found)}], 'ASC', 'NULLS LAST')"
            reached = " + ".join(f"({f} IS NOT NULL)::INT" for f in found)
            ctes.append(f"sorted AS (SELECT user_id{carry}, q0 AS q1, qx, {sorted_times} AS ts_sorted, {reached} AS furthest FROM u{n})")
            times = ", ".join(f"ts_sorted[{k}] AS t{k}" for k in range(1, n + 1))
            # cut short by an excluded event before it completed: the attempt is void
            attempts = f"SELECT user_id{carry}, furthest, false AS excluded, {times}, q1 FROM sorted WHERE qx IS NULL OR furthest = {n}"
        period = f", date_trunc('{PERIOD_UNITS[trend]}', t1) AS period" if trend else ""
        partition = "user_id, period" if trend else "user_id"
        out_times = ", ".join(f"t{k}" for k in range(1, n + 1))
        first_touch = ""
        if by:
            # first-touch attribution, as PostHog: the first non-empty value of the property
            # among the person's funnel events, whichever attempt counts
            ctes.append("touch AS (SELECT user_id, arg_min(grp, seq) FILTER (WHERE grp IS NOT NULL) AS first_grp FROM e WHERE m <> 0 GROUP BY user_id)")
            first_touch = " LEFT JOIN touch USING (user_id)"
        out_group = ", first_grp AS \"group\"" if by else ""
        # the person's furthest attempt (a clean one before an excluded one that gets as far);
        # when that is excluded, the person is not in the funnel at all, step 1 included
        sql = f"""
            WITH {', '.join(ctes)},
            attempts AS (SELECT *{period} FROM ({attempts})),
            ranked AS (SELECT *, row_number() OVER (PARTITION BY {partition} ORDER BY furthest DESC, excluded, t1, q1) AS rank FROM attempts)
            SELECT {"split_part(user_id, chr(31), 1) AS user_id, split_part(user_id, chr(31), 2) AS session_id" if session else "user_id"}
                   {out_group}{', period' if trend else ''}, furthest, {out_times}
            FROM ranked{first_touch} WHERE rank = 1 AND NOT excluded ORDER BY 1{', 2' if session else ''}{', period' if trend else ''}"""
        return self.frame(sql)

    def repeat_users(self, window: Window, n: int, window_s: int | None = None) -> "pd.DataFrame":
        """The repeat-purchase funnel: per customer whose first purchase ever lies in the window,
        the times of their 1st..n-th purchases (within ``window_s`` of the first, if given)."""
        end = f"TIMESTAMP '{window.end.isoformat(sep=' ')}'"
        since = f"WHERE {window.starts_before('t1')}" + (f" AND t1 >= TIMESTAMP '{window.start.isoformat(sep=' ')}'" if window.start else "")
        within = lambda k: f"t{k}" if window_s is None else f"CASE WHEN t{k} <= t1 + INTERVAL {int(window_s)} SECOND THEN t{k} END"  # noqa: E731
        picks = ", ".join(f"max(order_ts) FILTER (WHERE k = {k}) AS t{k}" for k in range(1, n + 1))
        times = ", ".join(f"{within(k)} AS t{k}" for k in range(1, n + 1))
        furthest = " + ".join(f"({within(k)} IS NOT NULL)::INT" for k in range(1, n + 1))
        return self.frame(
            f"""WITH o AS (SELECT customer_id, order_ts, row_number() OVER (PARTITION BY customer_id ORDER BY order_ts, order_id) AS k
                           FROM orders WHERE reason IS NULL AND order_ts < {end}),
                p AS (SELECT customer_id AS user_id, {picks} FROM o WHERE k <= {int(n)} GROUP BY customer_id)
            SELECT user_id, {furthest} AS furthest, {times} FROM p {since} ORDER BY user_id"""
        )

    def retention_cells(
        self,
        window: Window,
        *,
        source: str = "orders",
        period: str = "month",
        week_start: str = "monday",
        cohort: str = "first",
        mode: str = "classic",
        start_event: tuple[str, ...] = (),
        return_event: tuple[str, ...] = (),
    ) -> tuple["pd.DataFrame", "pd.DataFrame"]:
        """Cohort sizes (cohort, size, revenue0) and cells (cohort, k, users, revenue) — for
        ``rolling`` one row per cohort and *last* return period k. See analytics/retention.py."""
        end = f"TIMESTAMP '{window.end.isoformat(sep=' ')}'"
        in_list = lambda names: "event IN (" + ", ".join(parse.sql_str(e) for e in names) + ")"  # noqa: E731
        grain = getattr(self, "events_grain", None)
        if source == "orders":
            activity = f"SELECT customer_id AS user_id, order_ts AS ts, true AS s, true AS r, amount AS revenue FROM orders WHERE reason IS NULL AND order_ts < {end}"
        elif getattr(self, "events_activity", None) is not None:
            if (tuple(start_event), tuple(return_event)) != tuple(tuple(x) for x in self.events_activity):
                raise DataError("the events were loaded as daily activity for other start/return events; load them again")
            if grain[0] != "day":
                # rows are whole periods: right only for this period and when none runs past the end
                spans_end = self.con.execute(f"SELECT count(*) FROM events WHERE reason IS NULL AND last_ts >= {end}").fetchone()[0]
                if grain != (period, week_start) or spans_end:
                    raise DataError(f"the events were loaded as activity per {grain[0]}; load them per day for this as-of date or period")
            activity = f"SELECT user_id, event_ts AS ts, s, r, NULL::DOUBLE AS revenue FROM events WHERE reason IS NULL AND event_ts < {end}"
        else:
            s_cond = in_list(start_event) if start_event else "true"
            r_cond = in_list(return_event) if return_event else "true"
            activity = f"SELECT user_id, event_ts AS ts, {s_cond} AS s, {r_cond} AS r, NULL::DOUBLE AS revenue FROM events WHERE reason IS NULL AND event_ts < {end}"
        trunc = period_start_sql("ts", period, week_start)
        k = {"day": "date_diff('day', c, a.p)", "week": "date_diff('day', c, a.p) // 7", "month": "date_diff('month', c, a.p)"}[period]
        since = f"AND {window.starts_before('c')}"
        if window.start is not None:
            since += f" AND c >= DATE '{window.start.date().isoformat()}'"
        if cohort == "first":
            cohorts = f"SELECT * FROM (SELECT user_id, min(p) FILTER (WHERE started) AS c FROM act GROUP BY user_id) WHERE c IS NOT NULL {since}"
        else:
            cohorts = f"SELECT user_id, p AS c FROM act WHERE started {since.replace('AND c', 'AND p')}"
        # activity per user and period, computed once; each row joined to the user's cohort(s)
        # (a join: ~2x faster than a window over the activity)
        if source == "events" and grain is not None and grain[0] != "day":  # one row per user and period already
            act = f"act AS (SELECT user_id, CAST(ts AS DATE) AS p, s AS started, r AS returned, revenue FROM ({activity}))"
        else:
            act = f"""act AS MATERIALIZED (SELECT user_id, {trunc} AS p, bool_or(s) AS started, bool_or(r) AS returned,
                                                sum(revenue) AS revenue FROM ({activity}) GROUP BY 1, 2)"""
        base = f"""WITH {act},
            a AS (SELECT cohorts.c, act.* FROM ({cohorts}) cohorts JOIN act ON act.user_id = cohorts.user_id AND act.p >= cohorts.c)"""
        if mode == "classic":
            # one pass: at k = 0 (p = c) every member counts (the cohort size), later only returns
            counted = "p = c OR returned"
            rows = f"""{base}
                SELECT c AS cohort, {k} AS k, count(*) FILTER (WHERE {counted}) AS users,
                       CAST(sum(revenue) FILTER (WHERE {counted}) AS DOUBLE) AS revenue
                FROM a GROUP BY 1, 2 ORDER BY 1, 2"""
        else:
            rows = f"""{base},
            per_user AS MATERIALIZED (
                SELECT c, user_id, max({k}) FILTER (WHERE p > c AND returned) AS last_k,
                       sum(revenue) FILTER (WHERE p = c) AS revenue0
                FROM a GROUP BY 1, 2)
            SELECT c AS cohort, 0 AS k, count(*) AS users, CAST(sum(revenue0) AS DOUBLE) AS revenue FROM per_user GROUP BY 1
            UNION ALL
            SELECT c, last_k, count(*), NULL FROM per_user WHERE last_k IS NOT NULL GROUP BY 1, 2
            ORDER BY 1, 2"""
        with self._one_thread_more():
            table = self.frame(rows)
        first = table["k"] == 0
        sizes = table[first].rename(columns={"users": "size", "revenue": "revenue0"})[["cohort", "size", "revenue0"]].reset_index(drop=True)
        cells = table[~first & (table["users"] > 0)].reset_index(drop=True)
        if mode != "classic":
            cells = cells.drop(columns="revenue")
        return sizes, cells

    def rows_read(self) -> int:
        total = " + ".join(f"sum({q(c)})" for c in DROP_COLUMNS.values())
        return int(self.con.execute(f"SELECT coalesce(sum(lines) + {total}, 0) FROM orders").fetchone()[0])

    def drop_counts(self) -> dict[str, int]:
        """Raw rows not used, by reason (row-level reasons and order-level ones, in lines)."""
        row_level = " UNION ALL ".join(f"SELECT {parse.sql_str(r)} AS reason, sum({q(c)}) AS n FROM orders" for r, c in DROP_COLUMNS.items())
        rows = self.con.execute(
            f"""SELECT reason, sum(n)::BIGINT FROM (
                   {row_level}
                   UNION ALL
                   SELECT reason, sum(lines) AS n FROM orders WHERE reason IS NOT NULL AND reason <> '{ROWS_DROPPED}' GROUP BY reason)
               GROUP BY reason HAVING sum(n) > 0 ORDER BY sum(n) DESC, reason"""
        ).fetchall()
        return {r: int(n) for r, n in rows}

    def refund_totals(self) -> tuple[int, float]:
        """Purchases whose amount was netted of a refund, and the amount taken off."""
        if not self.has_refunds:
            return 0, 0.0
        n, total = self.con.execute("SELECT count(*), coalesce(sum(refunded), 0) FROM orders WHERE reason IS NULL AND refunded > 0").fetchone()
        return int(n), float(total)

    def currencies(self) -> list[tuple[str | None, int]]:
        """The currencies of the purchases (NULL: none given) and how many orders each, most first."""
        if not self.has_currency:
            return []
        return [
            (c, int(n))
            for c, n in self.con.execute(
                "SELECT currency, count(*) FROM orders WHERE reason IS NULL GROUP BY currency ORDER BY count(*) DESC, currency NULLS LAST"
            ).fetchall()
        ]

    def first_dropped_line(self, spec: OrdersSpec, reason: str, *, file: str | None) -> tuple[int, str, str | None] | None:
        """The data line number (header = line 1), the raw column at fault and its value in the
        first row dropped for ``reason``.

        A second pass over the raw rows, used only to explain a ``--strict`` failure.
        """
        money = spec.amount or spec.unit_price
        column = {REASON_BAD_TIME: spec.time, REASON_TIME_RANGE: spec.time, REASON_BAD_AMOUNT: money, REASON_NO_AMOUNT: money}.get(reason, spec.user)
        parsed = self._parsed_select(spec, file=file, trace=column)
        if reason in CODE:
            sql = f"SELECT __rn, __raw FROM ({parsed}) WHERE reason = {CODE[reason]} ORDER BY __rn LIMIT 1"
        else:  # an order-level reason (no amount): the first line of the first such order
            sql = (
                f"SELECT p.__rn, p.__raw FROM ({parsed}) p JOIN orders o ON o.customer_id = p.customer_id "
                f"AND o.order_id IS NOT DISTINCT FROM p.order_id WHERE o.reason = {parse.sql_str(reason)} ORDER BY p.__rn LIMIT 1"
            )
        with self._file_order():  # row_number() follows the file
            row = self._sql(sql, file=file).fetchone()
        if row is None:
            return None
        return int(row[0]) + 1, column, None if row[1] is None else str(row[1])

    def time_bounds(self) -> tuple[dt.datetime | None, dt.datetime | None, int]:
        """First and last purchase time and the number of purchases, over all valid orders."""
        lo, hi, n = self.con.execute("SELECT min(order_ts), max(order_ts), count(*) FROM orders WHERE reason IS NULL").fetchone()
        return lo, hi, int(n)

    def count_in(self, window: Window) -> int:
        """Purchases inside the window."""
        return int(self.con.execute(f"SELECT count(*) FROM ({self._scope(window)})").fetchone()[0])

    def count_after(self, window: Window) -> int:
        return int(self.con.execute("SELECT count(*) FROM orders WHERE reason IS NULL AND order_ts >= ?", [window.end]).fetchone()[0])

    # --- aggregates -------------------------------------------------------------------
    def _scope(self, window: Window) -> str:
        """The purchases (orders) in the window."""
        cond = ["reason IS NULL", f"order_ts < TIMESTAMP '{window.end.isoformat(sep=' ')}'"]
        if window.start is not None:
            cond.append(f"order_ts >= TIMESTAMP '{window.start.isoformat(sep=' ')}'")
        return "SELECT * FROM orders WHERE " + " AND ".join(cond)

    def customer_aggregates(self, window: Window, *, period: str | None = "month", detail: bool = True) -> "pd.DataFrame":
        """One row per customer in the window: first/last order, orders, revenue, active periods
        (unless ``period`` is None), and (``detail``) top category by order lines and top
        channel by orders; ties alphabetical.

        Category counts come from the lines of purchases in the window (lines of orders excluded
        at order level — refund status on another line, negative total — do not count)."""
        scope = self._scope(window)
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
            return self.frame(f"WITH scope AS ({scope}) {base} ORDER BY customer_id")
        if self.has_category_lists:
            lines = "SELECT customer_id, category, count(*) AS n FROM (SELECT customer_id, unnest(categories) AS category FROM scope) GROUP BY ALL"
        elif self.has_order_id:
            lines = f"""
                SELECT l.customer_id, l.category, count(*) AS n
                FROM ({self._line_scope(window)}) l
                ANTI JOIN (SELECT customer_id, order_id FROM orders WHERE reason IS NOT NULL AND lines > 0) x
                       ON l.customer_id = x.customer_id AND l.order_id = x.order_id
                WHERE l.category IS NOT NULL GROUP BY ALL"""
        else:
            lines = "SELECT customer_id, category, count(*) AS n FROM scope WHERE category IS NOT NULL GROUP BY ALL"
        sql = f"""
            WITH scope AS ({scope}),
            base AS ({base}),
            cat AS ({lines}),
            top_cat AS (SELECT customer_id, first(category ORDER BY n DESC, category) AS top_category FROM cat GROUP BY 1),
            ch AS (SELECT customer_id, channel, count(*) AS n FROM scope WHERE channel IS NOT NULL GROUP BY ALL),
            top_ch AS (SELECT customer_id, first(channel ORDER BY n DESC, channel) AS top_channel FROM ch GROUP BY 1)
            SELECT base.*, top_cat.top_category, top_ch.top_channel
            FROM base LEFT JOIN top_cat USING (customer_id) LEFT JOIN top_ch USING (customer_id)
            ORDER BY customer_id"""
        return self.frame(sql)

    def customer_attributes(self, window: Window, columns: tuple[str, ...]) -> "pd.DataFrame":
        """Per customer, the latest non-blank value of each --keep column in the window."""
        scope = self._line_scope(window)
        picks = ", ".join(
            f"arg_max({q(keep_column(c))}, order_ts) FILTER (WHERE {q(keep_column(c))} IS NOT NULL AND {q(keep_column(c))} <> '') AS {q(f'kept:{c}')}"
            for c in columns
        )
        frame = self.frame(f"SELECT customer_id, {picks} FROM ({scope}) GROUP BY customer_id ORDER BY customer_id")
        frame.columns = ["customer_id", *columns]  # a kept column may itself be called customer_id
        return frame

    def lifecycle_counts(self, window: Window, *, period: str = "month") -> "pd.DataFrame":
        """Per period: customers new (first purchase ever), returning (active this and the
        previous period), resurrected (active now, not in the previous period, not new) and
        dormant (active in the previous period, not now). Periods run from the window's first
        to the as-of date's period, empty ones included."""
        unit = PERIOD_UNITS[period]
        step = "INTERVAL 7 DAY" if unit == "week" else f"INTERVAL 1 {unit.upper()}" if unit != "quarter" else "INTERVAL 3 MONTH"
        end = window.end.isoformat(sep=" ")
        history = f"SELECT customer_id, order_ts FROM orders WHERE reason IS NULL AND order_ts < TIMESTAMP '{end}'"
        last_p = f"date_trunc('{unit}', TIMESTAMP '{end}' - INTERVAL 1 MICROSECOND)"
        first_p = (
            f"date_trunc('{unit}', TIMESTAMP '{window.start.isoformat(sep=' ')}')" if window.start else
            f"(SELECT date_trunc('{unit}', min(order_ts)) FROM ({history}))"
        )
        sql = f"""
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
        return self.frame(sql)

    def purchase_day_summary(self, window: Window) -> "pd.DataFrame":
        """Per customer in the window: repeat purchase days (distinct days − 1), first and last
        purchase day, and the mean value of the repeat days (same-day orders are one purchase,
        the first day is left out: the inputs of BG/NBD and Gamma–Gamma)."""
        return self.frame(
            f"""WITH d AS (SELECT customer_id, CAST(order_ts AS DATE) AS day, sum(amount) AS value
                           FROM ({self._scope(window)}) GROUP BY 1, 2),
                 k AS (SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY day) AS n FROM d)
            SELECT customer_id, count(*) - 1 AS repeat_days, min(day) AS first_day, max(day) AS last_day,
                   CAST(avg(value) FILTER (WHERE n > 1) AS DOUBLE) AS repeat_mean_value
            FROM k GROUP BY customer_id ORDER BY customer_id"""
        )

    def gap_stats(self, window: Window, quantiles: tuple[float, ...] = (0.5, 0.9)) -> list[float | None]:
        """Quantiles of the days between consecutive orders of the same customer (fractional days)."""
        qs = ", ".join(f"quantile_cont(gap, {x})" for x in quantiles)
        sql = f"""
            WITH scope AS ({self._scope(window)})
            SELECT {qs} FROM (
                SELECT epoch(order_ts - lag(order_ts) OVER (PARTITION BY customer_id ORDER BY order_ts)) / 86400.0 AS gap
                FROM scope) WHERE gap IS NOT NULL"""
        return list(self.con.execute(sql).fetchone())

    def period_aggregates(self, window: Window, *, period: str = "month") -> "pd.DataFrame":
        """Per period: new customers (first purchase ever in it), active customers, orders, revenue."""
        unit = PERIOD_UNITS[period]
        scope = self._scope(window)
        # new = first purchase ever (not first within --from) falls in the window and the period
        since = f"HAVING min(order_ts) >= TIMESTAMP '{window.start.isoformat(sep=' ')}'" if window.start else ""
        firsts = f"""
            SELECT date_trunc('{unit}', min(order_ts)) AS period, customer_id
            FROM orders WHERE reason IS NULL AND order_ts < TIMESTAMP '{window.end.isoformat(sep=' ')}'
            GROUP BY customer_id {since}"""
        sql = f"""
            WITH scope AS ({scope}),
            act AS (SELECT date_trunc('{unit}', order_ts) AS period, count(DISTINCT customer_id) AS active_customers,
                           count(*) AS orders, CAST(sum(amount) AS DOUBLE) AS revenue FROM scope GROUP BY 1),
            new AS (SELECT period, count(*) AS new_customers FROM ({firsts}) GROUP BY 1)
            SELECT act.period, coalesce(new.new_customers, 0) AS new_customers, act.active_customers,
                   act.orders, act.revenue
            FROM act LEFT JOIN new USING (period) ORDER BY act.period"""
        return self.frame(sql)

    def churn_features(self, window: Window, cutoff: dt.datetime, horizon_days: int, *, label: bool = True) -> "pd.DataFrame":
        """Risk-model features per customer from the purchases before ``cutoff`` (a midnight:
        the snapshot is as of the day before it; from the window's start on), and with
        ``label`` whether they bought nothing in [cutoff, cutoff + horizon).

        recency/tenure in days as of the snapshot day; orders and revenue overall, in the last horizon
        and in the horizon before it (the trend); mean gap; largest order; first-order channel
        and how many channels were used."""
        c = f"TIMESTAMP '{cutoff.isoformat(sep=' ')}'"
        h = f"INTERVAL {int(horizon_days)} DAY"
        since = f" AND order_ts >= TIMESTAMP '{window.start.isoformat(sep=' ')}'" if window.start else ""
        # amounts stay DECIMAL until summed: a parallel sum of doubles can differ in the last
        # bit from run to run, and the model would then differ too
        history = f"SELECT customer_id, order_id, order_ts, amount, channel FROM orders WHERE reason IS NULL AND order_ts < {c}{since}"
        labelled = ""
        if label:
            labelled = f""", (customer_id NOT IN (SELECT customer_id FROM orders
                                WHERE reason IS NULL AND order_ts >= {c} AND order_ts < {c} + {h})) AS churned"""
        return self.frame(
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

    def first_order_attributes(self, window: Window) -> "pd.DataFrame":
        """Per customer in the window, what is known at acquisition: the first order's value,
        channel and (with line categories) its most common category (ties alphabetical)."""
        scope = self._scope(window)
        firsts = f"""SELECT customer_id, first(order_id ORDER BY order_ts, order_id) AS first_order_id,
                            first(CAST(amount AS DOUBLE) ORDER BY order_ts, order_id) AS first_order_value,
                            first(channel ORDER BY order_ts, order_id) AS first_channel,
                            first(category ORDER BY order_ts, order_id) AS first_category
                     FROM ({scope}) GROUP BY customer_id"""
        if not self.has_category_lists:  # one row per order: its category; else none known
            return self.frame(f"SELECT customer_id, first_order_value, first_channel, first_category FROM ({firsts}) ORDER BY customer_id")
        return self.frame(
            f"""WITH firsts AS ({firsts}),
            cats AS (SELECT o.customer_id, unnest(o.categories) AS category
                     FROM orders o JOIN firsts f ON o.customer_id = f.customer_id AND o.order_id = f.first_order_id),
            top AS (SELECT customer_id, first(category ORDER BY n DESC, category) AS first_category
                    FROM (SELECT customer_id, category, count(*) AS n FROM cats GROUP BY ALL) GROUP BY 1)
            SELECT firsts.customer_id, first_order_value, first_channel, top.first_category
            FROM firsts LEFT JOIN top USING (customer_id) ORDER BY customer_id"""
        )

    def purchase_days_after(self, window: Window, end: dt.datetime) -> int:
        """Distinct (customer, day) purchases in [window end, ``end``) by the customers who had
        bought in the window: what BG/NBD forecasts (customers acquired later are not in it)."""
        return int(
            self.con.execute(
                "SELECT count(*) FROM (SELECT DISTINCT customer_id, CAST(order_ts AS DATE) FROM orders "
                f"WHERE reason IS NULL AND order_ts >= ? AND order_ts < ? AND customer_id IN (SELECT customer_id FROM ({self._scope(window)})))",
                [window.end, end],
            ).fetchone()[0]
        )

    def orders_frame(self, window: Window) -> "pd.DataFrame":
        """The canonical orders in the window (for library users and small analyses)."""
        return self.frame(
            f"SELECT customer_id, order_id, order_ts, CAST(amount AS DOUBLE) AS amount, lines, quantity, channel, category "
            f"FROM ({self._scope(window)}) ORDER BY customer_id, order_ts, order_id"
        )

    def time_range(self, view: str, column: str, dtype: str, *, tz: str | None = None, dayfirst: bool | None = None, file: str | None = None):
        """First and last parsed timestamp of a raw column, and how many non-blank values failed."""
        order = self.detect_timestamp_order(view, column, dtype, tz=tz, dayfirst=dayfirst, file=file)
        ts = parse.timestamp_expr(q(column), dtype, tz=tz, order=order or None)
        lo, hi, bad = self._sql(
            f"SELECT min({ts}), max({ts}), count(*) FILTER (WHERE {parse.failed(q(column), dtype, ts)}) FROM {view}", file=file
        ).fetchone()
        return lo, hi, int(bad)

    def column_summary(self, view: str, types: dict[str, str], *, file: str | None) -> "pd.DataFrame":
        """Per raw column, in file order: type, non-blank count, distinct count (approximate)
        and the first non-blank value among the first 1,000 rows."""
        import pandas as pd

        stats = []
        for col, dtype in types.items():
            c = q(col)
            stats.append(f"count(*) FILTER (WHERE NOT {parse.blank(c, dtype)})")
            stats.append(f"approx_count_distinct({c})")
        counts = self._sql(f"SELECT {', '.join(stats)} FROM {view}", file=file).fetchone()
        with self._file_order():
            head = self._sql(f"SELECT * FROM {view} LIMIT 1000", file=file).fetchall()
        rows = []
        for i, (col, dtype) in enumerate(types.items()):
            example = next((v for v in (r[i] for r in head) if v is not None and str(v).strip() != ""), None)
            rows.append((col, dtype, int(counts[2 * i]), int(counts[2 * i + 1]), None if example is None else str(example)))
        return pd.DataFrame(rows, columns=["column", "type", "non_blank", "distinct_approx", "example"])
