"""Cohort LTV and payback (``userops ltv``).

* A customer's **cohort** is the period (week, month or quarter) of their first purchase;
  with ``by="channel"`` cohorts are split by the first order's channel (the acquisition
  channel; ``(none)`` when blank). Cohorts start inside the window, as in retention.
* Cell (c, k) is what cohort c's customers spent in period c+k: revenue (order amounts, net
  of refunds as everywhere) and gross margin — from a margin column (the orders' gross
  profit) or ``margin_share`` × revenue. ``buyers`` counts the members who bought in it.
* **LTV at k** is the cumulative value per customer: the cohort's revenue (or margin) in
  periods 0..k divided by its size — every member, buyers or not.
* A cell whose period had not ended by the as-of date is **incomplete**: blank, never a
  partial sum, and out of the average curve. The average curve of a group weights cohorts by
  size over the cohorts complete at k (their cumulative value / their customers).
* With a costs file, a cohort's **CAC** is the spend of its period (and channel, with
  ``by``) over its customers; without ``by`` the spend of every channel is summed (blended
  CAC). A cohort whose period has no spend has no CAC (blank, not 0). **Payback** is the
  first complete period k at which the cumulative margin per customer reaches the CAC
  (revenue when there is no margin; a note says so); blank while it has not.

The scan (:func:`userops.scan.ltv.ltv_cells`) returns per cohort, group and k the sums;
:func:`ltv_frames` builds the cells, cohorts and curves from them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from userops.errors import DataError, UsageError
from userops.glossary import Said, say

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from userops.io.costs import Costs

PERIODS = ("week", "month", "quarter")
BY_CHOICES = ("channel",)
VALUES = ("revenue", "margin")
NONE_LABEL = "(none)"
AVERAGE_LABEL = "average"
CELL_COLUMNS = [
    "cohort", "channel", "period", "customers", "buyers", "revenue", "margin",
    "cumulative_revenue_per_customer", "cumulative_margin_per_customer", "complete",
]
COHORT_COLUMNS = ["cohort", "channel", "customers", "spend", "cac", "payback_period"]


@dataclass(frozen=True)
class LtvResult:
    cells: "pd.DataFrame"  # CELL_COLUMNS; values blank where incomplete
    cohorts: "pd.DataFrame"  # COHORT_COLUMNS
    curves: "pd.DataFrame"  # channel, period, cohorts, customers, cumulative_*_per_customer (every period)
    period: str
    by: str | None
    has_margin: bool
    has_costs: bool
    payback_basis: str  # "margin" or "revenue"
    notes: list[Said] = field(default_factory=list)


def periods_after(cohort: dt.date, day: dt.date, period: str) -> int:
    """How many periods after ``cohort`` (a period start) the period holding ``day`` begins."""
    if period == "week":
        return (day - cohort).days // 7
    months = (day.year - cohort.year) * 12 + day.month - cohort.month
    return months if period == "month" else months // 3


def ltv_frames(
    rows: "pd.DataFrame",
    *,
    as_of: dt.date,
    period: str = "month",
    by: str | None = None,
    margin_share: float | None = None,
    has_margin: bool = False,
    costs: "Costs | None" = None,
    periods: int | None = None,
) -> LtvResult:
    """Cells, cohorts and curves from the scan's rows (cohort, grp, k, buyers, revenue, margin)."""
    import numpy as np
    import pandas as pd

    notes: list[Said] = []
    as_date = lambda v: v.date() if hasattr(v, "date") else v  # noqa: E731
    rows = rows.assign(cohort=[as_date(c) for c in rows["cohort"]], grp=rows["grp"].astype(object).where(rows["grp"].notna(), NONE_LABEL) if by else "")
    margin_known = has_margin or margin_share is not None
    if margin_share is not None:
        rows = rows.assign(margin=rows["revenue"] * margin_share)
    keys = rows.loc[rows["k"] == 0, ["cohort", "grp", "buyers"]].rename(columns={"buyers": "customers"})
    keys = keys.sort_values(["grp", "cohort"], kind="stable").reset_index(drop=True)
    cohorts = list(keys["cohort"])
    sizes = keys["customers"].to_numpy("int64")
    # every period to the as-of date is computed (payback may come after the periods shown);
    # --periods trims the cells and curves at the end
    horizon = max([periods_after(c, as_of, period) for c in cohorts] + [0])
    width = horizon + 1
    shown = width if periods is None else min(width, periods + 1)
    index = pd.MultiIndex.from_frame(keys[["grp", "cohort"]])
    row_of = index.get_indexer(pd.MultiIndex.from_arrays([rows["grp"], rows["cohort"]]))
    k = rows["k"].to_numpy("int64")
    kept = (row_of >= 0) & (k >= 0) & (k <= horizon)

    def matrix(values: "pd.Series") -> "np.ndarray":
        out = np.zeros((len(keys), width))
        np.add.at(out, (row_of[kept], k[kept]), values.to_numpy("float64")[kept])
        return out

    buyers = matrix(rows["buyers"])
    revenue = matrix(rows["revenue"].fillna(0.0))
    margin = matrix(rows["margin"].fillna(0.0)) if margin_known else np.full((len(keys), width), np.nan)
    first_open = np.array([periods_after(c, as_of + dt.timedelta(days=1), period) for c in cohorts], dtype="int64").reshape(-1, 1)
    complete = np.arange(width) < first_open
    size = sizes.reshape(-1, 1).astype("float64")
    cum_revenue = np.cumsum(revenue, axis=1) / size
    cum_margin = np.cumsum(margin, axis=1) / size

    n = len(keys) * shown
    blank = lambda m: np.where(complete, m, np.nan)[:, :shown].ravel()  # noqa: E731
    cells = pd.DataFrame(
        {
            "cohort": np.repeat(np.asarray(cohorts, dtype=object), shown),
            "channel": np.repeat(keys["grp"].to_numpy(object), shown) if by else np.full(n, None, dtype=object),
            "period": np.tile(np.arange(shown, dtype="int64"), len(keys)),
            "customers": np.repeat(sizes, shown),
            "buyers": pd.array(blank(buyers), dtype="Float64").astype("Int64"),
            "revenue": np.round(blank(revenue), 2),
            "margin": np.round(blank(margin), 2),
            "cumulative_revenue_per_customer": np.round(blank(cum_revenue), 2),
            "cumulative_margin_per_customer": np.round(blank(cum_margin), 2),
            "complete": complete[:, :shown].ravel(),
        },
        columns=CELL_COLUMNS,
    )

    # the average curve of each group: cumulative value over the customers of the cohorts complete at k
    curve_rows = []
    for grp in dict.fromkeys(keys["grp"]):
        mine = (keys["grp"] == grp).to_numpy()
        seen = complete[mine]
        people = np.where(seen, size[mine], 0.0).sum(axis=0)
        totals_r = np.where(seen, np.cumsum(revenue[mine], axis=1), 0.0).sum(axis=0)
        totals_m = np.where(seen, np.cumsum(margin[mine], axis=1), 0.0).sum(axis=0)
        for j in range(width):  # every period: the average payback may come after the periods shown
            curve_rows.append(
                {
                    "channel": grp if by else None, "period": j, "cohorts": int(seen[:, j].sum()), "customers": int(people[j]),
                    "cumulative_revenue_per_customer": round(totals_r[j] / people[j], 2) if people[j] else np.nan,
                    "cumulative_margin_per_customer": round(totals_m[j] / people[j], 2) if people[j] and margin_known else np.nan,
                }
            )
    curves = pd.DataFrame(curve_rows, columns=["channel", "period", "cohorts", "customers", "cumulative_revenue_per_customer", "cumulative_margin_per_customer"])

    basis = "margin" if margin_known else "revenue"
    spend = np.full(len(keys), np.nan)
    if costs is not None:
        spend = _cohort_spend(keys, costs, by=by, notes=notes)
    cac = spend / sizes
    basis_cum = cum_margin if margin_known else cum_revenue
    payback = [_payback(basis_cum[i], complete[i], cac[i]) for i in range(len(keys))]
    cohort_table = pd.DataFrame(
        {
            "cohort": cohorts,
            "channel": keys["grp"].to_numpy(object) if by else None,
            "customers": sizes,
            "spend": np.round(spend, 2),
            "cac": np.round(cac, 2),
            "payback_period": pd.array(payback, dtype="Int64"),
        },
        columns=COHORT_COLUMNS,
    )
    n_incomplete = int((~complete[:, :shown]).sum())
    if n_incomplete:
        notes.append(say("cells_incomplete", n=f"{n_incomplete:,}", as_of=as_of))
    if costs is not None and not margin_known:
        notes.append(say("payback_on_revenue"))
    return LtvResult(cells, cohort_table, curves, period, by, margin_known, costs is not None, basis, notes)


def _payback(cumulative: "np.ndarray", complete: "np.ndarray", cac: float) -> int | None:
    """The first complete period whose cumulative value per customer reaches the CAC."""
    if cac != cac:  # no spend for the cohort: no CAC, no payback
        return None
    for j, (value, seen) in enumerate(zip(cumulative, complete)):
        if not seen:
            return None
        if round(float(value), 2) >= round(float(cac), 2):
            return j
    return None


def _cohort_spend(keys: "pd.DataFrame", costs: "Costs", *, by: str | None, notes: list[Said]) -> "np.ndarray":
    """Each cohort's spend (NaN where its period, or channel, has none); notes for spend that
    fits no cohort, so a misspelt channel or a period without customers is never lost silently."""
    import numpy as np

    table = costs.spend
    if by and not costs.has_channel:
        raise UsageError(f"--by channel needs the spend per channel: {costs.file} has no channel column", hint="add a channel column, or drop --by")
    if by:
        folded = lambda s: str(s).strip().casefold()  # noqa: E731
        spend_of = {(p, folded(c)): float(s) for p, c, s in table.itertuples(index=False)}
        wanted = [(c, folded(g)) for c, g in zip(keys["cohort"], keys["grp"])]
    else:
        per_period = table.groupby("period", sort=True)["spend"].sum()
        spend_of = {(p, ""): float(s) for p, s in per_period.items()}
        wanted = [(c, "") for c in keys["cohort"]]
    out = np.array([spend_of.get(key, np.nan) for key in wanted], dtype="float64")
    unused = {key: s for key, s in spend_of.items() if key not in set(wanted) and s > 0}
    if unused:
        total = sum(unused.values())
        listed = ", ".join(f"{p}{' ' + c if c else ''}" for p, c in sorted(unused)[:5]) + (" …" if len(unused) > 5 else "")
        notes.append(say("spend_without_cohort", total=f"{total:,.2f}", listed=listed))
    return out


def ltv(
    loaded,
    window,
    *,
    period: str = "month",
    week_start: str = "monday",
    by: str | None = None,
    margin_share: float | None = None,
    costs: "Costs | None" = None,
    periods: int | None = None,
) -> LtvResult:
    """Run the scan on loaded orders and build the result."""
    from userops.scan.ltv import ltv_cells

    if period not in PERIODS:
        raise UsageError(f"--period must be one of {', '.join(PERIODS)} (got {period!r})")
    if by is not None and by not in BY_CHOICES:
        raise UsageError(f"--by must be one of {', '.join(BY_CHOICES)} (got {by!r})")
    if margin_share is not None and not 0 < margin_share <= 1:
        raise UsageError(f"--margin is gross margin as a share of revenue, between 0 and 1 (got {margin_share!r})", hint="e.g. 0.35")
    if not loaded.facts.has_amount:
        raise DataError("ltv needs order amounts: the export has no amount column", hint="set --amount-col")
    has_margin = bool(getattr(loaded.facts, "has_margin", False)) and margin_share is None
    rows = ltv_cells(loaded, window, period=period, week_start=week_start, group="channel" if by == "channel" else None, margin=has_margin)
    return ltv_frames(rows, as_of=window.as_of, period=period, by=by, margin_share=margin_share, has_margin=has_margin, costs=costs, periods=periods)


def matrix_table(result: LtvResult, values: str) -> "pd.DataFrame":
    """Wide table: cohort, [channel], customers, [spend, cac, payback_period], period_0..n
    holding the cumulative ``values`` (revenue or margin) per customer, blank where
    incomplete; each group ends with its ``average`` row (the curve)."""
    import numpy as np
    import pandas as pd

    if values == "margin" and not result.has_margin:
        raise UsageError("--values margin needs a margin: a margin column or --margin 0.35")
    column = f"cumulative_{values}_per_customer"
    cohorts = result.cohorts
    width = int(result.cells["period"].max()) + 1 if len(result.cells) else 1  # the periods shown
    # the cells are in the cohorts' order, one row per period: the matrix is a reshape
    values_matrix = result.cells[column].to_numpy("float64").reshape(len(cohorts), width)
    parts = []
    groups = list(dict.fromkeys(cohorts["channel"])) if result.by else [None]
    for grp in groups:
        mine_mask = (cohorts["channel"] == grp).to_numpy() if result.by else np.ones(len(cohorts), dtype=bool)
        mine = cohorts[mine_mask]
        table = mine.copy()
        for j in range(width):
            table[f"period_{j}"] = values_matrix[mine_mask, j]
        curve = result.curves[result.curves["channel"] == grp] if result.by else result.curves
        average: dict[str, object] = {"cohort": AVERAGE_LABEL, "channel": grp, "customers": int(mine["customers"].sum())}
        if result.has_costs:
            with_cac = mine[mine["cac"].notna()]
            spend, people = float(with_cac["spend"].sum()), int(with_cac["customers"].sum())
            cac = round(spend / people, 2) if people else np.nan
            average["spend"] = round(spend, 2) if people else np.nan
            average["cac"] = cac
            curve_values = curve[column].to_numpy("float64")
            complete = curve["cohorts"].to_numpy("int64") > 0
            average["payback_period"] = _payback(curve_values, complete, cac)
        for row in curve.itertuples(index=False):
            average[f"period_{row.period}"] = getattr(row, column)
        table["cohort"] = [c.isoformat() for c in table["cohort"]]
        parts.extend(table.to_dict("records"))
        parts.append(average)
    columns = [*COHORT_COLUMNS, *(f"period_{j}" for j in range(width))]
    table = pd.DataFrame(parts, columns=columns).astype({c: "float64" for c in columns if c.startswith("period_") or c in ("spend", "cac")})
    if not result.by:
        table = table.drop(columns="channel")
    if not result.has_costs:
        table = table.drop(columns=["spend", "cac", "payback_period"])
    else:
        table["payback_period"] = table["payback_period"].astype("Int64")
    table["customers"] = table["customers"].astype("int64")
    return table.reset_index(drop=True)


def long_table(result: LtvResult) -> "pd.DataFrame":
    """One row per cohort (and channel) and period: CELL_COLUMNS, plus cac with a costs file."""
    table = result.cells.copy()
    if result.has_costs:
        cac = result.cohorts.set_index(["cohort", "channel"] if result.by else ["cohort"])["cac"]
        keys = list(zip(table["cohort"], table["channel"])) if result.by else list(table["cohort"])
        table.insert(len(table.columns) - 1, "cac", cac.reindex(keys).to_numpy("float64"))
    if not result.by:
        table = table.drop(columns="channel")
    if not result.has_margin:
        table = table.drop(columns=["margin", "cumulative_margin_per_customer"])
    return table
