"""Which purchase model to trust for a shop: the standard BTYD validation on the shop's own
history. Each model (BG/NBD, Pareto/NBD, MBG/NBD; :mod:`userops.analytics.clv`) is fitted on
the purchases up to a holdout cut — the as-of date minus the horizon — and its forecast for
the horizon is compared with the purchase days the same customers then had:

* by calibration frequency (repeat purchase days before the cut: 0, 1, …, 6, 7+): the
  customers, their mean actual holdout purchase days and each model's mean forecast;
* week by week: cumulative actual purchase days against each model's cumulative forecast
  (the tracking plot);
* the criterion: the holdout purchase days a model puts in the wrong frequency group — the
  sum over groups of |forecast − actual| — as a share of the actual total. It counts the
  error of the total and how the forecast is spread over light and heavy buyers; the model
  with the smallest wins (a tie: the order of :data:`MODELS`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from userops.analytics import clv
from userops.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from userops.io.normalise import LoadedOrders
    from userops.scan.window import Window

#: The models compared, in the order a tie is broken.
MODELS: dict[str, type[clv.BetaGeoModel | clv.ParetoNBDModel | clv.ModifiedBetaGeoModel]] = {
    "bgnbd": clv.BetaGeoModel, "pareto": clv.ParetoNBDModel, "mbgnbd": clv.ModifiedBetaGeoModel,
}
MODEL_NAMES = {"bgnbd": "BG/NBD", "pareto": "Pareto/NBD", "mbgnbd": "MBG/NBD"}
#: The tables of the back-test (:func:`calibration_table`).
CALIBRATION_VIEWS = ("frequency", "weekly")
#: Calibration frequencies shown one by one; this one and above are one group ("7+").
TOP_FREQUENCY = 7


@dataclass(frozen=True)
class Backtest:
    """What the holdout showed: see the module's docstring."""

    cut: dt.date  # the calibration ends on this day (inclusive); the holdout starts the next
    as_of: dt.date
    horizon_days: int
    customers: int  # in the calibration period
    by_frequency: "pd.DataFrame"  # frequency, customers, actual, <model>... (means per customer)
    tracking: "pd.DataFrame"  # week, actual, <model>... (cumulative purchase days)
    errors: dict[str, float]  # model -> purchase days in the wrong frequency group / actual total
    total_errors: dict[str, float]  # model -> (forecast − actual) / actual, over every customer
    best: str
    params: dict[str, dict[str, float]]  # model -> its parameters fitted up to the cut


def holdout_backtest(loaded: "LoadedOrders", window: "Window", *, horizon_days: int, unit_days: float = 7.0) -> Backtest:
    """Fit every model on the window up to ``as_of − horizon`` and compare its forecast for
    the horizon with the purchases that followed (up to the as-of date)."""
    import dataclasses

    import numpy as np
    import pandas as pd

    from userops.scan.customers import purchase_days_by_period_after

    cut = window.as_of - dt.timedelta(days=horizon_days)
    if window.start is not None and dt.datetime.combine(cut, dt.time()) < window.start:
        raise DataError(f"the holdout cut {cut} is before the window starts", hint="shorten --horizon or move --from back")
    calibration = dataclasses.replace(window, as_of=cut, end=dt.datetime.combine(cut + dt.timedelta(days=1), dt.time()))
    summary = clv.calibration_summary(loaded, calibration, unit_days=unit_days)
    if summary.empty:
        raise DataError(f"no customers bought before the holdout cut {cut}", hint="shorten --horizon")
    clv.check_enough_history(summary, model="the models", unit_days=unit_days, end=f"the holdout cut {cut}")
    holdout = purchase_days_by_period_after(loaded, calibration, window.end, unit_days=unit_days)
    weeks = int(np.ceil(horizon_days / unit_days))
    actual = holdout.groupby("customer_id")["purchase_days"].sum().reindex(summary.index, fill_value=0).to_numpy("float64")
    group = np.minimum(summary["frequency"].to_numpy("int64"), TOP_FREQUENCY)
    by_week = holdout.groupby("period")["purchase_days"].sum().reindex(range(weeks), fill_value=0).to_numpy("float64")
    tracking = {"week": np.arange(1, weeks + 1), "actual": np.cumsum(by_week)}
    # the last step ends at the horizon (a part week), the others a week apart
    steps = [min(k * unit_days, float(horizon_days)) / unit_days for k in range(1, weeks + 1)]
    # customers alike in (x, t_x, T) have the same forecast: each model forecasts the distinct
    # triples once, weighted by their customers (2.1M customers are ~10x fewer triples)
    triples = summary.groupby(["frequency", "recency", "T"], sort=True).size().reset_index(name="customers")
    triple_group = np.minimum(triples["frequency"].to_numpy("int64"), TOP_FREQUENCY)
    weight = triples["customers"].to_numpy("float64")

    def forecast(model_class) -> tuple[dict[str, float], "np.ndarray"]:
        model = model_class().fit(summary)
        return model.params_, model.expected_purchases(steps, triples) * weight

    # the fits are independent and their numpy/scipy loops release the GIL: side by side
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(MODELS), thread_name_prefix="userops-backtest") as pool:
        fitted = dict(zip(MODELS, pool.map(forecast, MODELS.values())))
    params = {name: p for name, (p, _) in fitted.items()}
    expected_of = {name: e for name, (_, e) in fitted.items()}
    groups = np.arange(TOP_FREQUENCY + 1)
    customers = np.bincount(group, minlength=len(groups))
    sums = {"actual": np.bincount(group, weights=actual, minlength=len(groups))}
    for name, expected in expected_of.items():
        sums[name] = np.bincount(triple_group, weights=expected[-1], minlength=len(groups))
        tracking[name] = expected.sum(axis=1)
    seen = customers > 0
    by_frequency = pd.DataFrame(
        {"frequency": [f"{g}+" if g == TOP_FREQUENCY else str(g) for g in groups[seen]], "customers": customers[seen]}
    )
    for column in ("actual", *MODELS):
        by_frequency[column] = sums[column][seen] / customers[seen]
    total = float(actual.sum())
    errors = {name: float(np.abs(sums[name] - sums["actual"]).sum() / total) if total else float("nan") for name in MODELS}
    total_errors = {name: float((sums[name].sum() - total) / total) if total else float("nan") for name in MODELS}
    best = min(MODELS, key=lambda name: (errors[name], list(MODELS).index(name)))
    return Backtest(cut, window.as_of, horizon_days, len(summary), by_frequency, pd.DataFrame(tracking), errors, total_errors, best, params)


def backtest_note(backtest: Backtest) -> str:
    """Which model the holdout favours, and by how much (a glossary message)."""
    from userops.glossary import say

    errors = "; ".join(f"{MODEL_NAMES[m]} {e:.1%} ({backtest.total_errors[m]:+.1%})" for m, e in backtest.errors.items())
    return say(
        "backtest", cut=backtest.cut.isoformat(), days=backtest.horizon_days, customers=f"{backtest.customers:,}", errors=errors,
        best=MODEL_NAMES[backtest.best],
    )


def calibration_table(backtest: Backtest, view: str) -> "pd.DataFrame":
    """The back-test as a table with its units in the column names: ``frequency`` (means per
    customer by calibration frequency) or ``weekly`` (cumulative purchase days)."""
    # forecasts to 2 decimals (cumulative days) and 4 (means per customer): the digits past
    # those are the order of a floating-point sum, not a difference between models
    if view == "weekly":
        renamed = {"actual": "actual_cumulative_purchases", **{m: f"{m}_cumulative_purchases" for m in MODELS}}
        return backtest.tracking.round({m: 2 for m in MODELS}).rename(columns=renamed)
    renamed = {"frequency": "calibration_frequency", "actual": "actual_mean_purchases", **{m: f"{m}_mean_purchases" for m in MODELS}}
    return backtest.by_frequency.round({"actual": 4, **{m: 4 for m in MODELS}}).rename(columns=renamed)
