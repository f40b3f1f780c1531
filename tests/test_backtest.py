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
