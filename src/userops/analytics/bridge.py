"""The revenue bridge (``userops profile --bridge``): each period's revenue against the
previous period's, split by where the change came from.

For each customer and period (with ``by="channel"``: each customer and order channel):

* **new**: the customer's first purchase ever is in the period — all its revenue;
* **returning**: they bought in the previous period too — the difference of their revenue,
  as **expansion** (more than before) or **contraction** (less; negative);
* **reactivated**: they bought before, not in the previous period — all its revenue;
* **lost**: they bought in the previous period, nothing now — minus that revenue.

The parts add up to the change exactly: revenue − previous revenue = new + reactivated +
expansion + contraction + lost (sums of decimals in the engine; to the cent when amounts are
in cents). With ``by``, a customer who moves from one channel to another is lost to the one
and reactivated (or new) in the other. Periods run from the window's first (or the data's)
to the as-of date's; ``complete`` is false for a period not over by the as-of date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from userops.errors import DataError, UsageError
from userops.glossary import say

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

PERIODS = ("week", "month", "quarter")
BY_CHOICES = ("channel", "category")
PARTS = ("new", "reactivated", "expansion", "contraction", "lost")
COLUMNS = [
    "period", "channel", "revenue", "previous_revenue", "change", *PARTS,
    "new_customers", "reactivated_customers", "returning_customers", "lost_customers", "complete",
]
COUNTS = ("new_customers", "reactivated_customers", "returning_customers", "lost_customers")


@dataclass(frozen=True)
class BridgeResult:
    table: "pd.DataFrame"  # COLUMNS (without channel unless by)
    period: str
    notes: list = field(default_factory=list)


def bridge_table(cells: "pd.DataFrame", *, as_of: dt.date, period: str, start: dt.date | None = None, by: str | None = None) -> "pd.DataFrame":
    """The table from the scan's rows: every period from the first (or ``start``'s) to the
    as-of date's, per group, empty periods as zeros; money to the cent."""
    import pandas as pd

    from userops.analytics.periods import is_complete, next_period_start, period_start

    if cells.empty:
        raise DataError("no purchases to bridge")
    cells = cells.assign(period=[p.date() if hasattr(p, "date") else p for p in cells["period"]])
    last = period_start(as_of, period)
    first = min(cells["period"])
    if start is not None:
        first = max(first, period_start(start, period))
    periods = []
    day = first
    while day <= last:
        periods.append(day)
        day = next_period_start(day, period)
    parts = []
    for grp, rows in cells.groupby("grp", sort=True):
        rows = rows.set_index("period").reindex(periods)
        rows["grp"] = grp
        parts.append(rows.fillna({c: 0 for c in ("revenue", "previous_revenue", *PARTS, *COUNTS)}).reset_index())
    table = pd.concat(parts, ignore_index=True)
    money = ["revenue", "previous_revenue", *PARTS]
    table[money] = table[money].astype("float64").round(2)
    table["change"] = (table["revenue"] - table["previous_revenue"]).round(2)
    for column in COUNTS:
        table[column] = table[column].astype("int64")
    table["complete"] = [is_complete(p, period, as_of) for p in table["period"]]
    table["channel"] = table["grp"] if by else None
    table = table[COLUMNS]
    if not by:
        return table.drop(columns="channel")
    return table.rename(columns={"channel": by})


def revenue_bridge(loaded, window, *, period: str = "month", week_start: str = "monday", by: str | None = None) -> BridgeResult:
    """Run the scan on loaded orders and build the table."""
    from userops.scan.bridge import bridge_cells

    if period not in PERIODS:
        raise UsageError(f"--bridge needs --period week, month or quarter (got {period!r})")
    if by is not None and by not in BY_CHOICES:
        raise UsageError(f"--by must be one of {', '.join(BY_CHOICES)} (got {by!r})")
    if not loaded.facts.has_amount:
        raise DataError("the revenue bridge needs order amounts: the export has no amount column", hint="set --amount-col")
    notes: list[str] = []
    if by == "category":
        if any(spec.amount_is_order_total for spec in loaded.specs):
            raise DataError(
                "--by category needs line amounts: the amount column is the order's total", hint="use --by channel, or an export with line totals",
            )
        if loaded.facts.has_refunds:
            notes.append(say("bridge_category_gross"))
    cells = bridge_cells(loaded, window, period=period, week_start=week_start, by=by)
    start = window.start.date() if window.start is not None else None
    return BridgeResult(bridge_table(cells, as_of=window.as_of, period=period, start=start, by=by), period, notes)
