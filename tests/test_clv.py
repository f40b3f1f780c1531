"""BG/NBD and Gamma–Gamma against the published CDNOW figures (tolerance: 3 significant digits).

Fader, Hardie & Lee (2005): r = 0.243, α = 4.414, a = 0.793, b = 2.426, log-likelihood −9582.4;
Fader & Hardie (2013): p = 6.25, q = 3.74, γ = 15.44 on the 946 repeat customers.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from userops.analytics.clv import BetaGeoModel, GammaGammaModel, calibration_summary
from userops.io.normalise import load_orders
from userops.scan.load import orders_frame


def sig3(value, expected):
    return value == pytest.approx(expected, rel=5e-3)


@pytest.fixture(scope="module")
def cdnow(cdnow_path):
    loaded = load_orders([cdnow_path])
    return loaded, calibration_summary(loaded, loaded.window("1997-09-30"))


def test_calibration_summary(cdnow):
    _, summary = cdnow
    assert len(summary) == 2357
    assert int((summary["frequency"] > 0).sum()) == 946
    # customer 00004: days 1997-01-01, 01-18, 08-02 -> x = 2, t_x = 213 d, T = 272 d (in weeks)
    row = summary.loc["00004"]
    assert (row["frequency"], row["recency"], row["T"]) == (2, 213 / 7, 272 / 7)
    assert row["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)


def test_bgnbd_reproduces_published_parameters(cdnow):
    _, summary = cdnow
    model = BetaGeoModel().fit(summary)
    p = model.params_
    assert sig3(p["r"], 0.243) and sig3(p["alpha"], 4.414) and sig3(p["a"], 0.793) and sig3(p["b"], 2.426)
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    # the 39-week holdout forecast: ~1,653 purchases over the 2,357 customers
    expected = model.conditional_expected_number_of_purchases_up_to_time(39, summary)
    assert expected.sum() == pytest.approx(1653, abs=2)
    # several horizons at once (CLV's months) give each horizon's own numbers, to the bit
    at_once = model.expected_purchases([13, 39], summary)
    assert (at_once[1] == expected.to_numpy()).all()
    assert (at_once[0] == model.conditional_expected_number_of_purchases_up_to_time(13, summary).to_numpy()).all()
    alive = model.conditional_probability_alive(summary)
    assert (alive[summary["frequency"] == 0] == 1.0).all()  # no repeat purchase: no evidence of death
    assert ((alive > 0) & (alive <= 1)).all()


def test_holdout_actual_purchase_days(cdnow_path):
    # what the model under-forecasts: 1,882 purchase days in 1997-10-01 .. 1998-06-30
    loaded = load_orders([cdnow_path])
    orders = orders_frame(loaded.engine, loaded.window("1998-06-30", start=dt.date(1997, 10, 1)))
    assert orders.assign(day=orders["order_ts"].dt.date)[["customer_id", "day"]].drop_duplicates().shape[0] == 1882


def test_gamma_gamma_reproduces_published_parameters(cdnow):
    _, summary = cdnow
    model = GammaGammaModel().fit(summary)
    p = model.params_
    assert model.n_customers_ == 946
    assert sig3(p["p"], 6.25) and sig3(p["q"], 3.74) and sig3(p["v"], 15.44)
    value = model.conditional_expected_average_profit(summary)
    # no repeats: the population mean p·γ/(q−1)
    population = p["p"] * p["v"] / (p["q"] - 1)
    assert value[summary["frequency"] == 0].round(6).unique().tolist() == [round(population, 6)]


def test_p_alive_by_hand():
    model = BetaGeoModel()
    model.params_ = {"r": 1.0, "alpha": 2.0, "a": 2.0, "b": 3.0}
    summary = pd.DataFrame({"frequency": [0, 2], "recency": [0.0, 4.0], "T": [10.0, 10.0]})
    # x=2: 1 / (1 + a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)) = 1 / (1 + 2/4 · (12/6)^3) = 1/5
    assert model.conditional_probability_alive(summary).round(10).tolist() == [1.0, 0.2]
    assert np.isfinite(model.conditional_expected_number_of_purchases_up_to_time(5, summary)).all()
