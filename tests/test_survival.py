"""The Cox model's proportional-hazards check: our scaled Schoenfeld residuals are
lifelines' (its own loop is quadratic in the customers), tied times included."""

import numpy as np
import pandas as pd
import pytest


def test_scaled_schoenfeld_residuals_equal_lifelines():
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
