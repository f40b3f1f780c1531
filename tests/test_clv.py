"""BG/NBD and Gamma–Gamma against the published CDNOW figures (tolerance: 3 significant digits).

Fader, Hardie & Lee (2005): r = 0.243, α = 4.414, a = 0.793, b = 2.426, log-likelihood −9582.4;
Fader & Hardie (2013): p = 6.25, q = 3.74, γ = 15.44 on the 946 repeat customers.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from userops.analytics.clv import BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel, calibration_summary
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


#: The lifetimes package (0.11.3, ParetoNBDFitter and ModifiedBetaGeoFitter) on the same
#: calibration summary: its fitted parameters and, at them, its per-customer expected
#: purchases in the 39-week holdout and P(alive) (01760: the most frequent buyer), their
#: sum over the 2,357 customers. An independent implementation, run once outside the tests.
LIFETIMES = {
    ParetoNBDModel: (
        {"r": 0.5532524384236359, "alpha": 10.57722222355756, "s": 0.6062171139453747, "beta": 11.668509368319908},
        {"00004": 1.4552167673098988, "00018": 0.10879656883179202, "00021": 0.1711200488542639, "01760": 19.596142771894602},
        1665.5381107645626,
        {"00004": 0.8691382102264069, "00018": 0.29765951945626357, "00021": 0.16800173239240518, "01760": 0.9961870671540842},
    ),
    ModifiedBetaGeoModel: (
        {"r": 0.5248429031495553, "alpha": 6.18308176439901, "a": 0.8913595172712963, "b": 1.6140029311986195},
        {"00004": 1.2627588401713428, "00018": 0.1557436065391262, "00021": 0.1889448877474484, "01760": 18.951872399508844},
        1576.7282658885467,
        {"00004": 0.7061384907953503, "00018": 0.3909172271800347, "00021": 0.17095108033104398, "01760": 0.9659380780611729},
    ),
}


def test_pareto_nbd_reproduces_published_parameters(cdnow):
    """Fader, Hardie & Lee (2005), CDNOW sample, calibration to 1997-09-30 in weeks:
    r = 0.55, α = 10.58, s = 0.61, β = 11.67."""
    _, summary = cdnow
    p = ParetoNBDModel().fit(summary).params_
    assert (round(p["r"], 2), round(p["alpha"], 2), round(p["s"], 2), round(p["beta"], 2)) == (0.55, 10.58, 0.61, 11.67)


@pytest.mark.parametrize("model_class", [ParetoNBDModel, ModifiedBetaGeoModel], ids=["pareto", "mbgnbd"])
def test_models_equal_an_independent_implementation(cdnow, model_class):
    """At lifetimes' parameters, the per-customer forecasts and P(alive) equal lifetimes' to
    1e-9; our own fit is an optimum at least as good as lifetimes' (its log-likelihood)."""
    _, summary = cdnow
    params, expected, total, alive = LIFETIMES[model_class]
    model = model_class()
    model.params_ = params
    forecast = model.conditional_expected_number_of_purchases_up_to_time(39, summary)
    assert forecast[list(expected)].to_dict() == pytest.approx(expected, rel=1e-9)
    assert forecast.sum() == pytest.approx(total, rel=1e-9)
    assert model.conditional_probability_alive(summary)[list(alive)].to_dict() == pytest.approx(alive, rel=1e-9)
    fitted = model_class().fit(summary)
    x, tx, T = (summary[c].to_numpy("float64") for c in ("frequency", "recency", "T"))
    at_reference = _log_likelihood(model_class, params, x, tx, T)
    assert fitted.log_likelihood_ >= at_reference - 1e-6
    for name, value in params.items():  # the same optimum (Pareto/NBD's is flat in β: 4 digits)
        assert fitted.params_[name] == pytest.approx(value, rel=2e-4)


def _log_likelihood(model_class, params, x, tx, T):
    names = ("r", "alpha", "s", "beta") if model_class is ParetoNBDModel else ("r", "alpha", "a", "b")
    return float(model_class._log_likelihood(np.array([params[k] for k in names]), x, tx, T).sum())


def test_mbgnbd_does_not_keep_every_one_time_buyer_alive(cdnow):
    """BG/NBD gives every customer without a repeat purchase P(alive) = 1; MBG/NBD lets them
    leave after the first purchase, and the longer ago it was the less likely alive."""
    _, summary = cdnow
    alive = ModifiedBetaGeoModel().fit(summary).conditional_probability_alive(summary)
    once = summary["frequency"] == 0
    assert (alive[once] < 1).all()
    one_time = summary[once].assign(alive=alive[once]).sort_values("T")
    assert one_time["alive"].is_monotonic_decreasing


@pytest.mark.parametrize("model_class, names", [(ModifiedBetaGeoModel, ("r", "alpha", "a", "b")), (ParetoNBDModel, ("r", "alpha", "s", "beta"))])
def test_fast_fits_find_the_slow_fits_optimum(cdnow, model_class, names):
    """MBG/NBD's exact gradient and Pareto/NBD's per-pair hypergeometric terms are speed-ups
    only: a plain fit of the per-triple likelihood, numerically differentiated, lands on the
    same optimum."""
    from userops.analytics.clv import _fit_likelihood

    _, summary = cdnow
    fast = model_class().fit(summary)
    plain = lambda params, x, tx, T: model_class._log_likelihood(params, x, tx, T)  # noqa: E731 (no pair index)
    params, log_likelihood = _fit_likelihood(plain, summary, names, 0.0, "plain")
    assert fast.log_likelihood_ >= log_likelihood - 1e-6
    assert [fast.params_[n] for n in names] == pytest.approx([params[n] for n in names], rel=1e-3)


def test_pareto_a0_per_pair_equals_the_formula_per_customer(cdnow):
    from scipy.special import hyp2f1, logsumexp

    _, summary = cdnow
    x, tx, T = (summary[c].to_numpy("float64") for c in ("frequency", "recency", "T"))
    for params in ([0.55, 10.58, 0.61, 11.67], [0.55, 12.0, 0.61, 3.0]):  # α < β, then α > β
        r, alpha, s, beta = params
        low, high, b_arg = (alpha, beta, r + x) if alpha < beta else (beta, alpha, s + 1.0)
        rsx = r + s + x
        f_tx = hyp2f1(rsx, b_arg, rsx + 1.0, (high - low) / (high + tx))
        f_T = hyp2f1(rsx, b_arg, rsx + 1.0, (high - low) / (high + T))
        terms = np.array([np.log(f_tx) + rsx * np.log(high + T), np.log(f_T) + rsx * np.log(high + tx)])
        signs = np.array([np.ones_like(x), -np.ones_like(x)])
        with np.errstate(divide="ignore"):
            expected = logsumexp(terms, axis=0, b=signs) - rsx * np.log((high + tx) * (high + T))
        got = ParetoNBDModel._log_a0(np.array(params), x, tx, T)
        finite = np.isfinite(expected)
        assert (np.isfinite(got) == finite).all()
        assert got[finite] == pytest.approx(expected[finite], rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("model_class, tolerance", [(BetaGeoModel, 1e-9), (ModifiedBetaGeoModel, 1e-9), (ParetoNBDModel, 5e-4)])
def test_the_median_wait_is_where_the_next_purchase_has_an_even_chance(cdnow, model_class, tolerance):
    """At the wait, P(no purchase by then) is one half: exactly for BG/NBD and MBG/NBD (a
    closed form), to the grid's interpolation for Pareto/NBD; blank when the even chance never
    comes (P(alive) ≤ 1/2 under BG/NBD) or comes after the cap."""
    _, summary = cdnow
    model = model_class().fit(summary)
    cap = 52.0
    wait = model.median_time_to_next_purchase(summary, cap)
    shown = np.where(~np.isnan(wait))[0]
    assert 0 < len(shown) < len(summary) and (wait[shown] <= cap).all()
    for row in shown[:: max(1, len(shown) // 40)]:
        p_none = model.conditional_probability_of_no_purchase(float(wait[row]), summary.iloc[[row]]).iloc[0]
        assert p_none == pytest.approx(0.5, abs=tolerance)
    # blank: no even chance within the cap
    for row in np.where(np.isnan(wait))[0][:: max(1, int(np.isnan(wait).sum()) // 40)]:
        assert model.conditional_probability_of_no_purchase(cap, summary.iloc[[row]]).iloc[0] > 0.5 - tolerance
    if model_class is not ParetoNBDModel:
        alive = model.conditional_probability_alive(summary).to_numpy()
        assert np.isnan(wait[alive <= 0.5]).all()
