"""The churn risk model (SPEC §4 churn): who will not buy again within the horizon.

Snapshots. Features are computed from the purchases before a *cutoff*
(:func:`userops.scan.churn.churn_snapshots`, all three in one pass); the label of a snapshot is "no purchase in
[cutoff, cutoff + horizon)". With ``end`` the day after the as-of date and H the horizon:

* **out-of-time evaluation**: train on the snapshot at end − 2H, test on the snapshot at
  end − H (a later period the model never saw — what will happen when it is used), next to
  a recency-only baseline scored on the same test customers (more days since the last
  purchase = more likely to churn);
* **scoring**: the model is refit on the snapshot at end − H (the latest one whose outcome is
  known) and scores every customer from the features at ``end``.

The classifier is a logistic regression on log features or shallow histogram gradient
boosting, whichever has the better cross-validated ROC-AUC on the training snapshot, with
calibration so the probabilities can be read as probabilities: under 10,000 customers a 3-fold
ensemble with sigmoid calibration, above one model with isotonic calibration on a held-out
third. Large snapshots are fitted on a fixed stratified sample (FIT_CUSTOMERS) and evaluated on
another (EVALUATE_CUSTOMERS, said in the note); every customer is scored (gradient boosting
through its trees' lookup tables, :mod:`userops.analytics.tree_tables`). Seeds are fixed and
folds are not shuffled, so reruns are identical.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from userops.glossary import Joined, Name, Said, say
from userops.scan.churn import Snapshot, churn_snapshots

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    import numpy as np
    import pandas as pd

    from userops.analytics.tree_tables import TreeTables
    from userops.scan.load import HasOrders
    from userops.scan.window import Window

NUMERIC_FEATURES = [
    "recency_days", "tenure_days", "frequency", "monetary", "aov", "max_order_value",
    "orders_last_horizon", "orders_prior_horizon", "revenue_last_horizon", "mean_gap_days",
    "recency_over_gap", "channels",
]
#: Fewest customers, and fewest of each outcome, a snapshot needs for the model to be fitted.
MIN_CUSTOMERS = 200
MIN_PER_CLASS = 20
METRIC_COLUMNS = ["model", "roc_auc", "pr_auc", "precision_top_decile", "lift_top_decile", "brier", "customers", "churn_rate"]


@dataclass
class RiskResult:
    """Scores per customer (index customer_id) and how good they are."""

    scores: "pd.Series | None"  # churn probability at the as-of date; None when skipped
    metrics: "pd.DataFrame"  # METRIC_COLUMNS: the model and the recency baseline, out of time
    current: "pd.DataFrame"  # every customer's features at the as-of date (FEATURE_COLUMNS, by customer id)
    train_cutoff: dt.date | None = None
    test_cutoff: dt.date | None = None
    beats_baseline: bool | None = None
    skipped: str | None = None  # why the model was not fitted
    notes: list[str] = field(default_factory=list)
    model: str | None = None  # the chosen classifier
    ranks_better_than_recency: bool = False  # a better ROC-AUC out of time: its ranking is used
    verdict: str = ""  # the comparison with recency on every metric, in words


#: The metrics the model is judged on against recency (higher is better), with their labels.
JUDGED_METRICS = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "precision_top_decile": "top-decile precision"}


def compare_with_baseline(ours: dict[str, float], baseline: dict[str, float]) -> tuple[bool, str]:
    """Whether the model beats recency on every judged metric, and the comparison in words."""

    def pair(metric: str) -> Said:
        # one more digit when the usual ones would show a difference as a tie (0.928 vs 0.928)
        for digits in (3, 4, 5):
            if metric == "precision_top_decile":
                a, b = f"{ours[metric]:.{digits - 2}%}", f"{baseline[metric]:.{digits - 2}%}"
            else:
                a, b = f"{ours[metric]:.{digits}f}", f"{baseline[metric]:.{digits}f}"
            if a != b:
                break
        return say("metric_pair", metric=Name(JUDGED_METRICS[metric]), ours=a, baseline=b)

    wins = [m for m in JUDGED_METRICS if ours[m] > baseline[m]]
    losses = [m for m in JUDGED_METRICS if m not in wins]
    detail = Joined([pair(m) for m in JUDGED_METRICS], "semicolon_separator")
    if not losses:
        return True, say("verdict_all", detail=detail)
    if not wins:
        return False, say("verdict_none", detail=detail)
    return False, say(
        "verdict_some", wins=Joined([Name(JUDGED_METRICS[m]) for m in wins], "and_separator"),
        losses=Joined([Name(JUDGED_METRICS[m]) for m in losses], "and_separator"), detail=detail,
    )


def feature_matrix(features: "pd.DataFrame", channels: list[str]) -> "np.ndarray":
    """Numeric features (+ derived ratios) and the first channel as an ordinal code of
    ``channels`` (unknown or missing -> NaN, which the trees treat as its own branch)."""
    import numpy as np

    f = features
    frequency = f["frequency"].to_numpy("float64")
    monetary = f["monetary"].to_numpy("float64")
    gap = f["mean_gap_days"].astype("float64").to_numpy()
    recency = f["recency_days"].to_numpy("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = {"aov": monetary / np.maximum(frequency, 1), "recency_over_gap": np.where(gap > 0, recency / gap, np.nan)}
    columns = [derived[c] if c in derived else f[c].astype("float64").to_numpy() for c in NUMERIC_FEATURES]
    columns.append(channel_codes(f["first_channel"], channels))
    return np.column_stack(columns)


def channel_codes(first_channel: "pd.Series", channels: list[str]) -> "np.ndarray":
    """Each customer's first channel as its position in ``channels`` (unknown or missing:
    NaN), through the distinct values: this runs on every customer of three snapshots."""
    import numpy as np
    import pandas as pd

    values, distinct = pd.factorize(first_channel, use_na_sentinel=True)
    position = pd.Index(channels, dtype=object).get_indexer(np.asarray(distinct, dtype=object)).astype("float64")
    position[position < 0] = np.nan
    codes = np.full(len(values), np.nan)
    known = values >= 0
    codes[known] = position[values[known]]
    return codes


def top_channels(features: "pd.DataFrame", limit: int = 20) -> list[str]:
    """The most common first channels (ties alphabetical): the categories the model knows."""
    counts = features["first_channel"].dropna().value_counts()
    counts.index = counts.index.astype(str)
    counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    return list(counts.index[:limit])


def log_numeric(X: "np.ndarray") -> "np.ndarray":
    """The numeric features on a signed log scale, missing as 0 (for the linear model; the
    one-order customers' missing gap is already told by frequency = 1)."""
    import numpy as np

    X = np.nan_to_num(X[:, : len(NUMERIC_FEATURES)], nan=0.0)
    return np.sign(X) * np.log1p(np.abs(X))


def candidate_models(seed: int) -> dict[str, Any]:
    """The two classifiers tried: a regularised logistic regression on log features (strong
    when the signal is mostly recency × frequency and the data is small) and shallow
    histogram gradient boosting (interactions, the channel; wins on larger data)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return {
        # Newton steps on a dozen features: the exact optimum in a handful of iterations (lbfgs
        # stopped at its tolerance after ~50 and took 10x as long on 40,000 customers)
        "logistic regression": make_pipeline(
            FunctionTransformer(log_numeric), StandardScaler(), LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=100),
        ),
        "gradient boosting": HistGradientBoostingClassifier(
            max_iter=60, learning_rate=0.15, max_leaf_nodes=8, min_samples_leaf=40, l2_regularization=1.0,
            categorical_features=[len(NUMERIC_FEATURES)], early_stopping=False, random_state=seed,
        ),
    }


def select_model(X: "np.ndarray", y: "np.ndarray", seed: int) -> tuple[str, dict[str, float]]:
    """The candidate with the best 3-fold cross-validated ROC-AUC *on the training snapshot*
    (the test snapshot is never looked at to choose), and every candidate's score. For a small
    snapshot (under ENSEMBLE_BELOW customers); a large one is chosen while it is fitted
    (:meth:`CalibratedModel.chosen`)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = StratifiedKFold(n_splits=3, shuffle=False)
    scores = {name: float(cross_val_score(model, X, y, cv=folds, scoring="roc_auc").mean()) for name, model in candidate_models(seed).items()}
    return best_candidate(scores), scores


def best_candidate(scores: dict[str, float]) -> str:
    """The best-scoring candidate (a tie: the later name, as always)."""
    return max(scores, key=lambda name: (scores[name], name))


#: Customers the classifier is chosen, fitted and calibrated on at most: a fixed stratified
#: sample of a larger snapshot. A dozen features need no more; every customer is still scored.
FIT_CUSTOMERS = 30_000
#: Test-snapshot customers the out-of-time metrics are computed on at most (a fixed stratified
#: sample): the model and recency are compared on the same customers, and at this size the
#: ROC-AUC's standard error is about 0.003.
EVALUATE_CUSTOMERS = 50_000


def fit_sample(snapshot: "pd.DataFrame", channels: list[str], seed: int) -> tuple["np.ndarray", "np.ndarray"]:
    """The features and labels a classifier is fitted on: a fixed stratified sample of at
    most FIT_CUSTOMERS customers of the snapshot, drawn before the features are built (they
    are built for the sample only, not for millions of customers)."""
    label = snapshot["churned"].to_numpy(bool)
    rows = stratified_rows(label, FIT_CUSTOMERS, seed)
    sample = snapshot if len(rows) == len(snapshot) else snapshot.iloc[rows]
    return feature_matrix(sample, channels), label[rows]


def stratified_rows(y: "np.ndarray", limit: int, seed: int) -> "np.ndarray":
    """The positions of at most ``limit`` rows, the same share of each outcome, in order."""
    import numpy as np

    if len(y) <= limit:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(y), dtype=bool)
    for outcome in (False, True):
        rows = np.flatnonzero(y == outcome)
        take = int(round(limit * len(rows) / len(y)))
        keep[rng.choice(rows, size=take, replace=False)] = True
    return np.flatnonzero(keep)


def sampled(evaluated: int, customers: int) -> str:
    """How the evaluation was sampled, for the note (nothing when every customer was)."""
    return "" if evaluated == customers else say("sampled", evaluated=f"{evaluated:,}", customers=f"{customers:,}")


#: Below this many customers the model is a 3-fold cross-validated ensemble with sigmoid
#: calibration (every customer is needed to fit and to calibrate); above, one model.
ENSEMBLE_BELOW = 10_000


class CalibratedModel:
    """The chosen classifier with calibrated probabilities. Under ENSEMBLE_BELOW customers,
    sklearn's 3-fold calibrated ensemble (sigmoid); above, one model fitted on two thirds of
    the (sampled) snapshot and isotonic regression on the last third: a third of the fitting
    and of the scoring of every customer (on 1M order lines the ensemble took 13 s)."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.seed = seed
        self.tables_: "TreeTables | None" = None

    @classmethod
    def chosen(cls, X: "np.ndarray", y: "np.ndarray", seed: int) -> tuple["CalibratedModel", dict[str, float]]:
        """The best candidate by ROC-AUC on the training snapshot, fitted and calibrated, and
        every candidate's score. A small snapshot: 3-fold cross-validation (:func:`select_model`),
        then the ensemble. A large one: every candidate is fitted on the two thirds and scored on
        the third that then calibrates the chosen one (calibration is monotone: it does not
        change a ROC-AUC), so choosing costs one extra fit of the logistic regression."""
        from sklearn.metrics import roc_auc_score

        if len(y) < ENSEMBLE_BELOW:
            name, scores = select_model(X, y, seed)
            return cls(name, seed).fit(X, y), scores
        fit_rows, calibrate_rows = cls._split(X, y, seed)
        fitted, raw, scores = {}, {}, {}
        for name, model in candidate_models(seed).items():
            fitted[name] = model.fit(X[fit_rows], y[fit_rows])
            raw[name] = fitted[name].predict_proba(X[calibrate_rows])[:, 1]
            scores[name] = float(roc_auc_score(y[calibrate_rows], raw[name]))
        best = cls(best_candidate(scores), seed)
        best._calibrate(fitted[best.name], X[calibrate_rows], raw[best.name], y[calibrate_rows])
        return best, scores

    @staticmethod
    def _split(X: "np.ndarray", y: "np.ndarray", seed: int) -> tuple["np.ndarray", "np.ndarray"]:
        from sklearn.model_selection import StratifiedShuffleSplit

        fit_rows, calibrate_rows = next(StratifiedShuffleSplit(n_splits=1, test_size=1 / 3, random_state=seed).split(X, y))
        return fit_rows, calibrate_rows

    def _calibrate(self, model, X: "np.ndarray", raw: "np.ndarray", y: "np.ndarray") -> None:
        """Isotonic regression from ``raw`` (the model's probabilities for ``X``) to ``y``; the
        trees' lookup tables when they reproduce ``raw`` exactly."""
        from sklearn.isotonic import IsotonicRegression

        from userops.analytics.tree_tables import compiled

        self.model_ = model
        self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
        self.tables_ = compiled(model, X, raw)

    def fit(self, X: "np.ndarray", y: "np.ndarray") -> "CalibratedModel":
        from sklearn.calibration import CalibratedClassifierCV

        model = candidate_models(self.seed)[self.name]
        if len(y) < ENSEMBLE_BELOW:
            self.model_, self.calibrator_ = CalibratedClassifierCV(model, method="sigmoid", cv=3).fit(X, y), None
            return self
        fit_rows, calibrate_rows = self._split(X, y, self.seed)
        fitted = model.fit(X[fit_rows], y[fit_rows])
        self._calibrate(fitted, X[calibrate_rows], fitted.predict_proba(X[calibrate_rows])[:, 1], y[calibrate_rows])
        return self

    def predict_proba(self, X: "np.ndarray", threads: int = 1) -> "np.ndarray":
        """Calibrated probabilities of both classes; ``threads`` for the trees' lookup tables
        (sklearn's own scoring takes its OpenMP threads from :func:`classifier_threads`)."""
        import numpy as np

        if self.calibrator_ is None:
            return self.model_.predict_proba(X)
        raw = self.tables_.probabilities(X, threads) if self.tables_ is not None else self.model_.predict_proba(X)[:, 1]
        p = self.calibrator_.predict(raw)
        return np.column_stack([1 - p, p])


def ranking_metrics(label: "np.ndarray", score: "np.ndarray", ids: "np.ndarray") -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision), and precision and lift among the top 10% by
    score (ties broken by customer id, so the decile is the same on every run)."""
    import math

    import numpy as np
    from sklearn.metrics import average_precision_score, roc_auc_score

    label = label.astype(bool)
    base = float(label.mean())
    top_n = max(1, math.ceil(0.1 * len(label)))
    order = np.lexsort((ids, -score))[:top_n]
    precision = float(label[order].mean())
    return {
        "roc_auc": float(roc_auc_score(label, score)),
        "pr_auc": float(average_precision_score(label, score)),
        "precision_top_decile": precision,
        "lift_top_decile": precision / base if base > 0 else float("nan"),
        "customers": int(len(label)),
        "churn_rate": base,
    }


def classifier_threads(threads: int | None) -> contextlib.AbstractContextManager:
    """The classifiers' OpenMP threads bounded to ``threads`` (nothing when not given)."""
    from userops.analytics.model_threads import limited

    return limited(openmp=threads) if threads is not None else contextlib.nullcontext()


def _usable(snapshot: "pd.DataFrame", name: str) -> str | None:
    churned = int(snapshot["churned"].sum()) if len(snapshot) else 0
    if len(snapshot) < MIN_CUSTOMERS:
        return f"only {len(snapshot)} customers had bought before the {name} cutoff (needs {MIN_CUSTOMERS})"
    if min(churned, len(snapshot) - churned) < MIN_PER_CLASS:
        return f"the {name} snapshot has {churned} churned and {len(snapshot) - churned} retained customers (needs {MIN_PER_CLASS} of each)"
    return None


@dataclass
class RiskSnapshots:
    """The engine's part of the risk model: the features (and labels) per customer at the
    training cutoff, the test cutoff and the as-of date (:func:`risk_snapshots`)."""

    horizon_days: int
    current: "pd.DataFrame"  # every customer's features at the as-of date (FEATURE_COLUMNS, by customer id)
    train: "pd.DataFrame | None" = None  # None when the window is shorter than two horizons
    test: "pd.DataFrame | None" = None
    train_cutoff: dt.datetime | None = None  # the midnight after the training snapshot's day
    test_cutoff: dt.datetime | None = None


def risk_snapshots(orders: "HasOrders", window: "Window", *, horizon_days: int) -> RiskSnapshots:
    """The three snapshots from one pass over the orders (see the module docstring); only the
    one at the as-of date when the window is shorter than two horizons."""
    horizon = dt.timedelta(days=horizon_days)
    end = window.end
    train_cut, test_cut = end - 2 * horizon, end - horizon
    if window.start is not None and train_cut <= window.start:
        (current,) = churn_snapshots(orders, window, [Snapshot(end, label=False)], horizon_days)
        return RiskSnapshots(horizon_days, current)
    train, test, current = churn_snapshots(orders, window, [Snapshot(train_cut), Snapshot(test_cut), Snapshot(end, label=False)], horizon_days)
    return RiskSnapshots(horizon_days, current, train, test, train_cut, test_cut)


def risk_model(snapshots: RiskSnapshots, *, seed: int = 0, threads: "Callable[[], int] | None" = None) -> RiskResult:
    """Evaluate out of time, then refit and score every customer (see the module docstring).
    ``threads``: how many threads the classifiers may use from now on (sklearn's OpenMP, and
    the trees' lookup tables), asked before each fit and scoring: churn gives them more once
    the value models beside them are done."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import brier_score_loss

    horizon_days = snapshots.horizon_days
    current = snapshots.current
    empty = pd.DataFrame(columns=METRIC_COLUMNS)
    train, test, train_cut, test_cut = snapshots.train, snapshots.test, snapshots.train_cutoff, snapshots.test_cutoff
    if train is None or test is None or train_cut is None or test_cut is None:
        return RiskResult(None, empty, current, skipped=f"the window is shorter than two horizons ({2 * horizon_days} days) before the as-of date")
    for snapshot, name in ((train, "training"), (test, "test")):
        reason = _usable(snapshot, name)
        if reason:
            return RiskResult(None, empty, current, skipped=reason)

    channels = top_channels(train)
    X_train, y_train = fit_sample(train, channels, seed)

    def asked() -> int | None:
        return threads() if threads is not None else None

    with classifier_threads(asked()):
        model, cv_scores = CalibratedModel.chosen(X_train, y_train, seed)
    chosen = model.name
    label = test["churned"].to_numpy(bool)
    evaluated = test.iloc[stratified_rows(label, EVALUATE_CUSTOMERS, seed)]
    with classifier_threads(n := asked()):
        predicted = model.predict_proba(feature_matrix(evaluated, channels), n or 1)[:, 1]
    label_evaluated = evaluated["churned"].to_numpy(bool)
    ids = evaluated["customer_id"].astype(str).to_numpy()
    ours = ranking_metrics(label_evaluated, predicted, ids)
    ours["brier"] = float(brier_score_loss(label_evaluated, predicted))
    baseline = ranking_metrics(label_evaluated, evaluated["recency_days"].to_numpy("float64"), ids)
    baseline["brier"] = float("nan")  # a recency count is a ranking, not a probability
    metrics = pd.DataFrame([{"model": f"{chosen} (calibrated)", **ours}, {"model": "recency only (baseline)", **baseline}])[METRIC_COLUMNS]
    beats, verdict = compare_with_baseline(ours, baseline)
    ranks_better = ours["roc_auc"] > baseline["roc_auc"]
    notes: list[str] = [
        say("risk_model_chosen", model=Name(chosen), how=say("chosen_cv" if len(train) < ENSEMBLE_BELOW else "chosen_held_out"),
            tried=[say("model_score", model=Name(name), score=f"{score:.3f}") for name, score in cv_scores.items()]),
        say("risk_model_out_of_time", trained=train_cut.date() - dt.timedelta(days=1), tested=test_cut.date() - dt.timedelta(days=1),
            days=horizon_days, sampled=sampled(len(evaluated), len(test)), verdict=verdict),
    ]

    # refit on the latest labelled snapshot; score everyone as of the as-of date
    channels = top_channels(test)
    X_test, y_test = fit_sample(test, channels, seed)
    with classifier_threads(asked()):
        final = CalibratedModel(chosen, seed).fit(X_test, y_test)
    X_current = feature_matrix(current, channels)
    with classifier_threads(n := asked()):
        probability = final.predict_proba(X_current, n or 1)[:, 1] if len(current) else np.array([])
    scores = pd.Series(probability, index=pd.Index(current["customer_id"], name="customer_id"), name="churn_probability")
    return RiskResult(
        scores, metrics, current, train_cutoff=(train_cut - dt.timedelta(days=1)).date(), test_cutoff=(test_cut - dt.timedelta(days=1)).date(),
        beats_baseline=beats, notes=notes, model=chosen, ranks_better_than_recency=ranks_better, verdict=verdict,
    )
