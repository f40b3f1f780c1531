"""``churn``: who is leaving, how soon, and what they are worth (SPEC §4 churn).

Puts together the pieces — the churn threshold (:mod:`lifecycle`), survival curves and Cox
(:mod:`survival`), the risk model (:mod:`churn_risk`) and BG/NBD + Gamma–Gamma value (:mod:`clv`)
— into the ranked list and the model report. Definitions of the per-customer columns:

* ``recency_days, frequency, monetary`` as in ``segment`` (days since the last purchase,
  orders, revenue in the window);
* ``p_alive`` (BG/NBD), ``expected_purchases`` over the horizon (BG/NBD, purchase days),
  ``expected_order_value`` (Gamma–Gamma), ``clv`` = their discounted product over the horizon;
* ``churn_probability``: the risk model's calibrated probability of no purchase within the
  horizon. When the model cannot be fitted, or ranks worse than recency out of time, the
  customers are ranked by recency (the baseline) on the scale of the available probabilities
  (BG/NBD's P(no purchase within the horizon), or the model's), said on stderr;
* ``value_at_risk`` = churn_probability × clv: the value expected over the horizon that is
  likely to be lost — what a win-back campaign is trying to keep. The list is sorted by it
  (then by churn probability, then id: without amounts, the likeliest to churn come first);
* ``risk_tier``: ``churned`` when the recency is already beyond the churn threshold, else
  ``high`` (probability ≥ 0.7), ``medium`` (≥ 0.4) or ``low``; the ``action`` comes from the
  playbook (``[churn]`` in data/playbook.toml, overridable in userops.toml).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from userops.analytics import churn_risk, lifecycle, model_threads, survival
from userops.analytics import clv as clvmod
from userops.analytics.backtest import MODEL_NAMES, MODELS
from userops.errors import DataError, UsageError
from userops.glossary import Name, say
from userops.scan import churn as scan_churn
from userops.scan import customers as scan_customers

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import TypeVar

    import numpy as np
    import pandas as pd

    from userops.analytics.backtest import Backtest
    from userops.io.normalise import LoadedOrders
    from userops.scan.window import Window

    T = TypeVar("T")
    PurchaseModel = clvmod.BetaGeoModel | clvmod.ParetoNBDModel | clvmod.ModifiedBetaGeoModel

CUSTOMER_COLUMNS = [
    "customer_id", "recency_days", "frequency", "monetary", "p_alive", "next_purchase_date", "horizon_days", "churn_probability",
    "expected_purchases", "expected_order_value", "clv", "value_at_risk", "risk_tier", "action",
]
#: next_purchase_date is left blank when the even chance of a next purchase is further away.
NEXT_PURCHASE_CAP_DAYS = 365
#: --interval's columns: the ends of each customer's purchase count and CLV ranges.
INTERVAL_COLUMNS = ("expected_purchases_lo", "expected_purchases_hi", "clv_lo", "clv_hi")
REPORT_COLUMNS = ["section", "metric", "value", "detail"]
RISK_TIERS = ("churned", "high", "medium", "low")
TIER_CUTS = {"high": 0.7, "medium": 0.4}
BY_CHOICES = ("channel", "category", "segment", "refund", "ship_days", "deliver_days", "promo")
#: --by choices from the first order's experience (:func:`order_status.first_order_experience`).
EXPERIENCE_BY = {"refund": "first_order_refunded", "ship_days": "days_to_ship", "deliver_days": "days_to_deliver", "promo": "first_order_promo"}
#: BG/NBD and Gamma–Gamma work in weeks (the published CDNOW parameters are in weeks).
UNIT_DAYS = 7.0
DEFAULT_HORIZON_DAYS = 90
DEFAULT_DISCOUNT = 0.01


@dataclass
class Threshold:
    days: int
    source: str  # how it was chosen, for stderr and the report


@dataclass
class ChurnResult:
    customers: "pd.DataFrame"  # CUSTOMER_COLUMNS, sorted by value at risk
    threshold: Threshold
    horizon_days: int
    discount_monthly: float
    purchases: "PurchaseModel"  # the purchase model the list uses (BG/NBD unless --model says)
    gamma_gamma: clvmod.GammaGammaModel | None
    risk: churn_risk.RiskResult
    forecast: float  # expected purchase days over the horizon, all customers
    actual: int | None  # purchase days that happened in the horizon after the as-of date, by the customers known then (back-test)
    notes: list[str] = field(default_factory=list)
    probability_source: str = ""  # what churn_probability is (the model, or the recency fallback)
    features: "pd.DataFrame | None" = None  # the risk model's snapshot at the as-of date (by customer id)
    model: str = "bgnbd"  # its key in backtest.MODELS
    backtest: "Backtest | None" = None  # --model auto: the holdout that chose it


def tier_action_key(tier: str) -> str:
    """The playbook entry of a risk tier: "churned" (shared with lifecycle), "high risk"..."""
    return tier if tier == "churned" else f"{tier} risk"


def tier_names(lang: str) -> dict[str, str]:
    """Each risk tier -> its name in ``lang``: in English the tiers as the list writes them
    (``high``), in another language the glossary's name of the tier's playbook entry
    (``high risk`` -> 高风险)."""
    from userops.glossary import name

    return {t: t if lang == "en" else name(tier_action_key(t), lang) for t in RISK_TIERS}


def in_language(customers: "pd.DataFrame", lang: str, actions: dict[str, str] | None = None) -> "pd.DataFrame":
    """The customer list (or part of it) with its risk tiers named in ``lang`` and each tier's
    action from the playbook entry of that name (the English entry when it has none)."""
    if lang == "en":
        return customers
    if actions is None:
        from userops.analytics.playbook import actions as playbook_actions

        actions = playbook_actions()
    names = tier_names(lang)
    action = {names[t]: actions.get(names[t], actions.get(tier_action_key(t), "")) for t in RISK_TIERS}
    out = customers.copy()
    out["risk_tier"] = customers["risk_tier"].astype("category").cat.rename_categories(lambda t: names.get(t, t))
    out["action"] = out["risk_tier"].map(action)
    return out


def parse_days(text: str | int | None, flag: str) -> int | None:
    """``90d``, ``13w``, ``90`` (days) -> whole days."""
    import re

    from userops.analytics.periods import LONGEST_SPAN_DAYS

    if text is None:
        return None
    if isinstance(text, bool):
        raise UsageError(f"{flag} {text!r} is not a number of days or weeks", hint="use e.g. 90d or 13w")
    if isinstance(text, int):
        days = text
    else:
        match = re.fullmatch(r"\s*(\d+)\s*([dw]?)\s*", str(text).lower())
        if not match:
            raise UsageError(f"{flag} {text!r} is not a number of days or weeks", hint="use e.g. 90d or 13w")
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
    if not 0 < days <= LONGEST_SPAN_DAYS:
        raise UsageError(f"{flag} {text!r} must be between 1 day and {LONGEST_SPAN_DAYS:,} days (ten years)")
    return days


def churn_threshold(loaded: "LoadedOrders", window: "Window", days: int | None = None) -> Threshold:
    """``days`` when given, else the 90th percentile of gaps between consecutive purchases."""
    if days is not None:
        return Threshold(days, say("threshold_set"))
    _, p90 = scan_customers.gap_stats(loaded, window, (0.5, lifecycle.CHURN_GAP_PERCENTILE))
    chosen = lifecycle.default_churn_threshold(p90)
    if p90 is None:
        return Threshold(chosen, say("threshold_fallback", days=chosen))
    return Threshold(chosen, say("threshold_p90", p90=f"{p90:.1f}"))


def customer_lifetimes(loaded: "LoadedOrders", window: "Window", threshold: Threshold) -> "pd.DataFrame":
    """Per customer: ``customer_id, duration_days, churned`` (see :mod:`survival`)."""
    customers = scan_customers.customer_aggregates(loaded, window, period=None, detail=False)
    if customers.empty:
        raise DataError("no customers with a purchase in the window")
    return survival.churn_lifetimes(customers, as_of=window.as_of, threshold_days=threshold.days)


def survival_groups(
    loaded: "LoadedOrders", window: "Window", by: str, customer_ids: "pd.Series", experience: "pd.DataFrame | None" = None, lang: str = "en",
) -> "pd.Series":
    """The group of each customer for ``--by``: first-order channel or category (known at
    acquisition), the first order's experience (refunded or cancelled, days to ship or to
    deliver, bought in a promotion: ``experience``), or today's rfm10 segment (descriptive:
    it uses the whole history)."""
    import pandas as pd

    if by not in BY_CHOICES:
        raise UsageError(f"--by must be one of {', '.join(BY_CHOICES)} (got {by!r})")
    if by in EXPERIENCE_BY:
        column = EXPERIENCE_BY[by]
        if experience is None or column not in experience:
            raise DataError(say("experience_missing", by=by), hint=say("experience_hint", by=by))
        values = experience.set_index("customer_id")[column].reindex(customer_ids.astype(str).to_numpy())
        if column in ("first_order_refunded", "first_order_promo"):
            from userops.glossary import name as named

            yes, no = {"first_order_refunded": ("refunded or cancelled", "not refunded"), "first_order_promo": ("promotion", "organic")}[column]
            values = values.map({True: named(yes, lang), False: named(no, lang)})
        return pd.Series(values.astype(object).to_numpy(), index=customer_ids.index)
    if by == "segment":
        from userops.analytics.segment import segment_customers

        table = segment_customers(loaded, window, lang="en").customers.set_index("customer_id")["segment"]
    else:
        table = scan_customers.first_order_attributes(loaded, window).set_index("customer_id")[f"first_{by}"]
        if table.isna().all():
            raise DataError(f"the data has no {by} column to group by", hint="map one with --columns or drop --by")
    return pd.Series(table.reindex(customer_ids.to_numpy()).astype(object).to_numpy(), index=customer_ids.index)


def survival_curves(
    loaded: "LoadedOrders", window: "Window", threshold: Threshold, *, by: str | None = None, features: "pd.DataFrame | None" = None,
    experience: "pd.DataFrame | None" = None, lang: str = "en",
) -> tuple["pd.DataFrame", list[str]]:
    """Kaplan–Meier curves (overall or per group) and a note per curve with its median.
    ``features`` (a churn result's snapshot at the as-of date of the same window) already has
    the days since the first and the last purchase and the first channel: no query then."""
    import pandas as pd

    if features is not None and by in (None, "channel"):
        if features.empty:
            raise DataError("no customers with a purchase in the window")
        lifetimes = survival.lifetimes_from_days(
            features["customer_id"], tenure_days=features["tenure_days"], recency_days=features["recency_days"], threshold_days=threshold.days,
        )
        groups = None
        if by == "channel":
            if features["first_channel"].isna().all():
                raise DataError("the data has no channel column to group by", hint="map one with --columns or drop --by")
            groups = pd.Series(features["first_channel"].astype(object).to_numpy(), index=lifetimes.index)
    else:
        lifetimes = customer_lifetimes(loaded, window, threshold)
        groups = survival_groups(loaded, window, by, lifetimes["customer_id"], experience, lang) if by else None
    fitted = survival.kaplan_meier_curves(lifetimes, by=groups)
    notes: list[str] = []
    for name, part, curve in fitted:
        median = curve.median
        shown = say("days_n", n=f"{median:.0f}") if median is not None else say("median_not_reached")
        notes.append(say("median_lifetime", group=name, shown=shown, customers=f"{len(part):,}", churned=f"{int(part['churned'].sum()):,}"))
    curves = survival.curve_table(fitted)
    return curves, notes


def cox_model(
    loaded: "LoadedOrders", window: "Window", threshold: Threshold, *, experience: "pd.DataFrame | None" = None, seed: int = 0,
) -> survival.CoxResult:
    """Cox proportional hazards of churn on what is known at the first purchase, and with
    ``experience`` on what the first order was like. Above ``COX_MAX_ROWS`` customers the
    model is fitted on a fixed random sample of them, drawn first: only the sample's
    covariates are built."""
    lifetimes = customer_lifetimes(loaded, window, threshold).reset_index(drop=True)
    notes: list[str] = []
    if experience is not None:
        # a first order still on its way has no shipping or delivery experience yet
        waiting = lifetimes["customer_id"].isin(set(experience.loc[experience["pending"], "customer_id"]))
        if waiting.any():
            notes.append(say("cox_pending", n=f"{int(waiting.sum()):,}"))
            lifetimes = lifetimes[~waiting].reset_index(drop=True)
    sampled = len(lifetimes) > survival.COX_MAX_ROWS
    if sampled:
        lifetimes = lifetimes.sample(n=survival.COX_MAX_ROWS, random_state=seed).sort_index()
    ids = lifetimes["customer_id"].to_numpy()
    attributes = scan_customers.first_order_attributes(loaded, window).set_index("customer_id").reindex(ids)
    if experience is not None:
        attributes = attributes.join(experience.set_index("customer_id"), how="left")
    design, references = survival.cox_covariates(attributes.reset_index(drop=True))
    result = survival.cox_table(lifetimes.reset_index(drop=True), design, references=references, seed=seed, sampled=sampled)
    result.notes[:0] = notes
    return result


class ChurnRun:
    """:func:`churn_customers` in two steps, for a caller with other work to do meanwhile
    (the report's other sections). Made, it runs the engine's part — the risk model's
    snapshots, the BTYD calibration summary, the threshold and (when the data reaches past the
    horizon) the back-test count — one query after the other, each on every engine thread,
    and starts each model on a thread as soon as its input is there: the risk model on the
    snapshots, BG/NBD and Gamma–Gamma (one core) on the summary. :meth:`result` waits for
    both and builds the list; :meth:`close` (after an error) drops what has not started."""

    def __init__(
        self, loaded: "LoadedOrders", window: "Window", *, horizon_days: int = DEFAULT_HORIZON_DAYS, threshold_days: int | None = None,
        discount_monthly: float = DEFAULT_DISCOUNT, actions: dict[str, str] | None = None, seed: int = 0, interval: float | None = None,
        model: str = "auto",
    ) -> None:
        check_discount(discount_monthly)
        if model not in (*PURCHASE_MODELS, "auto"):
            raise UsageError(f"--model must be one of auto, {', '.join(PURCHASE_MODELS)} (got {model!r})")
        self.horizon_days, self.discount_monthly, self.actions = horizon_days, discount_monthly, actions
        self.as_of = window.as_of
        self.has_amount = loaded.facts.has_amount
        # the classifiers get the engine's threads but one while the value models run beside
        # them, every thread after. BLAS gets one thread: its calls here are dot products over
        # the customers and a 12-feature Newton step, too small to share
        every = scan_churn.engine_threads(loaded)
        beside = max(1, every - 1)
        self._resources = contextlib.ExitStack()
        try:
            self.snapshots = churn_risk.risk_snapshots(loaded, window, horizon_days=horizon_days)
            if self.snapshots.current.empty:
                raise DataError("no customers with a purchase in the window")
            self._resources.enter_context(model_threads.limited(blas=1))  # waits for the command line's background imports
            self._pool = self._resources.enter_context(concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="userops-models"))
            valued: list[concurrent.futures.Future[ValueModels]] = []  # once submitted
            self._scored = self._pool.submit(
                churn_risk.risk_model, self.snapshots, seed=seed, threads=lambda: every if valued and valued[0].done() else beside,
            )
            summary = clvmod.calibration_summary(loaded, window, unit_days=UNIT_DAYS)
            clvmod.check_enough_history(summary, model=MODEL_NAMES.get(model, "the purchase models"), unit_days=UNIT_DAYS)
            self.model, self.backtest, self.model_notes = chosen_model(loaded, window, model, horizon_days)
            self._valued = self._pool.submit(
                value_models, summary, horizon_days=horizon_days, discount_monthly=discount_monthly, interval=interval, model=self.model,
            )
            valued.append(self._valued)
            self.threshold = churn_threshold(loaded, window, threshold_days)
            horizon_end = window.end + dt.timedelta(days=horizon_days)
            self.actual = None
            if loaded.last_ts is not None and loaded.last_ts >= horizon_end - dt.timedelta(days=1):
                self.actual = scan_customers.purchase_days_after(loaded, window, horizon_end)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Drop the work not yet started (an error or Ctrl-C on the caller's side), wait for
        the model threads, then give BLAS its threads back (again: nothing)."""
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self._resources.close()

    @property
    def current(self) -> "pd.DataFrame":
        """Every customer's features at the as-of date (the risk model's last snapshot)."""
        return self.snapshots.current

    def submit(self, work: "Callable[..., T]", *args: object, **kwargs: object) -> "concurrent.futures.Future[T]":
        """More work for the model threads, done when one of them is free."""
        return self._pool.submit(work, *args, **kwargs)

    def result(self) -> ChurnResult:
        """Both models' answers (after the work given with :meth:`submit` is done too), and
        the list built from them."""
        try:
            scored, values = self._scored.result(), self._valued.result()
        finally:
            self._resources.close()
        return churn_table(self, scored, values)


def churn_customers(
    loaded: "LoadedOrders",
    window: "Window",
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    threshold_days: int | None = None,
    discount_monthly: float = DEFAULT_DISCOUNT,
    actions: dict[str, str] | None = None,
    seed: int = 0,
    interval: float | None = None,
    model: str = "auto",
) -> ChurnResult:
    """The ranked per-customer list with everything behind it (see the module docstring);
    with ``interval``, each customer's purchase and CLV interval (:data:`INTERVAL_COLUMNS`);
    ``model``: the purchase model (``auto``: the best on a holdout, :func:`chosen_model`)."""
    return ChurnRun(
        loaded, window, horizon_days=horizon_days, threshold_days=threshold_days, discount_monthly=discount_monthly, actions=actions, seed=seed,
        interval=interval, model=model,
    ).result()


#: The purchase models --model names, and their model-report sections.
PURCHASE_MODELS = tuple(MODELS)
REPORT_SECTIONS = {"bgnbd": "bg_nbd", "pareto": "pareto_nbd", "mbgnbd": "mbg_nbd"}


def chosen_model(loaded: "LoadedOrders", window: "Window", model: str, horizon_days: int) -> tuple[str, "Backtest | None", list[str]]:
    """The purchase model to use, the back-test behind an ``auto`` choice and what to say:
    ``auto`` fits every model up to the as-of date minus the horizon and takes the best on
    what followed (:mod:`userops.analytics.backtest`); without enough history before that
    cut, BG/NBD, said so."""
    from userops.analytics.backtest import backtest_note, holdout_backtest

    if model != "auto":
        return model, None, []
    try:
        backtest = holdout_backtest(loaded, window, horizon_days=horizon_days)
    except DataError as exc:
        return "bgnbd", None, [say("model_auto_fallback", why=exc.message)]
    return backtest.best, backtest, [backtest_note(backtest)]


def check_discount(discount_monthly: float) -> None:
    """A monthly discount rate in [0, 1), else a usage error (before any query)."""
    if discount_monthly < 0 or discount_monthly >= 1:
        raise UsageError(f"--discount is a monthly rate between 0 and 1 (got {discount_monthly})", hint="e.g. 0.01 for 1% a month")


def churn_table(run: ChurnRun, scored: churn_risk.RiskResult, values: "ValueModels") -> ChurnResult:
    """The list from both models' answers (see the module docstring)."""
    import numpy as np
    import pandas as pd

    horizon_days, threshold, actions = run.horizon_days, run.threshold, run.actions
    notes: list[str] = [say("churn_threshold", days=threshold.days, source=threshold.source), *run.model_notes, *values.notes]
    customers = scored.current
    if customers.empty:
        raise DataError("no customers with a purchase in the window")
    ids = customers["customer_id"]
    recency = customers["recency_days"].to_numpy("int64")
    # without amounts the snapshot's revenue is 0; the list shows it blank
    revenue = customers["monetary"].to_numpy("float64") if run.has_amount else np.full(len(ids), np.nan)
    per_customer = aligned(values.per_customer, ids)
    p_alive, expected, order_value, value, no_purchase, wait = (
        per_customer[c].to_numpy("float64") for c in ("p_alive", "expected_purchases", "expected_order_value", "clv", "no_purchase", "next_purchase_units")
    )
    # the day by which the next purchase has an even chance (the wait rounded up to a day)
    wait_days = np.ceil(np.round(wait * UNIT_DAYS, 6))
    waits = ~np.isnan(wait_days)
    next_purchase = np.full(len(wait_days), None, dtype=object)
    next_purchase[waits] = (np.datetime64(run.as_of, "D") + wait_days[waits].astype("int64")).astype(object)  # datetime.date
    gamma_gamma = values.gamma_gamma
    notes.extend(scored.notes)
    if scored.scores is not None and scored.ranks_better_than_recency:
        churn_probability = aligned(scored.scores, ids).to_numpy("float64")
        source: str = say("source_model", model=Name(str(scored.model)))
    elif scored.scores is not None:
        churn_probability = recency_ranked(recency, aligned(scored.scores, ids).to_numpy("float64"))
        source = say("source_recency_model_scale")
        notes.append(say("churn_probability_source", source=source))
    else:
        # 1 − p_alive would give every one-time buyer 0 (BG/NBD's p_alive is 1 for them) and
        # rank worse than chance; recency is the baseline any ranking has to beat, so the
        # fallback ranks by it, on the scale of BG/NBD's P(no purchase within the horizon)
        churn_probability = recency_ranked(recency, no_purchase)
        source = say("source_recency_bgnbd", days=horizon_days, model=MODEL_NAMES[run.model])
        notes.append(say("risk_skipped", why=scored.skipped, source=source))

    tier_code = np.select(
        [recency > threshold.days, churn_probability >= TIER_CUTS["high"], churn_probability >= TIER_CUTS["medium"]], [0, 1, 2], default=3
    )
    tiers = pd.Categorical.from_codes(tier_code, categories=list(RISK_TIERS))
    if actions is None:  # as segment does: the shipped playbook unless the caller brings one
        from userops.analytics.playbook import actions as playbook_actions

        actions = playbook_actions()
    table = pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "recency_days": recency,
            "frequency": customers["frequency"].to_numpy("int64"),
            "monetary": revenue.round(2),
            "p_alive": p_alive.round(4),
            "next_purchase_date": next_purchase,
            "horizon_days": np.full(len(ids), horizon_days, dtype="int64"),
            "churn_probability": churn_probability.round(6),  # 4 places would tie neighbouring ranks
            "expected_purchases": expected.round(4),
            "expected_order_value": order_value.round(2),
            "clv": value.round(2),
            "value_at_risk": (churn_probability * value).round(2),
            "risk_tier": tiers,
            "action": pd.Categorical(np.array([actions.get(tier_action_key(t), "") for t in RISK_TIERS], dtype=object)[tier_code]),
        }
    )
    # highest value at risk first; then (ties, or no amounts to value) the likeliest to churn;
    # then the customer id (the rows come ordered by it), so reruns match
    columns = list(CUSTOMER_COLUMNS)
    if "expected_purchases_lo" in per_customer:  # --interval: each range beside its figure
        for column in INTERVAL_COLUMNS:
            values_of = per_customer[column].to_numpy("float64")
            table[column] = values_of.astype("int64") if column.startswith("expected") else values_of.round(2)
        columns[columns.index("expected_purchases") + 1:columns.index("expected_purchases") + 1] = list(INTERVAL_COLUMNS[:2])
        columns[columns.index("clv") + 1:columns.index("clv") + 1] = list(INTERVAL_COLUMNS[2:])
    descending = lambda column: -np.nan_to_num(table[column].to_numpy("float64"), nan=-np.inf)  # noqa: E731 (NaN last)
    order = np.lexsort((np.arange(len(table)), descending("churn_probability"), descending("value_at_risk")))
    table = table.iloc[order].reset_index(drop=True)

    forecast = float(np.nansum(expected))
    actual = run.actual
    if actual is not None:
        notes.append(
            f"back-test: {MODEL_NAMES[run.model]} forecast {forecast:,.1f} purchase days over the {horizon_days} days after the as-of date; "
            f"{actual:,} happened ({(forecast - actual) / actual:+.1%}), counting the customers known at the as-of date"
        )
    return ChurnResult(
        table[columns], threshold, horizon_days, run.discount_monthly, values.purchases, gamma_gamma, scored, forecast, actual, notes, source, customers,
        run.model, run.backtest,
    )


@dataclass
class ValueModels:
    """The purchase model (BG/NBD unless chosen otherwise) and Gamma–Gamma fitted on the
    window, and what they say per customer."""

    purchases: "PurchaseModel"
    gamma_gamma: clvmod.GammaGammaModel | None
    per_customer: "pd.DataFrame"  # by customer id: p_alive, expected_purchases, expected_order_value, clv, no_purchase
    notes: list[str]


def value_models(
    summary: "pd.DataFrame", *, horizon_days: int, discount_monthly: float, interval: float | None = None, model: str = "bgnbd",
) -> ValueModels:
    """Fit the purchase ``model`` (a key of :data:`backtest.MODELS`) and Gamma–Gamma on the
    calibration summary (:func:`clv.calibration_summary`);
    per customer P(alive), expected purchases and order value, CLV and P(no purchase) over
    the horizon (blank CLV and order value, with a note, when the spend model cannot be
    fitted). With ``interval`` (e.g. 0.8), each customer's purchase count interval (the
    shortest range holding that much of the model's distribution, :func:`clv.count_interval`)
    and the CLV scaled to its ends (``clv · lo / E[Y]``: the same purchase timing and order
    value; the spend's own spread is not in it), and a note with the total's interval."""
    import numpy as np
    import pandas as pd

    notes: list[str] = []
    if summary.empty:
        raise DataError("no customers with a purchase in the window")
    purchases = MODELS[model]().fit(summary)
    no_dropout = isinstance(purchases, clvmod.BetaGeoModel) and purchases.finds_no_dropout()
    on_boundary = clvmod.parameters_on_boundary(purchases.params_)
    if on_boundary and not no_dropout:  # (no dropout is said below, in its own words)
        notes.append(say("fit_on_boundary", model=MODEL_NAMES[model], params=", ".join(on_boundary)))
    horizon_units = horizon_days / UNIT_DAYS
    # the expected purchases at the end of each month of the horizon, for the CLV sum; the
    # last month ends at the horizon: the expected purchases shown
    steps = clvmod.month_steps(horizon_days)
    # customers alike in (x, t_x, T) get the same figures from the purchase model: it is
    # evaluated once per distinct triple (at 1M order lines 96K for 276K customers) and gathered
    keys = ["frequency", "recency", "T"]
    grouped = summary.groupby(keys, sort=True)
    at = grouped.ngroup().to_numpy()
    triples = grouped.size().reset_index()[keys]
    expected = purchases.expected_purchases([t / UNIT_DAYS for t in steps], triples)[:, at]
    try:
        gamma_gamma = clvmod.GammaGammaModel().fit(summary)
        order_value = gamma_gamma.conditional_expected_average_profit(summary).to_numpy()
        value = clvmod.discounted_value(expected, order_value, steps, discount_monthly)
    except DataError as exc:
        gamma_gamma = None
        order_value = np.full(len(summary), np.nan)
        value = np.full(len(summary), np.nan)
        notes.append(say("no_gamma_gamma", why=exc.message))
    if no_dropout:
        notes.append(say("bgnbd_no_dropout", a=f"{purchases.params_['a']:.2g}", b=f"{purchases.params_['b']:.2g}"))
    per_customer = pd.DataFrame(
        {
            "p_alive": purchases.conditional_probability_alive(triples).to_numpy()[at],
            "expected_purchases": expected[-1],
            "expected_order_value": order_value,
            "clv": value,
            "no_purchase": purchases.conditional_probability_of_no_purchase(horizon_units, triples).to_numpy()[at],
            "next_purchase_units": purchases.median_time_to_next_purchase(triples, NEXT_PURCHASE_CAP_DAYS / UNIT_DAYS)[at],
        },
        index=summary.index,
    )
    if interval is not None:
        # ranges per kind of customer (alike in x, T and P(alive)), then per customer
        pmf, kind_of_triple = purchases.purchase_count_distribution(horizon_units, triples)
        kind = kind_of_triple[at]
        lo_of, hi_of = clvmod.count_interval(pmf, interval)
        lo, hi = lo_of[kind], hi_of[kind]
        with np.errstate(divide="ignore", invalid="ignore"):
            per_unit = np.where(expected[-1] > 0, value / expected[-1], np.nan)
        per_customer["expected_purchases_lo"], per_customer["expected_purchases_hi"] = lo, hi
        per_customer["clv_lo"], per_customer["clv_hi"] = per_unit * lo, per_unit * hi
        total_lo, total_hi = clvmod.total_interval(pmf, interval, np.bincount(kind, minlength=pmf.shape[1]))
        notes.append(say(
            "interval_total", level=f"{interval:.0%}", model=MODEL_NAMES[model], forecast=f"{expected[-1].sum():,.1f}", lo=f"{total_lo:,.1f}", hi=f"{total_hi:,.1f}",
        ))
    return ValueModels(purchases, gamma_gamma, per_customer, notes)


def aligned(frame: "pd.DataFrame | pd.Series", ids: "pd.Series") -> "pd.DataFrame | pd.Series":
    """``frame`` (indexed by customer id) in the order of ``ids``: as it is when both come
    from the engine ordered by customer id (the common case, without a hash lookup per
    customer), else reindexed."""
    import pandas as pd

    if len(frame) == len(ids) and frame.index.equals(pd.Index(ids)):
        return frame
    return frame.reindex(ids.to_numpy())


def recency_ranked(recency: "np.ndarray", probabilities: "np.ndarray") -> "np.ndarray":
    """The given probabilities reassigned in order of recency (the longest since the last
    purchase gets the highest; equal recency, the mean of their share): the ranking is
    exactly recency's, the distribution of probabilities is the model's."""
    import numpy as np
    import pandas as pd

    values = np.sort(np.nan_to_num(np.asarray(probabilities, dtype="float64"), nan=np.nanmean(probabilities) if len(probabilities) else 0.0))
    order = np.argsort(recency, kind="stable")
    assigned = np.empty(len(values))
    assigned[order] = values
    return pd.Series(assigned).groupby(np.asarray(recency)).transform("mean").to_numpy()


def model_report(result: ChurnResult, lang: str = "en") -> "pd.DataFrame":
    """Every number behind the list, one per row: ``section, metric, value, detail`` (the
    section and metric are keys; the detail is said in ``lang``)."""
    import math

    import pandas as pd

    rows: list[tuple[str, str, float | None, str]] = []
    customers = result.customers
    rows.append(("data", "customers", float(len(customers)), ""))
    rows.append(("churn", "threshold_days", float(result.threshold.days), result.threshold.source))
    rows.append(("churn", "horizon_days", float(result.horizon_days), say("detail_horizon")))
    rows.append(("churn", "discount_monthly", result.discount_monthly, say("detail_discount")))
    for tier in RISK_TIERS:
        rows.append(("churn", f"customers_{tier}", float((customers["risk_tier"] == tier).sum()), say("detail_risk_tier")))
    if result.backtest is not None:
        backtest = result.backtest
        for key in PURCHASE_MODELS:
            rows.append(("model_choice", f"{key}_misplaced_share", backtest.errors[key], say("detail_misplaced", model=MODEL_NAMES[key], cut=backtest.cut.isoformat())))
            rows.append(("model_choice", f"{key}_total_error", backtest.total_errors[key], ""))
            # the three side by side, as fitted up to the cut, to 4 significant digits: a
            # holdout fit on a small shop's history is flat past them (the 6th moves with the
            # scipy version)
            for name, value in backtest.params[key].items():
                rows.append(("model_choice", f"{key}_{name}", float(f"{value:.4g}"), say("detail_fitted_to_cut", model=MODEL_NAMES[key], cut=backtest.cut.isoformat())))
        rows.append(("model_choice", "chosen", None, MODEL_NAMES[backtest.best]))
    section = REPORT_SECTIONS[result.model]
    for name, value in result.purchases.params_.items():
        rows.append((section, name, value, say("detail_weeks")))
    rows.append((section, "log_likelihood", result.purchases.log_likelihood_, ""))
    rows.append((section, "forecast_purchases", result.forecast, say("detail_forecast", days=result.horizon_days)))
    if result.actual is not None:
        gap = (result.forecast - result.actual) / result.actual if result.actual else float("nan")
        rows.append((section, "actual_purchases", float(result.actual), say("detail_actual", days=result.horizon_days, gap=f"{gap:+.1%}")))
    if result.gamma_gamma is not None:
        g = result.gamma_gamma.params_
        for name, label in (("p", "p"), ("q", "q"), ("v", "gamma")):
            rows.append(("gamma_gamma", label, g[name], ""))
        rows.append(("gamma_gamma", "customers", float(result.gamma_gamma.n_customers_), say("detail_gamma_customers")))
    scored = result.risk
    rows.append(("risk_model", "churn_probability", None, result.probability_source))
    if scored.skipped:
        rows.append(("risk_model", "skipped", None, scored.skipped))
    else:
        rows.append(("risk_model", "train_as_of", None, scored.train_cutoff.isoformat() if scored.train_cutoff else ""))
        rows.append(("risk_model", "test_as_of", None, scored.test_cutoff.isoformat() if scored.test_cutoff else ""))
        rows.append(("risk_model", "model", None, Name(scored.model) if scored.model else ""))
        for _, m in scored.metrics.iterrows():
            prefix = "baseline" if m["model"].startswith("recency") else "model"
            for metric in ("roc_auc", "pr_auc", "precision_top_decile", "lift_top_decile", "brier", "customers", "churn_rate"):
                value = m[metric]
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    continue
                rows.append(("risk_model", f"{prefix}_{metric}", float(value), say("detail_out_of_time", model=Name(m["model"]))))
        rows.append(("risk_model", "beats_baseline", float(bool(scored.beats_baseline)), scored.verdict))
    from userops.glossary import in_language

    frame = pd.DataFrame([(*row[:3], in_language(row[3], lang)) for row in rows], columns=REPORT_COLUMNS)
    frame["value"] = frame["value"].astype("float64").round(6)
    return frame


#: --history's columns.
HISTORY_COLUMNS = ["customer_id", "week_end", "repeat_purchases", "p_alive"]


def alive_history(loaded: "LoadedOrders", window: "Window", ids: "list[str]", *, model: str = "bgnbd") -> "pd.DataFrame":
    """P(alive) of each given customer at the end of every week of their history — weeks
    ending on the as-of date, counted back to their first purchase — with the purchase
    ``model`` fitted on every customer of the window (as the list's p_alive: the last row of
    each customer is the list's value). A customer with no purchase in the window is a
    usage error naming them."""
    import numpy as np
    import pandas as pd

    days = scan_customers.purchase_days_of(loaded, window, ids)
    bought = set(days["customer_id"])
    missing = [i for i in ids if i not in bought]
    if missing:
        raise UsageError(f"--history: no purchase in the window by {', '.join(repr(m) for m in missing[:5])}", hint="give customer ids as the list shows them")
    summary = clvmod.calibration_summary(loaded, window, unit_days=UNIT_DAYS)
    clvmod.check_enough_history(summary, model=MODEL_NAMES[model], unit_days=UNIT_DAYS)
    fitted = MODELS[model]().fit(summary)
    as_of = pd.Timestamp(window.as_of)
    rows = []
    for customer in ids:
        bought = pd.to_datetime(days.loc[days["customer_id"] == customer, "day"]).sort_values().to_numpy()
        first = bought[0]
        weeks = int((as_of - pd.Timestamp(first)).days // 7)
        for k in range(weeks, -1, -1):
            end = as_of - pd.Timedelta(days=7 * k)
            seen = bought[bought <= end.to_datetime64()]
            rows.append((customer, end.date(), len(seen) - 1, (seen[-1] - first) / np.timedelta64(1, "D") / UNIT_DAYS, (end - pd.Timestamp(first)).days / UNIT_DAYS))
    frame = pd.DataFrame(rows, columns=["customer_id", "week_end", "frequency", "recency", "T"])
    frame["repeat_purchases"] = frame["frequency"]
    frame["p_alive"] = fitted.conditional_probability_alive(frame[["frequency", "recency", "T"]]).to_numpy().round(4)
    return frame[HISTORY_COLUMNS]
