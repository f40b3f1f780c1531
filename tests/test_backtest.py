"""The holdout back-test of the purchase models (analytics/backtest.py) on the CDNOW sample:
as of 1998-06-30 with a 39-week horizon the cut is 1997-09-30, the split of the papers."""

import io

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.analytics.backtest import MODELS, TOP_FREQUENCY, holdout_backtest
from userops.cli.app import app
from userops.io.normalise import load_orders


@pytest.fixture(scope="module")
def backtest(cdnow_path):
    loaded = load_orders([cdnow_path])
    return holdout_backtest(loaded, loaded.window("1998-06-30"), horizon_days=273)


def hand_count(cdnow_path):
    """Per customer of the calibration period: repeat purchase days up to 1997-09-30 and
    purchase days from 1997-10-01 to 1998-06-30, counted with pandas from the file."""
    raw = pd.read_csv(cdnow_path, dtype={"customer_id": str}, parse_dates=["order_date"])
    days = raw[["customer_id", "order_date"]].drop_duplicates()
    before = days[days["order_date"] <= "1997-09-30"]
    after = days[(days["order_date"] > "1997-09-30") & (days["order_date"] <= "1998-06-30")]
    per = pd.DataFrame({"frequency": before.groupby("customer_id").size() - 1})
    per["holdout"] = after.groupby("customer_id").size().reindex(per.index, fill_value=0)
    per["group"] = np.minimum(per["frequency"], TOP_FREQUENCY)
    return per


def test_the_actual_column_is_a_hand_count(backtest, cdnow_path):
    per = hand_count(cdnow_path)
    assert str(backtest.cut) == "1997-09-30" and backtest.customers == len(per) == 2357
    expected = per.groupby("group")["holdout"].agg(["size", "mean"])
    assert list(backtest.by_frequency["frequency"]) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert list(backtest.by_frequency["customers"]) == list(expected["size"])
    assert backtest.by_frequency["actual"].to_numpy() == pytest.approx(expected["mean"].to_numpy(), rel=1e-12)
    assert backtest.tracking["actual"].iloc[-1] == per["holdout"].sum() == 1882
    assert len(backtest.tracking) == 39 and backtest.tracking["actual"].is_monotonic_increasing


def test_the_forecasts_and_the_winner(backtest):
    table = backtest.by_frequency
    totals = {m: float((table[m] * table["customers"]).sum()) for m in MODELS}
    assert totals["bgnbd"] == pytest.approx(1653.4, abs=0.1)  # FHL 2005's BG/NBD forecast
    for m in MODELS:  # the tracking's last week is the horizon: the same total
        assert backtest.tracking[m].iloc[-1] == pytest.approx(totals[m], rel=1e-9)
        misplaced = (table[m] * table["customers"] - table["actual"] * table["customers"]).abs().sum()
        assert backtest.errors[m] == pytest.approx(misplaced / 1882, rel=1e-9)
        assert backtest.total_errors[m] == pytest.approx((totals[m] - 1882) / 1882, rel=1e-9)
    assert backtest.best == min(MODELS, key=backtest.errors.get) == "bgnbd"


def run(*args):
    return CliRunner().invoke(app, ["churn", *args])


def test_churn_calibration_tables(cdnow_path):
    common = [cdnow_path, "--as-of", "1998-06-30", "--horizon", "39w", "--format", "csv"]
    first = run(*common, "--calibration", "frequency")
    assert first.exit_code == 0, first.output
    assert "BG/NBD fits best" in first.stderr and "up to 1997-09-30" in first.stderr
    table = pd.read_csv(io.StringIO(first.stdout), dtype={"calibration_frequency": str})
    assert list(table.columns) == [
        "calibration_frequency", "customers", "actual_mean_purchases", "bgnbd_mean_purchases", "pareto_mean_purchases", "mbgnbd_mean_purchases",
    ]
    assert table["customers"].sum() == 2357
    assert run(*common, "--calibration", "frequency").stdout == first.stdout  # reruns byte-identical
    weekly = pd.read_csv(io.StringIO(run(*common, "--calibration", "weekly", "-q").stdout))
    assert list(weekly["week"]) == list(range(1, 40)) and weekly["actual_cumulative_purchases"].iloc[-1] == 1882


@pytest.mark.parametrize(
    "args,message",
    [(["--calibration", "monthly"], "--calibration"), (["--calibration", "frequency", "--model-report"], "choose one")],
)
def test_churn_calibration_usage_errors(cdnow_path, args, message):
    result = run(cdnow_path, *args)
    assert result.exit_code == 2 and message in result.output


def test_a_horizon_before_every_purchase_is_refused(cdnow_path):
    result = run(cdnow_path, "--as-of", "1997-02-01", "--horizon", "60d", "--calibration", "frequency")
    assert result.exit_code == 65
    assert "no customers bought before the holdout cut 1996-12-03" in result.output


def test_count_interval_is_the_shortest_range_holding_the_level():
    from userops.analytics.clv import count_interval

    pmf = np.array([[0.5, 0.15, 0.05, 0.0], [0.3, 0.05, 0.05, 1.0], [0.2, 0.4, 0.5, 0.0], [0.0, 0.4, 0.4, 0.0]])
    lo, hi = count_interval(pmf, 0.8)
    # by column: [0, 1] holds 0.8; [2, 3] holds 0.8 (no single count does); [2, 3] holds 0.9;
    # a certain 1 is [1, 1]
    assert list(lo) == [0, 2, 2, 1] and list(hi) == [1, 3, 3, 1]


@pytest.mark.parametrize("model", ["bgnbd", "pareto", "mbgnbd"])
def test_the_count_distribution_has_the_models_mean(cdnow_path, model):
    from userops.analytics.clv import calibration_summary

    loaded = load_orders([cdnow_path])
    summary = calibration_summary(loaded, loaded.window("1997-09-30"))
    fitted = MODELS[model]().fit(summary)
    pmf = fitted.purchase_count_pmf(39, summary)
    assert pmf.sum(axis=0) == pytest.approx(1.0, abs=1e-12)
    mean = (np.arange(pmf.shape[0])[:, None] * pmf).sum(axis=0)
    assert mean == pytest.approx(fitted.conditional_expected_number_of_purchases_up_to_time(39, summary).to_numpy(), abs=1e-9)
    assert pmf[0] == pytest.approx(fitted.conditional_probability_of_no_purchase(39, summary).to_numpy(), abs=1e-12)


def test_80_percent_intervals_hold_about_80_percent_of_what_happened(cdnow_path):
    """CDNOW, as of 1997-09-30, 39 weeks: the share of customers whose purchase days in the
    39 weeks after fall inside their 80 % interval (the holdout the papers use)."""
    result = run(cdnow_path, "--as-of", "1997-09-30", "--horizon", "39w", "--interval", "0.8", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "80% intervals (BG/NBD): the total forecast 1,653.4 purchase days, 1,564.3 to 1,742.5" in result.stderr
    table = pd.read_csv(io.StringIO(result.stdout), dtype={"customer_id": str}).set_index("customer_id")
    actual = hand_count(cdnow_path)["holdout"].reindex(table.index)
    inside = (actual >= table["expected_purchases_lo"]) & (actual <= table["expected_purchases_hi"])
    assert 0.75 <= inside.mean() <= 0.85
    assert round(inside.mean(), 3) == 0.837
    # the CLV range is the CLV scaled to the count range's ends (a customer almost surely
    # buying nothing has [0, 0], below a small mean)
    table = table[table["expected_purchases"] > 0]  # shown as 0.0000: no ratio to check
    per_purchase = table["clv"] / table["expected_purchases"]
    assert table["clv_lo"].to_numpy() == pytest.approx((per_purchase * table["expected_purchases_lo"]).to_numpy(), abs=0.02)
    assert table["clv_hi"].to_numpy() == pytest.approx((per_purchase * table["expected_purchases_hi"]).to_numpy(), abs=0.02)
    assert ((table["expected_purchases_hi"] == 0) == (table["clv_hi"] == 0)).all()
    without = pd.read_csv(io.StringIO(run(cdnow_path, "--as-of", "1997-09-30", "--horizon", "39w", "--format", "csv", "-q").stdout), dtype={"customer_id": str})
    assert list(without.columns) == [c for c in table.reset_index().columns if not c.endswith(("_lo", "_hi"))]


def report_rows(result):
    table = pd.read_csv(io.StringIO(result.stdout))
    return {(row.section, row.metric): row for row in table.itertuples()}


def test_churn_with_the_pareto_model(cdnow_path):
    common = [cdnow_path, "--as-of", "1997-09-30", "--horizon", "39w", "--format", "csv", "--model", "pareto"]
    report = run(*common, "--model-report")
    assert report.exit_code == 0, report.output
    rows = report_rows(report)
    assert round(rows[("pareto_nbd", "r")].value, 2) == 0.55 and round(rows[("pareto_nbd", "beta")].value, 2) == 11.67
    assert rows[("pareto_nbd", "forecast_purchases")].value == pytest.approx(1665.5, abs=0.1)
    assert "back-test: Pareto/NBD forecast 1,665.5 purchase days" in report.stderr
    assert not any(section == "bg_nbd" for section, _ in rows)
    listed = pd.read_csv(io.StringIO(run(*common, "-q").stdout), dtype={"customer_id": str}).set_index("customer_id")
    bgnbd = pd.read_csv(io.StringIO(run(*common[:-2], "-q").stdout), dtype={"customer_id": str}).set_index("customer_id")
    one_time = listed["frequency"] == 0
    assert (listed.loc[one_time, "p_alive"] < 1).all() and (bgnbd.loc[one_time, "p_alive"] == 1).all()


def test_churn_model_auto_says_what_it_chose(backtest, cdnow_path):
    common = [cdnow_path, "--as-of", "1998-06-30", "--horizon", "39w", "--format", "csv", "--model", "auto", "--model-report"]
    first = run(*common)
    assert first.exit_code == 0, first.output
    rows = report_rows(first)
    assert rows[("model_choice", "chosen")].detail == "BG/NBD"
    for key in MODELS:
        assert rows[("model_choice", f"{key}_misplaced_share")].value == pytest.approx(backtest.errors[key], abs=1e-6)
    assert ("bg_nbd", "r") in rows
    # the three side by side, as fitted up to the cut (1997-09-30): the published parameters
    assert round(rows[("model_choice", "pareto_r")].value, 2) == 0.55 and round(rows[("model_choice", "pareto_beta")].value, 2) == 11.67
    assert round(rows[("model_choice", "bgnbd_alpha")].value, 3) == 4.414 and ("model_choice", "mbgnbd_b") in rows
    assert run(*common).stdout == first.stdout  # reruns byte-identical


def test_churn_model_auto_without_history_before_the_cut(cdnow_path):
    result = run(cdnow_path, "--as-of", "1997-04-30", "--horizon", "100d", "--model", "auto", "--format", "csv")
    assert result.exit_code == 0, result.output
    # 17 weeks in all, but only 2.7 before the cut: too little to choose a model on
    assert (
        "--model auto: no back-test (too little history to fit the models: "
        "2.7 weeks from the first purchase to the holdout cut 1997-01-20 (needs 8)); BG/NBD is used"
    ) in result.stderr
    early = run(cdnow_path, "--as-of", "1997-02-01", "--horizon", "60d", "--model", "auto", "--format", "csv")
    assert early.exit_code == 65 and "too little history to fit the purchase models: 4.4 weeks" in early.stderr


def test_an_unknown_model_is_a_usage_error(cdnow_path):
    result = run(cdnow_path, "--model", "gamma")
    assert result.exit_code == 2 and "--model" in result.output


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
def test_p_alive_week_by_week(cdnow_path, model):
    """Customer 00004 bought on 1997-01-01, 01-18 and 08-02: weeks end on the as-of date
    and go back to the first purchase; the last week's P(alive) is the list's."""
    common = [cdnow_path, "--as-of", "1997-09-30", "--horizon", "39w", "--format", "csv", "-q", "--model", model]
    history = run(*common, "--history", "00004,00021")
    assert history.exit_code == 0, history.output
    table = pd.read_csv(io.StringIO(history.stdout), dtype={"customer_id": str})
    mine = table[table["customer_id"] == "00004"]
    assert list(mine.columns) == ["customer_id", "week_end", "repeat_purchases", "p_alive"]
    assert mine["week_end"].iloc[0] == "1997-01-07" and mine["week_end"].iloc[-1] == "1997-09-30" and len(mine) == 39
    # repeat purchases counted up to each week's end: 0 until 01-18, 1 until 08-02, then 2
    by_week = dict(zip(mine["week_end"], mine["repeat_purchases"]))
    assert (by_week["1997-01-14"], by_week["1997-01-21"], by_week["1997-07-29"], by_week["1997-08-05"]) == (0, 1, 1, 2)
    listed = pd.read_csv(io.StringIO(run(*common).stdout), dtype={"customer_id": str}).set_index("customer_id")
    for customer in ("00004", "00021"):
        assert table[table["customer_id"] == customer]["p_alive"].iloc[-1] == listed.loc[customer, "p_alive"]
    if model == "bgnbd":  # no repeat purchase yet: BG/NBD's P(alive) is 1
        assert (mine[mine["repeat_purchases"] == 0]["p_alive"] == 1).all()


def test_history_usage_errors(cdnow_path):
    unknown = run(cdnow_path, "--history", "00004,99999")
    assert unknown.exit_code == 2 and "--history: no purchase in the window by '99999'" in unknown.output
    empty = run(cdnow_path, "--history", " , ")
    assert empty.exit_code == 2 and "--history needs customer ids" in empty.output


def test_history_with_the_default_model_uses_the_back_tests_choice(cdnow_path):
    """--model auto (the default) picks the model as the list does and says which; its last
    week is the list's p_alive."""
    common = [cdnow_path, "--as-of", "1998-06-30", "--horizon", "39w", "--format", "csv"]
    history = run(*common, "--history", "00004")
    assert history.exit_code == 0, history.output
    assert "BG/NBD fits best" in history.stderr
    listed = pd.read_csv(io.StringIO(run(*common, "-q").stdout), dtype={"customer_id": str}).set_index("customer_id")
    table = pd.read_csv(io.StringIO(history.stdout), dtype={"customer_id": str})
    assert table["p_alive"].iloc[-1] == listed.loc["00004", "p_alive"]
