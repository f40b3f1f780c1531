"""churn: features and labels, the discounted CLV, Cox covariates, ranking metrics (hand-worked),
and the command on the examples and on CDNOW (published BG/NBD figures, the 39-week forecast)."""

import datetime as dt
import io
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.analytics import churn, churn_risk, clv, survival
from userops.cli.app import app
from userops.errors import UsageError
from userops.io.normalise import load_orders
from userops.scan.churn import churn_features


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def table(result):
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout), dtype={"customer_id": str})


FEATURE_ORDERS = """order_id,customer_id,order_date,amount,channel
A1,c1,2024-01-05,10,web
A2,c1,2024-02-10,20,app
A3,c1,2024-03-20,30,app
B1,c2,2024-01-20,50,app
C1,c3,2024-03-25,5,web
C2,c3,2024-04-10,7,web
"""


def test_parse_days():
    assert churn.parse_days("90d", "--horizon") == 90
    assert churn.parse_days("13w", "--horizon") == 91
    assert churn.parse_days("45", "--horizon") == 45
    assert churn.parse_days(None, "--threshold") is None
    for bad in ("0d", "3m", "soon", "-5"):
        with pytest.raises(UsageError):
            churn.parse_days(bad, "--horizon")


def test_churn_features_and_label_by_hand(write):
    loaded = load_orders([write("orders.csv", FEATURE_ORDERS)])
    window = loaded.window()  # as of 2024-04-10
    # snapshot as of 2024-03-31 (cutoff midnight 04-01), horizon 30 days: label window [04-01, 05-01)
    f = churn_features(loaded, window, dt.datetime(2024, 4, 1), 30).set_index("customer_id")
    c1, c2, c3 = f.loc["c1"], f.loc["c2"], f.loc["c3"]
    assert (c1["recency_days"], c1["tenure_days"], c1["frequency"], c1["monetary"]) == (11, 86, 3, 60)
    assert c1["max_order_value"] == 30
    assert (c1["orders_last_horizon"], c1["orders_prior_horizon"], c1["revenue_last_horizon"]) == (1, 1, 30)  # 03-20; 02-10
    assert c1["mean_gap_days"] == pytest.approx(75 / 2)  # 01-05 -> 03-20 over two gaps
    assert (c1["channels"], c1["first_channel"]) == (2, "web")
    assert (c2["recency_days"], c2["frequency"]) == (71, 1) and pd.isna(c2["mean_gap_days"])
    assert (c3["recency_days"], c3["tenure_days"], c3["frequency"]) == (6, 6, 1)  # the 04-10 order is after the cutoff
    assert (bool(c1["churned"]), bool(c2["churned"]), bool(c3["churned"])) == (True, True, False)
    unlabelled = churn_features(loaded, window, dt.datetime(2024, 4, 1), 30, label=False)
    assert "churned" not in unlabelled.columns


class FixedBG(clv.BetaGeoModel):
    def __init__(self, params):
        super().__init__()
        self.params_ = params


def test_clv_discounts_each_month_by_hand():
    bg = FixedBG({"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5})
    gg = clv.GammaGammaModel()
    gg.params_ = {"p": 6.0, "q": 4.0, "v": 15.0}
    summary = pd.DataFrame({"frequency": [3, 0], "recency": [20.0, 0.0], "T": [30.0, 10.0], "monetary_value": [40.0, np.nan]}, index=["x", "y"])
    value = gg.conditional_expected_average_profit(summary)
    # customer y has no repeats: the population mean p*v/(q-1) = 30
    assert value["y"] == pytest.approx(6 * 15 / 3)
    month = 365.25 / 12
    e1 = bg.conditional_expected_number_of_purchases_up_to_time(month / 7, summary)
    e2 = bg.conditional_expected_number_of_purchases_up_to_time(2 * month / 7, summary)
    e25 = bg.conditional_expected_number_of_purchases_up_to_time(75 / 7, summary)
    d = 0.02
    got = clv.customer_lifetime_value(bg, gg, summary, horizon_days=2 * month, discount_monthly=d)
    expected = value * (e1 / (1 + d) + (e2 - e1) / (1 + d) ** 2)
    assert np.allclose(got, expected)
    # a horizon that is not whole months: the last step is shorter and discounted by its fraction
    got = clv.customer_lifetime_value(bg, gg, summary, horizon_days=75, discount_monthly=d)
    expected = value * (e1 / (1 + d) + (e2 - e1) / (1 + d) ** 2 + (e25 - e2) / (1 + d) ** (75 / month))
    assert np.allclose(got, expected)
    # no discount: value times the purchases expected over the horizon
    assert np.allclose(clv.customer_lifetime_value(bg, gg, summary, horizon_days=75), value * e25)


def test_ranking_metrics_by_hand():
    label = np.array([1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.2, 0.1] + [0.05] * 10)
    ids = np.array([f"c{i:02d}" for i in range(20)])
    m = churn_risk.ranking_metrics(label, score, ids)
    assert m["churn_rate"] == pytest.approx(5 / 20)
    assert m["precision_top_decile"] == pytest.approx(1 / 2)  # top 2: c00 (1), c01 (0)
    assert m["lift_top_decile"] == pytest.approx(0.5 / 0.25)
    # ROC-AUC by counting pairs: positives at ranks with scores .9 .7 .6 .3 .05 vs the 15 negatives
    negatives = score[label == 0]
    pairs = sum((p > n) + 0.5 * (p == n) for p in score[label == 1] for n in negatives)
    assert m["roc_auc"] == pytest.approx(pairs / (5 * 15))


def test_cox_covariates_reference_is_the_most_common_level():
    attributes = pd.DataFrame(
        {"first_order_value": [10.0, 0.0, 30.0, 99.0], "first_channel": ["web", "app", "web", None], "first_category": ["A", "A", "A", "A"]}
    )
    design, references = survival.cox_covariates(attributes)
    assert list(design.columns) == ["log_first_order_value", "first_channel=(none)", "first_channel=app"]
    assert design["log_first_order_value"].tolist() == pytest.approx(np.log1p([10, 0, 30, 99]).tolist())
    assert design["first_channel=app"].tolist() == [0, 1, 0, 0]
    assert references["first_channel=app"] == "web"  # one category only: no dummy for it


@pytest.fixture(scope="module")
def example_run(examples_dir):
    orders = f"{examples_dir}/orders.csv"
    return orders, run("churn", orders), run("churn", orders), run("churn", orders, "--model-report", "--format", "json")


def test_examples_ranked_by_value_at_risk_and_rerun_identical(example_run):
    _, first, second, _ = example_run
    out = table(first)
    assert list(out.columns) == churn.CUSTOMER_COLUMNS
    assert first.stdout == second.stdout  # seeded model, stable sort
    var = out["value_at_risk"].to_numpy()
    assert (np.diff(var[~np.isnan(var)]) <= 0).all()
    assert np.allclose(out["value_at_risk"], out["churn_probability"] * out["clv"], rtol=1e-3, atol=0.05)  # from unrounded inputs
    assert out["churn_probability"].between(0, 1).all() and out["p_alive"].between(0, 1).all()
    assert set(out["risk_tier"]) <= set(churn.RISK_TIERS)
    churned = out["risk_tier"] == "churned"
    assert (out.loc[churned, "recency_days"] > 127).all() and (out.loc[~churned, "recency_days"] <= 127).all()
    assert "churn threshold: 127 days (90th percentile" in first.stderr


def test_examples_model_beats_recency_baseline_out_of_time(example_run):
    *_, report = example_run
    rows = {r["metric"]: r for r in json.loads(report.stdout)}
    assert rows["model_roc_auc"]["value"] > rows["baseline_roc_auc"]["value"]
    assert rows["churn_probability"]["detail"] == "the risk model (logistic regression, calibrated)"
    # judged on every metric: it loses PR-AUC by a hair, and says so
    assert rows["model_pr_auc"]["value"] < rows["baseline_pr_auc"]["value"]
    assert rows["beats_baseline"]["value"] == 0.0
    assert rows["beats_baseline"]["detail"].startswith("the model beats recency alone on ROC-AUC and top-decile precision but NOT on PR-AUC")
    assert rows["train_as_of"]["detail"] < rows["test_as_of"]["detail"]
    for key in ("r", "alpha", "a", "b", "p", "q", "gamma", "threshold_days", "model_pr_auc", "model_precision_top_decile", "baseline_lift_top_decile"):
        assert key in rows


def test_cdnow_forecast_and_published_parameters(cdnow_path):
    result = run("churn", cdnow_path, "--as-of", "1997-09-30", "--horizon", "39w", "--model-report", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {(r["section"], r["metric"]): r for r in json.loads(result.stdout)}
    for name, published in (("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)):
        assert rows[("bg_nbd", name)]["value"] == pytest.approx(published, rel=5e-3)
    for name, published in (("p", 6.25), ("q", 3.74), ("gamma", 15.44)):
        assert rows[("gamma_gamma", name)]["value"] == pytest.approx(published, rel=5e-3)
    assert rows[("bg_nbd", "forecast_purchases")]["value"] == pytest.approx(1653, abs=2)
    assert rows[("bg_nbd", "actual_purchases")]["value"] == 1882  # the model's known under-forecast, stated
    assert rows[("risk_model", "skipped")]["detail"]  # 39 weeks of history: no out-of-time snapshot pair
    customers = table(run("churn", cdnow_path, "--as-of", "1997-09-30", "--horizon", "39w"))
    assert len(customers) == 2357
    assert customers["expected_purchases"].sum() == pytest.approx(1653, abs=2)


def test_tier_top_keep_and_survival_tables(examples_dir):
    orders = f"{examples_dir}/orders.csv"
    high = table(run("churn", orders, "--tier", "high", "--top", "20", "--keep", "email"))
    assert len(high) == 20 and set(high["risk_tier"]) == {"high"} and high["email"].str.contains("@").all()
    curves = table(run("churn", orders, "--survival", "--by", "channel"))
    assert list(curves.columns) == survival.CURVE_COLUMNS
    assert set(curves["group"]) >= {"email", "social"}
    for _, curve in curves.groupby("group"):
        assert (np.diff(curve["survival"]) <= 1e-12).all() and (curve["ci_lower"] <= curve["survival"]).all()
    cox = run("churn", orders, "--cox")
    cox_table = table(cox)
    assert list(cox_table.columns) == survival.COX_COLUMNS
    assert "concordance" in cox.stderr and "proportional-hazards check" in cox.stderr
    assert (cox_table["hazard_ratio"] > 0).all()


def test_errors(examples_dir, write):
    orders = f"{examples_dir}/orders.csv"
    assert run("churn", orders, "--horizon", "soon").exit_code == 2
    assert run("churn", orders, "--tier", "doomed").exit_code == 2
    assert run("churn", orders, "--model-report", "--cox").exit_code == 2
    assert run("churn", orders, "--by", "weather").exit_code == 2
    no_channel = write("plain.csv", "customer_id,order_date,amount\na,2024-01-01,5\na,2024-02-01,6\nb,2024-01-15,7\n")
    result = run("churn", no_channel, "--by", "channel")
    assert result.exit_code == 65 and "no channel column" in result.stderr


def test_tiny_shop_is_refused_saying_what_is_missing(small_orders):
    """Three customers cannot pin down a purchase model: one line naming what is missing, not
    degenerate parameters dressed as a forecast."""
    result = run("churn", small_orders)
    assert result.exit_code == 65
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("userops: error: too little history to fit the purchase models: 3 customers (needs 100); 1 repeat buyer (needs 20)")
    assert "weeks" not in error  # Jan 10 to Mar 31: 11.6 weeks is enough
    assert "churn --survival and --cox need no purchase model" in error
    survival = run("churn", small_orders, "--survival")
    assert survival.exit_code == 0, survival.output


def test_a_small_shop_gets_a_list_and_says_what_it_skipped(write):
    """Just enough history for the purchase model (150 customers, a third of them back) but
    too little for the risk model: the list still comes, ranked by recency, and says so."""
    import numpy as np

    rng = np.random.default_rng(3)
    lines = ["customer_id,order_date,amount"]
    start = dt.date(2024, 1, 1)
    for i in range(150):
        day = int(rng.integers(0, 60))
        while day < 120:
            lines.append(f"C{i:03d},{start + dt.timedelta(days=day)},{rng.integers(10, 60)}.00")
            day += int(rng.exponential(40 if i % 3 == 0 else 400)) + 1
    result = run("churn", write("small.csv", "\n".join(lines) + "\n"), "--as-of", "2024-04-30")
    out = table(result)
    at_risk = out["value_at_risk"].dropna().tolist()
    assert at_risk and at_risk == sorted(at_risk, reverse=True)  # the list's order
    assert "risk model skipped" in result.stderr and "churn_probability: recency ranking" in result.stderr
    assert out["clv"].notna().all()


def test_a_fit_on_a_boundary_is_called_out(write):
    """Every customer buys once in January, a quarter of them once more in March: nothing
    tells the purchase rates apart, and the fit runs alpha to infinity."""
    lines = ["customer_id,order_date,amount"]
    for i in range(100):
        lines.append(f"C{i:03d},2024-01-{1 + i % 28:02d},{20 + i % 7}.00")
        if i < 25:
            lines.append(f"C{i:03d},2024-03-{1 + i % 28:02d},{30 + i % 5}.00")
    result = run("churn", write("flat.csv", "\n".join(lines) + "\n"), "--as-of", "2024-04-30")
    assert result.exit_code == 0, result.output
    assert "warning: BG/NBD's fit ran to a boundary (alpha = " in result.stderr
    assert "the data cannot pin that parameter down" in result.stderr


def test_threshold_override_and_survival_by_segment(examples_dir):
    orders = f"{examples_dir}/orders.csv"
    result = run("churn", orders, "--threshold", "30d")
    out = table(result)
    assert "churn threshold: 30 days (set with --threshold)" in result.stderr
    churned = out["risk_tier"] == "churned"
    assert (out.loc[churned, "recency_days"] > 30).all() and (out.loc[~churned, "recency_days"] <= 30).all()
    curves = table(run("churn", orders, "--survival", "--by", "segment"))
    assert {"Champions", "Hibernating"} <= set(curves["group"])
    first = curves.groupby("group")["days"].min()
    assert (first == 0).all()


def test_library_call_uses_the_shipped_playbook(examples_dir):
    loaded = load_orders([f"{examples_dir}/orders.csv"])
    result = churn.churn_customers(loaded, loaded.window("2025-06-30"))
    assert (result.customers["action"].astype(str) != "").all()
    assert list(result.customers.columns) == churn.CUSTOMER_COLUMNS


def test_discount_is_checked_before_reading_the_data(write, tmp_path, monkeypatch):
    path = write("o.csv", "customer_id,order_date,amount\n,2024-01-01,5\nc1,2024-01-02,5\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "userops.toml").write_text('[churn]\ndiscount = 2\n', encoding="utf-8")
    for args in ([], ["--discount", "3"]):
        result = CliRunner().invoke(app, ["churn", path, *args])
        assert result.exit_code == 2 and "--discount is a monthly rate between 0 and 1" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1  # the data was not read (no "dropped 1 row")
    (tmp_path / "userops.toml").write_text('[churn]\ndiscount = "x"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["churn", path])
    assert result.exit_code == 2 and "discount = 'x' in the config must be a number" in result.stderr


def test_survival_from_the_churn_snapshot_equals_the_queries(examples_dir):
    """The report draws the curves from the risk model's snapshot (days since the first and
    last purchase, first channel): the same curves and notes as from the engine's queries."""
    loaded = load_orders([f"{examples_dir}/orders.csv"])
    window = loaded.window("2025-06-30")
    result = churn.churn_customers(loaded, window)
    for by in (None, "channel"):
        queried = churn.survival_curves(loaded, window, result.threshold, by=by)
        from_snapshot = churn.survival_curves(loaded, window, result.threshold, by=by, features=result.features)
        pd.testing.assert_frame_equal(queried[0], from_snapshot[0])
        assert queried[1] == from_snapshot[1]


@pytest.mark.parametrize("ensemble_below", [churn_risk.ENSEMBLE_BELOW, 500])
def test_risk_scores_do_not_depend_on_the_classifier_threads(examples_dir, monkeypatch, ensemble_below):
    """churn gives the classifiers more threads once the value models beside them are done, a
    moment that depends on timing: the scores must not (gradient boosting, ensemble and single
    model, on one and on two OpenMP threads)."""
    monkeypatch.setattr(churn_risk, "ENSEMBLE_BELOW", ensemble_below)
    monkeypatch.setattr(churn_risk, "best_candidate", lambda scores: "gradient boosting")
    loaded = load_orders([f"{examples_dir}/orders.csv"])
    window = loaded.window("2025-06-30")
    asked = []

    def threads(n):
        return lambda: asked.append(n) or n

    snapshots = churn_risk.risk_snapshots(loaded, window, horizon_days=90)
    one = churn_risk.risk_model(snapshots, threads=threads(1))
    two = churn_risk.risk_model(snapshots, threads=threads(2))
    assert one.model == two.model == "gradient boosting" and asked.count(1) == asked.count(2) == 4
    pd.testing.assert_series_equal(one.scores, two.scores, check_exact=True)
    pd.testing.assert_frame_equal(one.metrics, two.metrics, check_exact=True)


def test_next_purchase_date_and_horizon_in_the_list(cdnow_path):
    """next_purchase_date: the as-of date plus the model's median wait, rounded up to a day;
    horizon_days: the horizon behind churn_probability, expected_purchases and clv."""
    from userops.analytics.clv import BetaGeoModel, calibration_summary

    result = run("churn", cdnow_path, "--as-of", "1997-09-30", "--horizon", "39w", "--model", "bgnbd", "--format", "csv", "-q")
    out = table(result).set_index("customer_id")
    assert (out["horizon_days"] == 273).all()
    loaded = load_orders([cdnow_path])
    summary = calibration_summary(loaded, loaded.window("1997-09-30"))
    wait = BetaGeoModel().fit(summary).median_time_to_next_purchase(summary, 365 / 7)
    expected = {
        c: (dt.date(1997, 9, 30) + dt.timedelta(days=int(np.ceil(round(w * 7, 6))))).isoformat() if w == w else None
        for c, w in zip(summary.index, wait)
    }
    shown = out["next_purchase_date"].astype(object).where(out["next_purchase_date"].notna(), None)
    assert shown.to_dict() == {c: expected[c] for c in out.index}
    assert 0 < shown.notna().sum() < len(shown)
