"""DataFrame -> rich Table, for a terminal only (pipes get CSV from io/writers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from userops.render import formats

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping

    import pandas as pd
    from rich.table import Table

MAX_ROWS = 50
TEXT_MAX_WIDTH = 48  # long text (actions) is cut with an ellipsis beyond this
NEVER_CUT = ("int", "float", "datetime", "bool")  # column kinds shown whole: numbers and dates


def _kind(series: "pd.Series") -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "float"
    return "text"


def _min_text_width(values: list[str]) -> int:
    """Short labels (dates, segment names) are never cut; long text may be (terminal cells:
    a Chinese character takes two)."""
    from rich.cells import cell_len

    return min(max([cell_len(v) for v in values] + [0]), 16)


def wrap_header(name: str, width: int) -> str:
    """``conversion_from_previous`` as lines of at most ``width`` characters (more for a longer
    single word), broken after underscores: the name stays the one CSV and --columns use."""
    words = [w + "_" for w in name.split("_")]
    words[-1] = words[-1][:-1]
    lines = [""]
    for word in words:
        if lines[-1] and len(lines[-1]) + len(word) > width:
            lines.append("")
        lines[-1] += word
    return "\n".join(lines)


def _header_width(header: str) -> int:
    """Terminal cells of a (possibly wrapped) header's longest line."""
    from rich.cells import cell_len

    return max(cell_len(line) for line in header.split("\n"))


@dataclass
class TerminalTable:
    """What a terminal shows of a frame: the rich Table and the columns left out of it."""

    table: "Table"
    hidden: list[str]


def rich_table(
    frame: "pd.DataFrame", *, title: str | None = None, max_rows: int = MAX_ROWS, width: int | None = None,
    display: "Mapping[str, str] | None" = None, headers: "Mapping[str, str] | None" = None,
) -> TerminalTable:
    """A rich Table; a one-row frame is shown vertically (metric | value).

    Cells are formatted by column name (units in names, :func:`formats.formatter_for`);
    ``display`` names the formatter for columns whose name does not say it (``{"period_1":
    "percent"}`` for a matrix of rates).

    Numbers and dates are never cut. When the table is wider than ``width`` (the terminal),
    headers longer than their column's values are broken after underscores; columns that
    still do not fit are left out from the right and named in ``hidden`` (rich would
    otherwise crop the right edge or squeeze a column to nothing, without a word)."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text  # data as plain text: '[promo] banner' is not rich markup

    kinds = {c: _kind(frame[c]) for c in frame.columns}
    header_of = lambda c: (headers or {}).get(str(c), str(c))  # noqa: E731 (the header --headers asks for)
    fmts = {c: formats.formatter_for(c, kinds[c]) for c in frame.columns}
    fmts.update({c: getattr(formats, name) for c, name in (display or {}).items() if c in fmts})
    if len(frame) == 1 and len(frame.columns) > 3:
        table = Table(title=title, show_header=True, header_style="bold")
        table.add_column("metric")
        table.add_column("value", justify="right")
        row = frame.iloc[0]
        for c in frame.columns:
            table.add_row(Text(formats.printable(header_of(c))), Text(formats.printable(fmts[c](row[c]))))
        return TerminalTable(table, [])
    rows = [[formats.printable(fmts[c](v)) for c, v in zip(frame.columns, row)] for row in frame.head(max_rows).itertuples(index=False, name=None)]
    values = [max([cell_len(r[i]) for r in rows] + [1]) for i in range(len(frame.columns))]
    text_cap = lambda c, w: w if kinds[c] in NEVER_CUT else min(w, TEXT_MAX_WIDTH)  # noqa: E731
    natural = 1 + sum(3 + text_cap(c, max(cell_len(header_of(c)), v)) for c, v in zip(frame.columns, values))  # cells, padding, rules
    wrap = width is not None and natural > width
    columns: list[tuple[str, str, int, dict[str, Any]]] = []  # (name, header, min width, add_column keywords)
    for i, c in enumerate(frame.columns):
        name = formats.printable(header_of(c))
        if kinds[c] in NEVER_CUT:
            header = wrap_header(name, max(values[i], 10)) if wrap else name
            least = max(values[i], _header_width(header))
            keywords: dict[str, Any] = dict(justify="right" if kinds[c] in ("int", "float") else "left", no_wrap=True, min_width=least)
        else:  # long text (actions) is cut with an ellipsis rather than wrapped into a tower
            text_width = _min_text_width([r[i] for r in rows])
            header = wrap_header(name, max(text_width, 10)) if wrap and cell_len(name) > 16 else name
            longest = _header_width(header)
            least = max(text_width, longest if longest <= 16 else 0)
            keywords = dict(overflow="ellipsis", no_wrap=True, max_width=max(TEXT_MAX_WIDTH, text_width, longest), min_width=least)
        columns.append((name, header, least, keywords))
    shown = len(columns)
    if width is not None:
        used = 1
        for shown, (_, _, least, _) in enumerate(columns):
            used += least + 3
            if used > width and shown > 0:
                break
        else:
            shown = len(columns)
        # the room left over goes to the text columns, left to right, so that rich never has
        # to squeeze (it would crop the right edge, or shrink a column to nothing)
        spare = width - 1 - sum(least + 3 for _, _, least, _ in columns[:shown])
        for i, (_, header, least, keywords) in enumerate(columns[:shown]):
            if "max_width" in keywords:
                wanted = min(keywords["max_width"], max(values[i], _header_width(header)))
                keywords["max_width"] = max(least, min(wanted, least + spare))
                spare -= keywords["max_width"] - least
    table = Table(title=title, show_header=True, header_style="bold")
    for _, header, _, keywords in columns[:shown]:
        table.add_column(Text(header), **keywords)
    for r in rows:
        table.add_row(*(Text(v) for v in r[:shown]))
    return TerminalTable(table, [name for name, *_ in columns[shown:]])
