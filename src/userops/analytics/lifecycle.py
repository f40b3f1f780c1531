"""Customer lifecycle status as of a date (SPEC §4 segment, used by profile too).

Status of a customer, checked in this order:

* ``new``      — first purchase within the last period (``period`` length in days, e.g. 30
                 for month) before the as-of date: ``tenure_days < PERIOD_DAYS[period]``;
* ``churned``  — ``recency_days > churn_threshold_days``;
* ``at risk``  — ``recency_days >`` the customer's usual gap: their mean days between orders,
                 or for one-order customers the dataset's median gap;
* ``active``   — everyone else.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from userops.analytics.periods import PERIOD_DAYS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

STATUSES = ("new", "active", "at risk", "churned")
#: Percentile of gaps between consecutive purchases used as the default churn threshold.
CHURN_GAP_PERCENTILE = 0.9
#: Used when nobody has bought twice, so no gap tells us what "gone" means.
FALLBACK_CHURN_DAYS = 365


def status_names(lang: str = "en") -> dict[str, str]:
    """Each status (STATUSES) -> its name in ``lang`` (the glossary's)."""
    from userops.glossary import name

    return {s: name(s, lang) for s in STATUSES}


def default_churn_threshold(gap_percentile_days: float | None) -> int:
    """Whole days: the 90th percentile of gaps between consecutive purchases, rounded up."""
    if gap_percentile_days is None or (isinstance(gap_percentile_days, float) and math.isnan(gap_percentile_days)):
        return FALLBACK_CHURN_DAYS
    return max(1, math.ceil(gap_percentile_days))


def lifecycle_status(
    customers: "pd.DataFrame",
    *,
    period: str,
    churn_threshold_days: int,
    median_gap_days: float | None,
    lang: str = "en",
) -> "pd.Series":
    """Status per customer from ``tenure_days``, ``recency_days`` and ``mean_days_between_orders``
    (named in ``lang``)."""
    import numpy as np
    import pandas as pd

    usual_gap = customers["mean_days_between_orders"].to_numpy("float64")
    if median_gap_days is not None and not math.isnan(median_gap_days):
        usual_gap = np.where(np.isnan(usual_gap), median_gap_days, usual_gap)
    recency = customers["recency_days"].to_numpy("float64")
    tenure = customers["tenure_days"].to_numpy("float64")
    # codes into STATUSES: 0 new, 1 active, 2 at risk, 3 churned (comparisons with NaN are False)
    code = np.select([tenure < PERIOD_DAYS[period], recency > churn_threshold_days, recency > usual_gap], [0, 3, 2], default=1)
    status = pd.Categorical.from_codes(code, categories=list(status_names(lang).values()))
    return pd.Series(status, index=customers.index, name="lifecycle_status")
