"""Cohort retention (SPEC §4 retention).

* Cohort = the period (``day|week|month``; weeks start on Monday or ``--week-start sunday``)
  of a user's first start event (default: first order, or first event), or with
  ``cohort="recurring"`` every period in which they did the start event. Cohorts start
  inside the window.
* Cell (c, 0) is the cohort size; cell (c, k ≥ 1) counts distinct users of cohort c with a
  return event in period c+k (``classic``) or in c+k or later (``rolling``).
* A cell whose period had not ended by the as-of date is *incomplete*: blank, never 0, and
  left out of the average curve, which weights cohorts by size over the cohorts observable
  at each k (sum of users / sum of sizes).
* For orders, revenue per cohort and period (classic) is available too; in ``rolling`` mode
  only period 0 has revenue (a return "in k or later" has no single period), the rest blank.
* The ``average`` row of the matrix: for rates, the size-weighted curve; for counts, the mean
  cohort over the cohorts observable at each period (not the total).

The scan (:func:`userops.scan.retention.retention_cells`) returns per (cohort, k) counts;
:func:`retention_frames` builds the matrix, the incomplete mask and the curve.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from userops.errors import UsageError
from userops.glossary import say
from userops.scan.retention import retention_cells

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from userops.analytics.promotions import Promotion

PERIODS = ("day", "week", "month")
MODES = ("classic", "rolling")
COHORTS = ("first", "recurring")
VALUES = ("count", "percent", "revenue")
LONG_COLUMNS = ["cohort", "period", "users", "rate", "revenue", "complete"]


@dataclass(frozen=True)
class RetentionResult:
    counts: "pd.DataFrame"  # cohort x k users (NaN where incomplete)
    rates: "pd.DataFrame"  # cohort x k rates 0-1 (NaN where incomplete)
    revenue: "pd.DataFrame | None"  # cohort x k revenue (orders only)
    sizes: "pd.Series"  # cohort -> size
    incomplete: "pd.DataFrame"  # cohort x k booleans
    curve: "pd.DataFrame"  # k, cohorts, users, size, rate
    notes: list[str] = field(default_factory=list)


def period_index(start: dt.date, day: dt.date, period: str) -> int:
    """How many periods after ``start`` (a period start) the period holding ``day`` begins."""
    if period == "day":
        return (day - start).days
    if period == "week":
        return (day - start).days // 7
    return (day.year - start.year) * 12 + day.month - start.month


def add_periods(start: dt.date, k: int, period: str) -> dt.date:
    if period == "day":
        return start + dt.timedelta(days=k)
    if period == "week":
        return start + dt.timedelta(days=7 * k)
    month = start.month - 1 + k
    return dt.date(start.year + month // 12, month % 12 + 1, 1)


def retention_frames(
    cells: "pd.DataFrame", sizes: "pd.DataFrame", *, as_of: dt.date, period: str, mode: str = "classic", periods: int | None = None
) -> RetentionResult:
    """Matrix, rates, incomplete mask and average curve from the scan's cells.

    ``sizes``: cohort, size, revenue0. ``cells``: cohort, k, users, revenue — for ``rolling``,
    ``k`` is the last period with a return and users are counted at every k' ≤ k."""
    import numpy as np
    import pandas as pd

    if period not in PERIODS:
        raise UsageError(f"--period must be one of {', '.join(PERIODS)} (got {period!r})")
    if mode not in MODES:
        raise UsageError(f"--mode must be classic or rolling (got {mode!r})")
    cohorts = [c.date() if hasattr(c, "date") else c for c in sizes["cohort"]]
    size = pd.Series(sizes["size"].to_numpy("int64"), index=cohorts, name="size")
    horizon = max([period_index(c, as_of, period) for c in cohorts] + [0])
    if periods is not None:
        horizon = min(horizon, periods)
    ks = list(range(0, horizon + 1))
    counts = pd.DataFrame(0.0, index=cohorts, columns=ks)
    revenue = pd.DataFrame(0.0, index=cohorts, columns=ks)
    counts[0] = size.astype(float)
    if "revenue0" in sizes:
        revenue[0] = sizes["revenue0"].to_numpy("float64")
    # the cells added into the matrices by position (a day cohort table has tens of thousands)
    row_of = pd.Index(cohorts).get_indexer([c.date() if hasattr(c, "date") else c for c in cells["cohort"]])
    k = cells["k"].to_numpy("int64")
    users = cells["users"].to_numpy("float64")
    cell_counts = np.zeros((len(cohorts), horizon + 1))
    if mode == "classic":
        kept = (k >= 1) & (k <= horizon) & (row_of >= 0)
        np.add.at(cell_counts, (row_of[kept], k[kept]), users[kept])
        if "revenue" in cells:
            cell_revenue = np.zeros((len(cohorts), horizon + 1))
            money = pd.to_numeric(cells["revenue"], errors="coerce").to_numpy("float64")
            np.add.at(cell_revenue, (row_of[kept], k[kept]), np.nan_to_num(money[kept], nan=0.0))
            revenue.iloc[:, 1:] = cell_revenue[:, 1:]
    else:
        # back in period k or later: a return in k counts at every 1 <= j <= k
        last = np.minimum(k, horizon)
        kept = (last >= 1) & (row_of >= 0)
        np.add.at(cell_counts, (row_of[kept], last[kept]), users[kept])
        cell_counts[:, 1:] = np.cumsum(cell_counts[:, :0:-1], axis=1)[:, ::-1]
    counts.iloc[:, 1:] = cell_counts[:, 1:]
    # a cell is incomplete when its period had not ended by the as-of date
    # (period k of a cohort ends before period k + 1 begins: it is over by the as-of date
    # when k + 1 begins at the latest the day after)
    first_open = np.array([period_index(c, as_of + dt.timedelta(days=1), period) for c in cohorts], dtype="int64").reshape(-1, 1)
    incomplete = pd.DataFrame(np.arange(horizon + 1) >= first_open, index=cohorts, columns=ks)
    counts = counts.mask(incomplete)
    revenue = revenue.mask(incomplete).round(2)
    if mode == "rolling":
        # "back in k or later" has no one period to put its revenue in: blank, not 0
        revenue.loc[:, [k for k in ks if k >= 1]] = np.nan
    rates = counts.div(size, axis=0).round(4)
    observed = ~incomplete.to_numpy()
    sizes_observed = np.where(observed, size.to_numpy("int64").reshape(-1, 1), 0).sum(axis=0)
    users_observed = np.where(observed, counts.to_numpy("float64"), 0.0).sum(axis=0)  # whole numbers: exact in any order
    curve_rows = []
    for k, cohort_count, total, users in zip(ks, observed.sum(axis=0), sizes_observed, users_observed):
        # a period no cohort has completed has no average: blank, not 0
        curve_rows.append(
            {"period": k, "cohorts": int(cohort_count), "size": int(total), "users": int(users) if total else None,
             "rate": round(float(users) / int(total), 4) if total else np.nan}
        )
    curve = pd.DataFrame(curve_rows).astype({"users": "Int64"})
    notes: list[str] = []
    n_incomplete = int(incomplete.values.sum())
    if n_incomplete:
        notes.append(say("cells_incomplete", n=f"{n_incomplete:,}", as_of=as_of))
    return RetentionResult(counts, rates, revenue if "revenue" in cells or "revenue0" in sizes else None, size, incomplete, curve, notes)


def matrix_table(result: RetentionResult, values: str = "count") -> "pd.DataFrame":
    """Wide table: cohort, size, period_0..period_n (counts, rates or revenue) and an
    ``average`` row over the cohorts observable at each period: for rates size-weighted (the
    curve), for counts the mean cohort (mean size, mean users; one decimal)."""
    import pandas as pd

    if values == "revenue" and result.revenue is None:
        raise UsageError("--values revenue needs order data (an amount column)")
    source = {"count": result.counts, "percent": result.rates, "revenue": result.revenue}[values]
    table = source.copy()
    table.columns = [f"period_{k}" for k in table.columns]
    table.insert(0, "size", result.sizes.to_numpy())
    # cohort start dates as ISO text: the column also holds the "average" row's label
    table.insert(0, "cohort", [c.isoformat() for c in result.sizes.index])
    if values == "count":  # whole numbers, blank where incomplete
        for col in table.columns[2:]:
            table[col] = table[col].astype("Int64")
    if values != "revenue":
        # percent: the size-weighted rate over the cohorts observable at k (the curve); count:
        # the mean cohort — the mean size, and the mean users over the cohorts observable at k
        # (not their total, which grows with the number of cohorts)
        avg = {"cohort": "average", "size": int(result.sizes.sum()) if values == "percent" else _mean(result.sizes.sum(), len(result.sizes))}
        for row in result.curve.itertuples(index=False):
            if values == "percent":
                avg[f"period_{row.period}"] = row.rate
            else:
                avg[f"period_{row.period}"] = None if pd.isna(row.users) else _mean(row.users, row.cohorts)
        if values == "count":  # the mean row is fractional: the columns become decimal numbers
            table = table.astype({c: "Float64" for c in table.columns[1:]})
        table = pd.concat([table, pd.DataFrame([avg]).astype({c: "Float64" for c in avg if c != "cohort"} if values == "count" else {})], ignore_index=True)
    return table.reset_index(drop=True)


def _mean(total: float, n: int) -> float | None:
    return round(float(total) / n, 1) if n else None


def long_table(result: RetentionResult) -> "pd.DataFrame":
    """One row per cohort and period: cohort (start date), period (k), users, rate, revenue, complete."""
    import numpy as np
    import pandas as pd

    cohorts, ks = result.counts.index, result.counts.columns
    complete = ~result.incomplete.to_numpy(bool).ravel()

    def cells(matrix: "pd.DataFrame | None") -> "np.ndarray":
        if matrix is None:
            return np.full(len(complete), np.nan)
        return np.where(complete, matrix.to_numpy("float64").ravel(), np.nan)

    users = pd.array(cells(result.counts), dtype="Float64").astype("Int64")
    frame = pd.DataFrame(
        {
            "cohort": np.repeat(np.asarray(cohorts, dtype=object), len(ks)),
            "period": np.tile(np.asarray(ks, dtype="int64"), len(cohorts)),
            "users": users,
            "rate": cells(result.rates),
            "revenue": cells(result.revenue),
            "complete": complete,
        },
        columns=LONG_COLUMNS,
    )
    return frame


def retention(
    loaded,
    window,
    *,
    period: str = "month",
    mode: str = "classic",
    cohort: str = "first",
    week_start: str = "monday",
    start_event: tuple[str, ...] = (),
    return_event: tuple[str, ...] = (),
    periods: int | None = None,
) -> RetentionResult:
    """Run the scan on loaded orders (purchases) or events and build the result."""
    if cohort not in COHORTS:
        raise UsageError(f"--cohort must be first or recurring (got {cohort!r})")
    if week_start not in ("monday", "sunday"):
        raise UsageError(f"--week-start must be monday or sunday (got {week_start!r})")
    source = "orders" if hasattr(loaded, "n_orders") else "events"
    if source == "orders" and (start_event or return_event):
        raise UsageError("--start-event/--return-event need event data", hint="pass an events file")
    if period not in PERIODS:
        raise UsageError(f"--period must be one of {', '.join(PERIODS)} (got {period!r})")
    sizes, cells = retention_cells(
        loaded,
        window, source=source, period=period, week_start=week_start, cohort=cohort, mode=mode,
        start_event=start_event, return_event=return_event,
    )
    result = retention_frames(cells, sizes, as_of=window.as_of, period=period, mode=mode, periods=periods)
    if source == "events":
        result = RetentionResult(result.counts, result.rates, None, result.sizes, result.incomplete, result.curve, result.notes)
    elif mode == "rolling":
        result.notes.append(say("rolling_revenue"))
    # an event name that matches nothing (a typo, another case) gives empty rows, not an error:
    # say so, since an empty matrix and a row of zeros look like real answers
    if start_event and result.sizes.empty:
        result.notes.append(say("no_cohort", events=", ".join(start_event)))
    elif return_event and len(cells) == 0 and not result.sizes.empty:
        result.notes.append(say("no_returns", events=", ".join(return_event)))
    return result


def retention_by_promo(
    loaded, window, promotions: "tuple[Promotion, ...]", *, period: str = "month", periods: int | None = None, values: str = "percent",
    lang: str = "en",
) -> tuple["pd.DataFrame", list[str]]:
    """Do customers acquired in a promotion come back? First-purchase cohorts split by the
    promotion their first order fell in (``organic`` outside every window), the matrix of
    :func:`matrix_table` per group side by side: per cohort its groups, then each group's
    ``average`` row. Classic returns: a purchase in period k after the cohort's."""
    import pandas as pd

    from userops.analytics.promotions import ORGANIC
    from userops.glossary import name
    from userops.scan.ltv import ltv_cells
    from userops.scan.promotions import promotion_name

    if period not in ("week", "month"):
        raise UsageError(f"--by-promo compares week or month cohorts (got --period {period})")
    organic = name(ORGANIC, lang)
    rows = ltv_cells(loaded, window, period=period, group=promotion_name("order_ts", promotions, organic))
    rows["grp"] = rows["grp"].fillna(organic)
    # the groups in calendar order (by each promotion's first window), organic last
    first_start: dict[str, dt.date] = {}
    for w in promotions:
        first_start[w.name] = min(w.start, first_start.get(w.name, w.start))
    groups = sorted(set(rows["grp"]), key=lambda g: (g == organic, first_start.get(g, dt.date.max), g))
    parts, averages = [], []
    notes: list[str] = []
    for group in groups:
        part = rows[rows["grp"] == group]
        first = part["k"] == 0
        sizes = part[first].rename(columns={"buyers": "size", "revenue": "revenue0"})[["cohort", "size", "revenue0"]].reset_index(drop=True)
        cells = part[~first].rename(columns={"buyers": "users"})[["cohort", "k", "users", "revenue"]].reset_index(drop=True)
        result = retention_frames(cells, sizes, as_of=window.as_of, period=period, periods=periods)
        notes.extend(n for n in result.notes if n not in notes)
        table = matrix_table(result, values)
        table.insert(1, "acquired", group)
        is_average = table["cohort"] == "average"
        parts.append(table[~is_average])
        averages.append(table[is_average])
    if not parts:
        raise UsageError("no cohorts in the window")
    # per cohort its groups (in the order above), side by side
    cohorts = pd.concat(parts, ignore_index=True)
    place = cohorts["acquired"].map({g: i for i, g in enumerate(groups)})
    cohorts = cohorts.assign(_place=place).sort_values(["cohort", "_place"], kind="stable").drop(columns="_place")
    return pd.concat([cohorts, *averages], ignore_index=True), notes
