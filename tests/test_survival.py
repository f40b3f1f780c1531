"""Churn lifetimes and Kaplan-Meier curves against hand-worked product-limit values."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from userops.analytics.survival import churn_lifetimes, kaplan_meier, median_lifetime


def test_lifetimes_churned_and_censored():
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "first_order": pd.to_datetime(["2024-01-01 10:00", "2024-03-01 09:00", "2024-02-10 08:00"]),
            "last_order": pd.to_datetime(["2024-02-01 18:00", "2024-06-20 12:00", "2024-02-10 08:00"]),
        }
    )
    out = churn_lifetimes(customers, as_of=dt.date(2024, 6, 30), threshold_days=60)
    # a: recency 150 > 60 -> churned, lost 60 days after the last purchase: Jan 1 -> Feb 1 = 31, + 60
    # b: recency 10 -> active, censored at Mar 1 -> Jun 30 = 121 days
    # c: one purchase, recency 141 -> churned at 0 + 60 days (not at day 0: curves start at 1)
    assert out.to_dict("list") == {"customer_id": ["a", "b", "c"], "duration_days": [91, 121, 60], "churned": [True, False, True]}


def test_kaplan_meier_product_limit_by_hand():
    lifetimes = pd.DataFrame({"duration_days": [2, 3, 3, 5], "churned": [True, True, False, True]})
    curve = kaplan_meier(lifetimes)
    # t=2: 4 at risk, 1 churns -> 3/4; t=3: 3 at risk, 1 churns (1 censored) -> 3/4 * 2/3 = 1/2;
    # t=5: 1 at risk, 1 churns -> 0
    assert curve["days"].tolist() == [0, 2, 3, 5]
    assert curve["survival"].tolist() == [1.0, 0.75, 0.5, 0.0]
    assert curve["at_risk"].tolist() == [4, 4, 3, 1]
    assert (curve["ci_lower"] <= curve["survival"]).all() and (curve["survival"] <= curve["ci_upper"]).all()
    assert median_lifetime(lifetimes) == 3.0


def test_kaplan_meier_by_group_and_no_median():
    lifetimes = pd.DataFrame({"duration_days": [2, 4, 10, 10], "churned": [True, False, False, False]})
    curve = kaplan_meier(lifetimes, by=pd.Series(["web", "web", "app", None]))
    assert sorted(curve["group"].unique()) == ["(none)", "app", "web"]
    web = curve[curve["group"] == "web"]
    assert web["survival"].tolist() == [1.0, 0.5, 0.5]
    assert median_lifetime(lifetimes) is None  # most never churned: no median yet


def test_scaled_schoenfeld_residuals_equal_lifelines():
    """The Cox model's proportional-hazards check: our scaled Schoenfeld residuals are
    lifelines' (its own loop is quadratic in the customers), tied times included."""
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    from userops.analytics.survival import scaled_schoenfeld

    rng = np.random.default_rng(3)
    n = 400
    data = pd.DataFrame({"a": rng.normal(size=n), "b": (rng.random(n) < 0.3).astype(float), "c": rng.integers(0, 3, n).astype(float)})
    data["duration_days"] = rng.integers(1, 40, n).astype(float)  # whole days: many ties
    data["churned"] = rng.random(n) < 0.6
    data = data.sample(frac=1, random_state=1)
    cph = CoxPHFitter(penalizer=1e-4).fit(data, duration_col="duration_days", event_col="churned")
    ours = scaled_schoenfeld(cph, data)
    theirs = cph.compute_residuals(data, kind="scaled_schoenfeld")
    assert list(ours.index) == list(theirs.index)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=0, atol=1e-12)
    test = proportional_hazard_test(cph, data, time_transform="rank", precomputed_residuals=ours).summary["p"]
    assert test.to_numpy() == pytest.approx(proportional_hazard_test(cph, data, time_transform="rank").summary["p"].to_numpy(), abs=1e-12)
