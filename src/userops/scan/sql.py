"""The SQL vocabulary of the scan: quoting, literals, and the vectorised parsers as SQL
expressions the engine evaluates over whole columns.

Nothing here loops over rows in Python. Each builder takes a quoted column reference and
the column's engine type and returns an SQL expression; a value counts as *failed* when
the input is non-blank and the expression yields NULL (see :func:`failed`).

Supported: ids as exact text (Excel-protected ``="012345"`` / ``'012345`` unwrapped,
integral numbers without ``.0``); money strings (``$1,234.50``, ``¥1,234.50``, ``(12.50)``,
``1.234,50`` with decimal comma); timestamps (ISO with or without offset, ``YYYYMMDD``,
``MM/DD/YYYY`` or ``DD/MM/YYYY``, ``DD.MM.YYYY``, ``2024年3月5日``, epoch seconds and
milliseconds, month names).
"""

from __future__ import annotations

import datetime as dt

NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")

MDY_FORMATS = ["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%m/%d/%y %H:%M", "%m/%d/%y", "%m-%d-%Y"]
DMY_FORMATS = ["%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d/%m/%y %H:%M", "%d/%m/%y", "%d-%m-%Y"]
OTHER_FORMATS = [
    "%Y%m%d",
    "%Y%m%d%H%M%S",
    "%Y%m%d %H:%M:%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
]
TZ_SUFFIX = r"\d:\d\d(:\d\d(\.\d+)?)?\s*([Zz]|[+-]\d\d(:?\d\d)?)$"
#: The offset itself, with the spaces before it (what is cut to keep the wall-clock time).
OFFSET_SUFFIX = r"\s*([Zz]|[+-]\d\d(:?\d\d)?)$"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal_path(path: str) -> str:
    """A file path for DuckDB's readers, which expand glob patterns: ``[``, ``*`` and ``?``
    are bracketed so the path names the one file it spells (``glob_[1].csv`` is that file,
    not ``glob_1.csv``; ``star_*.csv`` is not every match)."""
    return "".join(f"[{c}]" if c in "[*?" else c for c in path)


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _base_type(dtype: str) -> str:
    return dtype.upper().split("(")[0].strip()


def is_text(dtype: str) -> bool:
    return _base_type(dtype) in ("VARCHAR", "TEXT", "STRING")


def blank(col: str, dtype: str) -> str:
    """SQL true where the raw value is missing or blank."""
    if is_text(dtype):
        # trim (spaces only) runs only where the value starts with one: it copies the string
        return f"({col} IS NULL OR {col} = '' OR (ascii({col}) = 32 AND trim({col}) = ''))"
    return f"({col} IS NULL)"


def failed(col: str, dtype: str, parsed: str) -> str:
    """SQL true where a non-blank value did not parse."""
    return f"(NOT {blank(col, dtype)} AND ({parsed}) IS NULL)"


def id_expr(col: str, dtype: str, *, clean: bool = True) -> str:
    """Ids as exact text; blank -> NULL. With ``clean=False`` text ids are only blanked, not
    unwrapped and trimmed: for a caller that cleans its (far fewer) grouped ids afterwards
    with :func:`id_expr` where :func:`id_is_clean` is false."""
    base = _base_type(dtype)
    if is_text(dtype):
        if not clean:
            return f"NULLIF({col}, '')"
        unwrapped = (
            f"CASE WHEN starts_with({col}, '=\"') AND ends_with({col}, '\"') THEN {col}[3:-2] "
            f"WHEN starts_with({col}, '''') THEN {col}[2:] ELSE {col} END"
        )
        full = f"NULLIF(trim({unwrapped}), '')"
        # most ids need none of that: skip the unwrapping and trimming (which copies every
        # string) unless the first or last character asks for it (~0.6 s on 10M rows)
        return f"CASE WHEN {col} = '' THEN NULL WHEN {id_is_clean(col)} THEN {col} ELSE {full} END"
    if base in FLOAT_TYPES or base.startswith("DECIMAL"):
        return (
            f"CASE WHEN {col} = floor({col}) AND abs({col}) < 1e18 THEN CAST(CAST({col} AS HUGEINT) AS VARCHAR) "
            f"ELSE CAST({col} AS VARCHAR) END"
        )
    return f"CAST({col} AS VARCHAR)"


def id_is_clean(col: str) -> str:
    """SQL true where a non-blank text id is already what :func:`id_expr` makes of it: its
    first and last characters (tested by code point) are not space, tab, LF or CR, and the
    first is not ``=`` or ``'`` (a spreadsheet's text guard). The last one is read from
    ``reverse()``, cheaper than ``right(.., 1)``; it keeps a grapheme cluster whole, but no
    cluster ends in one of those characters without starting with it (CR LF starts with CR)."""
    return f"ascii({col}) NOT IN (32, 9, 10, 13, 61, 39) AND ascii(reverse({col})) NOT IN (32, 9, 10, 13)"


def text_expr(col: str, dtype: str) -> str:
    """A label (category, channel) as written; empty -> NULL. (Not trimmed: on millions of rows
    trimming every label costs more than the rare padded label is worth.)"""
    if is_text(dtype):
        return f"NULLIF({col}, '')"
    return f"CAST({col} AS VARCHAR)"


#: In a money string with only its digits and separators left: signs of a decimal point
#: (``1,234.56``, ``12.5``, ``1,234,567``) and of a decimal comma (``1.234,56``, ``12,5``,
#: ``1.234.567``). Values with neither (``100``, ``1,234``) fit both conventions.
DOT_DECIMAL = r"\.\d{1,2}$|,\d{3}\.|,\d{3},\d{3}"
COMMA_DECIMAL = r",\d{1,2}$|\.\d{3},|\.\d{3}\.\d{3}"


def separators(col: str) -> str:
    """SQL: the digits and ``,`` ``.`` of a money string (what the convention is read from)."""
    return f"regexp_replace({col}, '[^0-9,.]', '', 'g')"


def money_expr(col: str, dtype: str, decimal: str = ".") -> str:
    """Money / numbers as DOUBLE from ``$1,234.50``, ``¥1,234.50``, ``(12.50)``, ``1.234,50``,
    ``12,50 €``. A value written in the other decimal convention (``12,50`` when the column
    uses a decimal point) is NULL — counted as unparseable, never read as 1250."""
    if not is_text(dtype):
        return f"CAST({col} AS DOUBLE)"
    cleaned = f"regexp_replace({col}, '[^0-9,.()\\-]', '', 'g')"
    if decimal == ",":
        normalised = f"replace(replace({cleaned}, '.', ''), ',', '.')"
        other = DOT_DECIMAL
    else:
        normalised = f"replace({cleaned}, ',', '')"
        other = COMMA_DECIMAL
    signed = f"replace(replace({normalised}, '(', '-'), ')', '')"
    slow = f"CASE WHEN NOT regexp_matches({separators(col)}, {sql_str(other)}) THEN TRY_CAST({signed} AS DOUBLE) END"
    if decimal == ",":
        return slow
    # NaN and Infinity cast to doubles but are no amounts: NULL, so they count as unparseable
    fast = f"CASE WHEN isfinite(TRY_CAST({col} AS DOUBLE)) THEN TRY_CAST({col} AS DOUBLE) END"
    return f"COALESCE({fast}, {slow})"


def timestamp_candidates(col: str, tz: str | None) -> dict[str, str]:
    """Named SQL expressions for every supported timestamp layout (text input).

    ``tz`` None keeps a timestamp with an offset at the wall-clock time written in the export
    (``2024-01-01 03:47:01 +0800`` is 03:47 on 1 January, the shop's own day); a zone name
    converts it to that zone. Epoch numbers have no wall time of their own: UTC unless ``tz``."""
    tz_lit = sql_str(tz or "UTC")
    def fmt(formats: list[str]) -> str:
        return "[" + ", ".join(sql_str(f) for f in formats) + "]"

    trimmed = f"trim({col})"
    if tz is None:
        with_offset = f"TRY_CAST(regexp_replace({trimmed}, {sql_str(OFFSET_SUFFIX)}, '') AS TIMESTAMP)"
    else:
        with_offset = f"timezone({tz_lit}, TRY_CAST(regexp_replace({trimmed}, '\\s*([+-]\\d\\d):?(\\d\\d)$', '\\1:\\2') AS TIMESTAMPTZ))"
    return {
        "iso": f"TRY_CAST({col} AS TIMESTAMP)",  # the cast skips surrounding spaces itself
        "iso_tz": f"CASE WHEN regexp_matches({trimmed}, {sql_str(TZ_SUFFIX)}) THEN {with_offset} END",
        "mdy": f"try_strptime({trimmed}, {fmt(MDY_FORMATS)})",
        "dmy": f"try_strptime({trimmed}, {fmt(DMY_FORMATS)})",
        "other": f"try_strptime({trimmed}, {fmt(OTHER_FORMATS)})",
        "epoch": (
            f"CASE WHEN regexp_full_match({trimmed}, '\\d{{10}}(\\.\\d+)?') "
            f"THEN timezone({tz_lit}, to_timestamp(TRY_CAST({trimmed} AS DOUBLE))) "
            f"WHEN regexp_full_match({trimmed}, '\\d{{13}}') "
            f"THEN timezone({tz_lit}, to_timestamp(TRY_CAST({trimmed} AS DOUBLE) / 1000)) END"
        ),
    }


def offset_of(col: str) -> str:
    """SQL: the UTC offset written at the end of a timestamp (``+0800``, ``Z``), else NULL."""
    return f"CASE WHEN regexp_matches(trim({col}), {sql_str(TZ_SUFFIX)}) THEN regexp_extract(trim({col}), {sql_str(OFFSET_SUFFIX)}) END"


def timestamp_expr(col: str, dtype: str, *, tz: str | None = None, order: list[str] | None = None) -> str:
    """A TIMESTAMP (naive wall-clock in ``tz``; None: as written in the export, see
    :func:`timestamp_candidates`) expression.

    ``order`` lists candidate names (see :func:`timestamp_candidates`) to try, in order;
    the engine picks it from a sample (offsets first if the sample has them; day-first or
    month-first for slashed dates, never both).
    """
    base = _base_type(dtype)
    if base == "TIMESTAMP WITH TIME ZONE" or base == "TIMESTAMPTZ" or dtype.upper() == "TIMESTAMP WITH TIME ZONE":
        return f"timezone({sql_str(tz or 'UTC')}, {col})"
    if base.startswith("TIMESTAMP") or base == "DATE":
        return f"CAST({col} AS TIMESTAMP)"
    if base in NUMERIC_TYPES or base in FLOAT_TYPES:
        return (
            f"timezone({sql_str(tz or 'UTC')}, to_timestamp(CASE WHEN {col} > 1e11 THEN {col} / 1000.0 ELSE {col} END))"
        )
    cands = timestamp_candidates(col, tz)
    names = order or ["iso", "mdy", "other", "epoch"]
    parts = [cands[n] for n in names]
    if len(parts) == 1:
        return parts[0]
    # the fallbacks sit inside a CASE: DuckDB's common-subexpression pass would otherwise
    # hoist their shared trim() and trim every value of the column (~0.35 s of CPU per 10M
    # rows), not just the few the first layout cannot read; it leaves CASE branches alone
    rest = parts[1] if len(parts) == 2 else "COALESCE(" + ", ".join(parts[1:]) + ")"
    return f"COALESCE({parts[0]}, CASE WHEN {col} IS NOT NULL THEN {rest} END)"


def timestamp(value: dt.datetime | dt.date) -> str:
    """A TIMESTAMP literal (our own window bounds and cutoffs, never user text)."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return f"TIMESTAMP '{value.isoformat(sep=' ')}'"


def in_list(column: str, values: tuple[str, ...] | list[str]) -> str:
    """``column IN ('a', 'b')`` with the values quoted."""
    return f"{column} IN (" + ", ".join(sql_str(v) for v in values) + ")"


#: Timestamps before this are typos or placeholders (1900-01-01, epoch 0), not orders or events.
EARLIEST_PLAUSIBLE = dt.datetime(1990, 1, 1)


def plausible(column: str) -> str:
    """SQL condition: a time no earlier than 1990 and no later than tomorrow (a ``2099`` typo
    would make it the default as-of date and every customer churned; ``9999-12-31`` has no
    next day)."""
    latest = dt.datetime.combine(dt.date.today() + dt.timedelta(days=2), dt.time())
    return f"{column} >= {timestamp(EARLIEST_PLAUSIBLE)} AND {column} < {timestamp(latest)}"


def keep_column(name: str) -> str:
    """Name of a --keep column among the parsed rows."""
    return f"keep:{name}"


def property_column(name: str) -> str:
    """Name of an event property (a raw column such as ``channel``) in the ``events`` table."""
    return f"prop:{name}"


def status_spellings(statuses: tuple[str, ...]) -> list[str]:
    """Lower-case spellings of each status: ``pending payment`` also as ``pending_payment``,
    ``pending-payment``, ``wc-pending-payment``... (sorted, for stable SQL)."""
    out: set[str] = set()
    for status in statuses:
        base = status.lower().strip()
        for spelled in (base, base.replace(" ", "_"), base.replace(" ", "-"), base.replace(" ", "")):
            out.update((spelled, f"wc-{spelled}"))
    return sorted(out)
