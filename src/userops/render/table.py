"""DataFrame -> rich Table, for a terminal only (pipes get CSV from io/writers.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from userops.render import formats

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from rich.table import Table

MAX_ROWS = 50


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
    """Short labels (dates, segment names) are never cut; long text may be."""
    return min(max([len(v) for v in values] + [0]), 16)


def rich_table(frame: "pd.DataFrame", *, title: str | None = None, max_rows: int = MAX_ROWS) -> "Table":
    """A rich Table; a one-row frame is shown vertically (metric | value)."""
    from rich.table import Table

    kinds = {c: _kind(frame[c]) for c in frame.columns}
    fmts = {c: formats.formatter_for(c, kinds[c]) for c in frame.columns}
    if len(frame) == 1 and len(frame.columns) > 3:
        table = Table(title=title, show_header=True, header_style="bold")
        table.add_column("metric")
        table.add_column("value", justify="right")
        row = frame.iloc[0]
        for c in frame.columns:
            table.add_row(c, fmts[c](row[c]))
        return table
    table = Table(title=title, show_header=True, header_style="bold")
    rows = [[fmts[c](v) for c, v in zip(frame.columns, row)] for row in frame.head(max_rows).itertuples(index=False, name=None)]
    for i, c in enumerate(frame.columns):
        if kinds[c] in ("int", "float", "datetime", "bool"):  # numbers and dates are never cut
            width = max([len(str(c))] + [len(r[i]) for r in rows])
            table.add_column(c, justify="right" if kinds[c] in ("int", "float") else "left", no_wrap=True, min_width=width)
        else:  # long text (actions) is cut with an ellipsis rather than wrapped into a tower
            width = _min_text_width([r[i] for r in rows])
            table.add_column(c, overflow="ellipsis", no_wrap=True, max_width=max(48, width), min_width=max(width, len(str(c)) if len(str(c)) <= 16 else 0))
    for r in rows:
        table.add_row(*r)
    return table
