"""Customer survival (SPEC §4 churn): who is gone, and how long customers last.

* A customer is *churned* when no purchase followed their last one within
  ``threshold_days`` by the as-of date (recency > threshold); the default threshold is the
  90th percentile of the gaps between consecutive purchases (see
  :func:`userops.analytics.lifecycle.default_churn_threshold`).
* Lifetime = whole days from the first purchase to the day the customer counts as lost —
  the last purchase plus the threshold, when no purchase had come by then (the event is
  observed) — and from the first purchase to the as-of date for the others (right-censored:
  still active when we stopped watching). So every curve starts at 1: a one-time buyer is
  lost ``threshold`` days after that purchase, not at day 0 (which made curves start at
  49–77% and the CDNOW median lifetime read "0 days").
* Kaplan–Meier curves (lifelines, imported here only) overall or per group, with the
  survival, its 95% confidence interval and the number at risk at each event time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from userops.errors import DataError
from userops.glossary import say

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

CURVE_COLUMNS = ["group", "days", "survival", "ci_lower", "ci_upper", "at_risk"]
ALL = "(all)"


def churn_lifetimes(customers: "pd.DataFrame", *, as_of: dt.date, threshold_days: int) -> "pd.DataFrame":
    """``duration_days`` and ``churned`` per customer from ``first_order`` and ``last_order``."""
    import numpy as np

    as_of_day = np.datetime64(as_of, "D")
    first = customers["first_order"].to_numpy("datetime64[us]").astype("datetime64[D]")
    last = customers["last_order"].to_numpy("datetime64[us]").astype("datetime64[D]")
    return lifetimes_from_days(
        customers["customer_id"], tenure_days=(as_of_day - first).astype("int64"), recency_days=(as_of_day - last).astype("int64"),
        threshold_days=threshold_days,
    )


def lifetimes_from_days(customer_id, *, tenure_days, recency_days, threshold_days: int) -> "pd.DataFrame":
    """The same from the days since the first and since the last purchase (as of the as-of
    date): churned when the recency is beyond the threshold, with a lifetime from the first
    purchase to the last plus the threshold; else censored at the as-of date."""
    import numpy as np
    import pandas as pd

    tenure = np.asarray(tenure_days, dtype="int64")
    recency = np.asarray(recency_days, dtype="int64")
    churned = recency > threshold_days
    duration = np.where(churned, tenure - recency + threshold_days, tenure)
    return pd.DataFrame({"customer_id": np.asarray(customer_id), "duration_days": duration, "churned": churned})


@dataclass
class KaplanMeierCurve:
    """One Kaplan–Meier curve: at time 0 and at every distinct lifetime (days), the
    survival, its 95% confidence interval and the customers at risk; and its median (None
    when the survival never falls to one half: more than half never churn in the data)."""

    days: "np.ndarray"
    survival: "np.ndarray"
    ci_lower: "np.ndarray"
    ci_upper: "np.ndarray"
    at_risk: "np.ndarray"
    median: float | None


def kaplan_meier_curve(duration_days, churned) -> KaplanMeierCurve:
    """The Kaplan–Meier estimator (lifelines) of whole-day lifetimes, fitted once for the
    curve, its interval and its median."""
    import math

    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter().fit(duration_days, event_observed=churned)
    curve = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_survival_function_
    median = kmf.median_survival_time_
    return KaplanMeierCurve(
        curve.index.to_numpy().astype("int64"), curve.to_numpy(), ci.iloc[:, 0].to_numpy(), ci.iloc[:, 1].to_numpy(),
        kmf.event_table["at_risk"].reindex(curve.index).to_numpy(),
        None if median is None or math.isinf(median) else float(median),
    )


def curve_groups(lifetimes: "pd.DataFrame", by: "pd.Series | None") -> list[tuple[str, "pd.DataFrame"]]:
    """The customers of each curve: everyone, or per value of ``by`` (missing: ``(none)``)."""
    if by is None:
        return [(ALL, lifetimes)]
    return [(str(g), part) for g, part in lifetimes.groupby(by.fillna("(none)").to_numpy(), sort=True)]


def kaplan_meier_curves(lifetimes: "pd.DataFrame", *, by: "pd.Series | None" = None) -> list[tuple[str, "pd.DataFrame", KaplanMeierCurve]]:
    """Each group's name, customers and curve."""
    if lifetimes.empty:
        raise DataError("no customers to build a survival curve from")
    return [(name, part, kaplan_meier_curve(part["duration_days"], part["churned"])) for name, part in curve_groups(lifetimes, by)]


def kaplan_meier(lifetimes: "pd.DataFrame", *, by: "pd.Series | None" = None) -> "pd.DataFrame":
    """Survival curve(s): one row per group and event time (plus time 0)."""
    return curve_table(kaplan_meier_curves(lifetimes, by=by))


def curve_table(curves: list[tuple[str, "pd.DataFrame", KaplanMeierCurve]]) -> "pd.DataFrame":
    """The curves as one table (CURVE_COLUMNS)."""
    import pandas as pd

    frames = [
        pd.DataFrame(
            {
                "group": name, "days": curve.days, "survival": curve.survival.round(6), "ci_lower": curve.ci_lower.round(6),
                "ci_upper": curve.ci_upper.round(6), "at_risk": curve.at_risk.astype("int64"),
            }
        )
        for name, _, curve in curves
    ]
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]


def median_lifetime(lifetimes: "pd.DataFrame") -> float | None:
    """Median lifetime in days (None when more than half never churn in the data)."""
    return kaplan_meier_curve(lifetimes["duration_days"], lifetimes["churned"]).median


COX_COLUMNS = ["covariate", "reference", "hazard_ratio", "ci_lower", "ci_upper", "p_value", "ph_test_p"]
#: Levels of a categorical covariate kept as their own dummy; the rest pool into "(other)".
COX_MAX_LEVELS = 8
#: Above this many customers, Cox is fitted on a fixed random sample of this size.
COX_MAX_ROWS = 100_000


@dataclass
class CoxResult:
    table: "pd.DataFrame"  # COX_COLUMNS, one row per covariate
    concordance: float
    n: int
    events: int
    sampled: bool
    ph_violations: list[str]  # covariates whose proportional-hazards test has p < 0.05
    notes: list[str] = field(default_factory=list)  # covariates or customers left out, and why


def cox_covariates(attributes: "pd.DataFrame") -> tuple["pd.DataFrame", dict[str, str]]:
    """Baseline covariates (known at the first purchase, so they cannot leak the future):
    log(1 + first order value) and dummies of the first channel and first category (the most
    common level is the reference, levels beyond the top 8 pool into "(other)"), and the
    first order's experience where given: refunded or cancelled and bought in a promotion
    (0/1), its discount share, its days to ship and to deliver (dummies, as the channel).
    Returns the design frame and, per dummy column, its reference level."""
    import numpy as np
    import pandas as pd

    design = pd.DataFrame(index=attributes.index)
    references: dict[str, str] = {}
    if "first_order_value" in attributes and attributes["first_order_value"].notna().any():
        design["log_first_order_value"] = np.log1p(attributes["first_order_value"].astype("float64").clip(lower=0).fillna(0.0))
        references["log_first_order_value"] = ""
    # the first order's experience (order_status.first_order_experience): yes/no as 0/1,
    # the discount share as it is, the days to ship and deliver as buckets like a channel
    for column in ("first_order_refunded", "first_order_promo"):
        if column in attributes:
            design[column] = attributes[column].astype("float64").fillna(0.0)
            references[column] = ""
    if "first_discount_share" in attributes and attributes["first_discount_share"].notna().any():
        design["first_discount_share"] = attributes["first_discount_share"].astype("float64").fillna(0.0)
        references["first_discount_share"] = ""
    for column in ("first_channel", "first_category", "days_to_ship", "days_to_deliver"):
        if column not in attributes:
            continue
        values = attributes[column].astype(object).where(attributes[column].notna(), "(none)").astype(str)
        counts = values.value_counts()
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")  # ties alphabetical
        if len(counts) < 2:
            continue
        kept = list(counts.index[:COX_MAX_LEVELS])
        values = values.where(values.isin(kept), "(other)")
        reference = kept[0]
        for level in sorted(set(values) - {reference}):
            name = f"{column}={level}"
            design[name] = (values == level).astype("float64")
            references[name] = reference
    return design, references


def cox_table(
    lifetimes: "pd.DataFrame", covariates: "pd.DataFrame", *, references: dict[str, str] | None = None, seed: int = 0, sampled: bool = False,
) -> CoxResult:
    """Cox proportional hazards of churn on the covariates (rows aligned with ``lifetimes``):
    hazard ratio with its 95% CI and p-value per covariate, and the Schoenfeld-residual
    proportional-hazards test (lifelines, rank time transform) per covariate. ``sampled``:
    the rows are already a sample of more customers (said in the result)."""
    import warnings

    import numpy as np
    import pandas as pd
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    if covariates.shape[1] == 0:
        raise DataError("no covariates for a Cox model (needs a first-order value, channel or category)")
    data = covariates.reset_index(drop=True).copy()
    data["duration_days"] = lifetimes["duration_days"].to_numpy("float64")
    data["churned"] = lifetimes["churned"].to_numpy("bool")
    # a customer first seen on the as-of date is censored at 0 days: lifelines wants > 0
    data["duration_days"] = data["duration_days"].clip(lower=0.5)
    constant = [c for c in covariates.columns if data[c].nunique() < 2]
    data = data.drop(columns=constant)
    # a covariate equal to another for every customer (a refunded first order is never
    # delivered) cannot be told apart from it: the later one is left out, and said
    notes: list[str] = []
    seen: dict[bytes, str] = {}
    for column in [c for c in covariates.columns if c in data]:
        key = data[column].to_numpy("float64").tobytes()
        if key in seen:
            notes.append(say("cox_same_as", covariate=column, other=seen[key]))
            data = data.drop(columns=column)
        else:
            seen[key] = column
    if int(data["churned"].sum()) < 10:
        raise DataError("too few churned customers (< 10) for a Cox model")
    if len(data) > COX_MAX_ROWS:
        sampled = True
        data = data.sample(n=COX_MAX_ROWS, random_state=seed).sort_index()
    cph = CoxPHFitter(penalizer=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph.fit(data, duration_col="duration_days", event_col="churned")
        ph = proportional_hazard_test(cph, data, time_transform="rank", precomputed_residuals=scaled_schoenfeld(cph, data)).summary
    s = cph.summary
    table = pd.DataFrame(
        {
            "covariate": list(s.index),
            "reference": [(references or {}).get(c, "") for c in s.index],
            "hazard_ratio": s["exp(coef)"].to_numpy().round(4),
            "ci_lower": s["exp(coef) lower 95%"].to_numpy().round(4),
            "ci_upper": s["exp(coef) upper 95%"].to_numpy().round(4),
            # four significant digits, not six places: a p-value of 1e-40 is not 0
            "p_value": _significant(s["p"].to_numpy()),
            "ph_test_p": _significant(ph["p"].reindex(s.index).to_numpy()),
        }
    )[COX_COLUMNS]
    violations = [c for c, p in zip(table["covariate"], table["ph_test_p"]) if p is not None and not np.isnan(p) and p < 0.05]
    return CoxResult(table, float(cph.concordance_index_), int(len(data)), int(data["churned"].sum()), sampled, violations, notes)


def scaled_schoenfeld(cph, data: "pd.DataFrame") -> "pd.DataFrame":
    """lifelines' scaled Schoenfeld residuals (Efron ties) of a fitted CoxPHFitter, computed
    with cumulative sums over the risk sets: lifelines' own loop appends row by row and takes
    minutes on the 100,000-customer sample (quadratic), this is linear. Rows: the events, in
    the order the model sorted the data (its ``durations``), as the PH test expects."""
    import numpy as np
    import pandas as pd

    order = cph.durations.index
    names = list(cph.params_.index)
    x = data.loc[order, names].to_numpy("float64")
    t = cph.durations.to_numpy("float64")
    e = cph.event_observed.to_numpy(bool)
    phi = cph.weights.to_numpy("float64") * np.exp(x @ cph.params_.to_numpy("float64"))
    phi_x = phi[:, None] * x
    # risk sets: every row at or after a time (the data is sorted by time)
    risk = np.cumsum(phi[::-1])[::-1]
    risk_x = np.cumsum(phi_x[::-1], axis=0)[::-1]
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    ends = np.r_[starts[1:], len(t)]
    residuals = np.zeros_like(x)
    for start, end in zip(starts, ends):
        events = np.flatnonzero(e[start:end]) + start
        d = len(events)
        if d == 0:
            continue
        tie, tie_x = phi[events].sum(), phi_x[events].sum(axis=0)
        share = np.arange(d)[:, None] / d  # Efron: the tied deaths leave the risk set in steps
        mean = ((risk_x[start] - share * tie_x) / ((risk[start] - share[:, 0] * tie)[:, None] * d)).sum(axis=0)
        residuals[events] = x[events] - mean
    scaled = e.sum() * residuals[e] @ cph.variance_matrix_.to_numpy("float64")
    return pd.DataFrame(scaled, columns=names, index=order[e])


def _significant(values: "np.ndarray", digits: int = 4) -> "np.ndarray":
    import numpy as np

    return np.array([float(f"{v:.{digits}g}") if np.isfinite(v) else v for v in np.asarray(values, dtype="float64")])
