"""Customer survival (SPEC §4 churn): who is gone, and how long customers last.

* A customer is *churned* when no purchase followed their last one within
  ``threshold_days`` by the as-of date (recency > threshold); the default threshold is the
  90th percentile of the gaps between consecutive purchases (see
  :func:`userops.analytics.lifecycle.default_churn_threshold`).
* Lifetime = whole days from the first to the last purchase for churned customers (the
  event is observed), and from the first purchase to the as-of date for the others (right-
  censored: still alive when we stopped watching).
* Kaplan–Meier curves (lifelines, imported here only) overall or per group, with the
  survival, its 95% confidence interval and the number at risk at each event time.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from userops.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

CURVE_COLUMNS = ["group", "days", "survival", "ci_lower", "ci_upper", "at_risk"]
ALL = "(all)"


def churn_lifetimes(customers: "pd.DataFrame", *, as_of: dt.date, threshold_days: int) -> "pd.DataFrame":
    """``duration_days`` and ``churned`` per customer from ``first_order`` and ``last_order``."""
    import numpy as np
    import pandas as pd

    as_of_day = np.datetime64(as_of, "D")
    first = customers["first_order"].to_numpy("datetime64[us]").astype("datetime64[D]")
    last = customers["last_order"].to_numpy("datetime64[us]").astype("datetime64[D]")
    recency = (as_of_day - last).astype("int64")
    churned = recency > threshold_days
    duration = np.where(churned, (last - first).astype("int64"), (as_of_day - first).astype("int64"))
    return pd.DataFrame({"customer_id": customers["customer_id"].to_numpy(), "duration_days": duration, "churned": churned})


def kaplan_meier(lifetimes: "pd.DataFrame", *, by: "pd.Series | None" = None) -> "pd.DataFrame":
    """Survival curve(s): one row per group and event time (plus time 0)."""
    import pandas as pd
    from lifelines import KaplanMeierFitter

    if lifetimes.empty:
        raise DataError("no customers to build a survival curve from")
    groups = [(ALL, lifetimes)] if by is None else [(str(g), part) for g, part in lifetimes.groupby(by.fillna("(none)").to_numpy(), sort=True)]
    frames = []
    for name, part in groups:
        kmf = KaplanMeierFitter().fit(part["duration_days"], event_observed=part["churned"])
        curve = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_survival_function_
        table = kmf.event_table
        frames.append(
            pd.DataFrame(
                {
                    "group": name,
                    "days": curve.index.astype("int64"),
                    "survival": curve.to_numpy().round(6),
                    "ci_lower": ci.iloc[:, 0].to_numpy().round(6),
                    "ci_upper": ci.iloc[:, 1].to_numpy().round(6),
                    "at_risk": table["at_risk"].reindex(curve.index).to_numpy().astype("int64"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]


def median_lifetime(lifetimes: "pd.DataFrame") -> float | None:
    """Median lifetime in days (None when more than half never churn in the data)."""
    import math

    from lifelines import KaplanMeierFitter

    value = KaplanMeierFitter().fit(lifetimes["duration_days"], event_observed=lifetimes["churned"]).median_survival_time_
    return None if value is None or math.isinf(value) else float(value)
