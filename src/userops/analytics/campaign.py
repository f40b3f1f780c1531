"""Campaign holdouts and their readout (``segment --holdout``, ``userops uplift``).

``segment … --filter … --holdout 10%`` adds a ``group`` column to the campaign list: a seeded
control group stratified by segment (:func:`userops.scan.campaign.assign_holdout`). After the
campaign, ``uplift`` reads the list back with a later export and compares the groups over
``days`` from ``since``:

* conversion: the share of each group's customers with a purchase in the window; the
  difference (treatment − control) with a 95 % interval (unpooled normal) and the two-sided
  p-value of the pooled two-proportion z-test;
* revenue per customer (customers without a purchase count 0): the difference with a 95 %
  Welch interval and p-value;
* incremental revenue: the revenue difference per customer times the treatment's customers.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from userops.errors import DataError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

COLUMNS = ["metric", "treatment", "control", "difference", "ci_lower", "ci_upper", "p_value"]


def parse_share(text: str | float) -> float:
    """``10%`` or ``0.1`` as a share between 0 and 0.5."""
    raw = str(text).strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(%?)", raw)
    if not m:
        raise UsageError(f"--holdout takes a share, e.g. 10% or 0.1 (got {raw!r})")
    share = float(m.group(1)) / (100 if m.group(2) else 1)
    if not 0 < share <= 0.5:
        raise UsageError(f"--holdout must be more than 0 and at most 50% (got {raw!r})")
    return share


@dataclass(frozen=True)
class GroupSums:
    """What the engine sums per group: customers, buyers, revenue and revenue squared."""

    customers: int
    buyers: int
    revenue: float
    revenue_squared: float


@dataclass(frozen=True)
class Uplift:
    table: "pd.DataFrame"  # COLUMNS
    notes: list = field(default_factory=list)


def _p_two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def uplift_table(treatment: GroupSums, control: GroupSums) -> "pd.DataFrame":
    """The readout from the two groups' sums (see the module docstring)."""
    import pandas as pd
    from scipy import stats

    if control.customers == 0:
        raise DataError("the list has no control group", hint="draw one with segment --holdout 10%")
    if treatment.customers == 0:
        raise DataError("the list has no treatment group")
    nt, nc = treatment.customers, control.customers
    pt, pc = treatment.buyers / nt, control.buyers / nc
    diff = pt - pc
    se = math.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc)
    pooled = (treatment.buyers + control.buyers) / (nt + nc)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / nt + 1 / nc))
    p_conv = _p_two_sided(diff / se0) if se0 > 0 else (1.0 if diff == 0 else 0.0)
    mt, mc = treatment.revenue / nt, control.revenue / nc
    vt = max(0.0, (treatment.revenue_squared - nt * mt * mt) / (nt - 1)) if nt > 1 else 0.0
    vc = max(0.0, (control.revenue_squared - nc * mc * mc) / (nc - 1)) if nc > 1 else 0.0
    rev_diff = mt - mc
    se_rev = math.sqrt(vt / nt + vc / nc)
    if se_rev > 0:
        df = se_rev**4 / ((vt / nt) ** 2 / max(nt - 1, 1) + (vc / nc) ** 2 / max(nc - 1, 1))
        t_crit = float(stats.t.ppf(0.975, df))
        p_rev = float(2 * stats.t.sf(abs(rev_diff) / se_rev, df))
    else:
        t_crit, p_rev = 0.0, (1.0 if rev_diff == 0 else 0.0)
    z = float(stats.norm.ppf(0.975))
    rows = [
        ("customers", nt, nc, None, None, None, None),
        ("buyers", treatment.buyers, control.buyers, None, None, None, None),
        ("conversion", round(pt, 6), round(pc, 6), round(diff, 6), round(diff - z * se, 6), round(diff + z * se, 6), float(f"{p_conv:.4g}")),
        ("revenue_per_customer", round(mt, 4), round(mc, 4), round(rev_diff, 4), round(rev_diff - t_crit * se_rev, 4), round(rev_diff + t_crit * se_rev, 4),
         float(f"{p_rev:.4g}")),
        ("incremental_revenue", round(treatment.revenue, 2), None, round(rev_diff * nt, 2), round((rev_diff - t_crit * se_rev) * nt, 2),
         round((rev_diff + t_crit * se_rev) * nt, 2), float(f"{p_rev:.4g}")),
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def campaign_uplift(loaded, list_path: str, *, since: dt.date, days: int = 30, encoding: str | None = None) -> Uplift:
    """Read the campaign list, sum each group's purchases in [since, since + days) in the
    engine, and build the readout. A window not over by the data's last purchase is said."""
    from userops.glossary import say
    from userops.scan.campaign import group_sums

    if not 1 <= days <= 3650:
        raise UsageError(f"--days must be between 1 and 3,650 (got {days})")
    end = since + dt.timedelta(days=days)
    sums, unmatched = group_sums(loaded, list_path, since=since, end=end, encoding=encoding)
    notes = []
    last = loaded.last_ts.date() if loaded.last_ts else None
    if last is not None and last < end - dt.timedelta(days=1):
        notes.append(say("uplift_window_open", last=last, end=end - dt.timedelta(days=1), seen=max(0, (last - since).days + 1), days=days))
    if unmatched:
        notes.append(say("uplift_unmatched", n=f"{unmatched:,}"))
    table = uplift_table(sums.get("treatment", GroupSums(0, 0, 0.0, 0.0)), sums.get("control", GroupSums(0, 0, 0.0, 0.0)))
    return Uplift(table, notes)
