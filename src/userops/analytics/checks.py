"""KPI checks that fail a cron job (``userops check``): rules in ``[[check]]`` tables.

A rule measures one metric for the latest complete period and compares it::

    [[check]]
    name = "repeat rate holds"    # optional: how the output names the rule
    metric = "repeat_rate"        # see METRICS
    period = "week"               # week | month: the latest complete one (default week)
    when = "drop"                 # below | above | drop | rise
    threshold = "2pp"             # 0.10 | 20% | 2pp | 0.8x
    against = "previous"          # previous | "average 4" (the mean of the 4 periods before)

* ``below`` / ``above``: breached when the value is under / over the threshold — a number,
  or ``0.8x``: 0.8 times the comparison (``against``).
* ``drop`` / ``rise``: breached when the value fell / grew from the comparison by more than
  the threshold — a number (absolute), ``20%`` (of the comparison) or ``2pp`` (points of a
  rate: 0.02).

Metrics, each for the latest complete period:

* order KPIs, as the report's cards: ``customers`` (to date), ``active_customers``,
  ``orders``, ``revenue``, ``aov``, ``repeat_rate`` (to date);
* ``funnel``: the conversion from the first to the last of ``steps`` (e.g.
  ``"checkout,purchase"``) within ``window`` (default 14d) of people starting in the period
  (needs events; a period counts once its people have had the whole window);
* ``retention``: the share of the latest cohort complete at ``k`` (default 1) buying again
  in period k (``period = "month"`` cohorts by default for this metric);
* ``churn_high``: customers in the high churn-risk tier as of the period's end (the churn
  model; slow on big exports).

A rule that cannot be evaluated (no events for a funnel, no complete period) is an error,
never a silent pass.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from userops.errors import DataError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from userops.io.normalise import LoadedEvents, LoadedOrders
    from userops.scan.window import Window

KPI_METRICS = ("customers", "active_customers", "orders", "revenue", "aov", "repeat_rate")
METRICS = (*KPI_METRICS, "funnel", "retention", "churn_high")
WHEN = ("below", "above", "drop", "rise")
PERIODS = ("week", "month")
KEYS = {"name", "metric", "period", "when", "threshold", "against", "steps", "window", "k"}
COLUMNS = ["rule", "status", "value", "compared_with", "threshold", "period", "detail"]
_THRESHOLD = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(%|pp|x)?\s*$")
_AGAINST = re.compile(r"^\s*(previous|average\s+(\d+))\s*$")


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str
    period: str
    when: str
    amount: float
    unit: str  # "", "%", "pp" or "x"
    threshold_text: str
    periods_back: int  # 1 = the previous period; N = the mean of the N before
    steps: tuple[str, ...] = ()
    window: str = "14d"
    k: int = 1


def parse_rules(tables: list[dict[str, Any]], *, source: str | None = None) -> list[Rule]:
    """Each ``[[check]]`` table as a Rule; a malformed one is a usage error naming it."""
    rules = []
    for i, table in enumerate(tables, start=1):
        label = str(table.get("name") or f"check {i} ({table.get('metric', '?')})")

        def bad(message: str, hint: str | None = None) -> UsageError:
            return UsageError(f"rule {label!r}: {message}", file=source, hint=hint)

        unknown = sorted(set(table) - KEYS)
        if unknown:
            raise bad(f"unknown key {unknown[0]!r}", hint=f"keys: {', '.join(sorted(KEYS))}")
        metric = table.get("metric")
        if metric not in METRICS:
            raise bad(f"metric must be one of {', '.join(METRICS)} (got {metric!r})")
        default_period = "month" if metric == "retention" else "week"
        period = table.get("period", default_period)
        if period not in PERIODS:
            raise bad(f"period must be week or month (got {period!r})")
        when = table.get("when")
        if when not in WHEN:
            raise bad(f"when must be one of {', '.join(WHEN)} (got {when!r})")
        text = str(table.get("threshold", ""))
        m = _THRESHOLD.match(text)
        if not m:
            raise bad(f"threshold {text!r} is not a number, N%, Npp or Nx", hint='e.g. threshold = "20%" or 0.1')
        amount, unit = float(m.group(1)), m.group(2) or ""
        if unit == "x" and when in ("drop", "rise"):
            raise bad("a threshold in x (times the comparison) goes with below or above")
        if unit in ("%", "pp") and when in ("below", "above"):
            raise bad(f"a threshold in {unit} is a change: it goes with drop or rise")
        against = _AGAINST.match(str(table.get("against", "previous")))
        if not against:
            raise bad(f"against must be previous or 'average N' (got {table.get('against')!r})")
        periods_back = int(against.group(2)) if against.group(2) else 1
        if not 1 <= periods_back <= 52:
            raise bad("against = 'average N' takes N from 1 to 52")
        steps = tuple(s.strip() for s in str(table.get("steps", "")).split(",") if s.strip())
        if metric == "funnel" and len(steps) < 2:
            raise bad("a funnel check needs steps, e.g. steps = \"checkout,purchase\"")
        k = table.get("k", 1)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 24:
            raise bad(f"k must be a whole number of periods from 1 to 24 (got {k!r})")
        rules.append(Rule(label, metric, period, when, amount, unit, text.strip(), periods_back, steps, str(table.get("window", "14d")), k))
    if not rules:
        raise UsageError("no check rules: add [[check]] tables to userops.toml or give --rules FILE", file=source)
    return rules


def evaluate(rule: Rule, series: list[float | None]) -> tuple[str, float | None, float | None, float]:
    """status ("ok" or "breached"), value, comparison and the limit the value was held to, from
    the metric's series (the latest complete period first, then the ones before)."""
    if not series or series[0] is None:
        raise DataError(f"rule {rule.name!r}: no value for the latest complete {rule.period}")
    value = float(series[0])
    before = [v for v in series[1:1 + rule.periods_back] if v is not None]
    needs_base = rule.when in ("drop", "rise") or rule.unit == "x"
    if needs_base and len(before) < rule.periods_back:
        raise DataError(f"rule {rule.name!r}: needs {rule.periods_back} complete {rule.period}(s) before the latest to compare with")
    base = sum(before) / len(before) if before and needs_base else None
    if rule.when in ("below", "above"):
        limit = rule.amount * base if rule.unit == "x" and base is not None else rule.amount
        breached = value < limit if rule.when == "below" else value > limit
    else:
        assert base is not None
        step = rule.amount / 100 * abs(base) if rule.unit == "%" else rule.amount / 100 if rule.unit == "pp" else rule.amount
        limit = base - step if rule.when == "drop" else base + step
        breached = value < limit if rule.when == "drop" else value > limit
    return ("breached" if breached else "ok"), value, base, limit


def periods_before(as_of: dt.date, period: str, n: int) -> list[tuple[dt.date, dt.date]]:
    """The latest complete period and the ``n - 1`` before it: (first day, last day), latest first."""
    from userops.analytics.periods import last_complete_period

    out = [last_complete_period(as_of, period)]
    while len(out) < n:
        out.append(last_complete_period(out[-1][0] - dt.timedelta(days=1), period))
    return out


def kpi_series(loaded: "LoadedOrders", window: "Window", rule: Rule) -> list[float | None]:
    """The order KPI of each period, latest first (one pass over the orders)."""
    from userops.analytics.profile import window_kpis

    spans = periods_before(window.as_of, rule.period, rule.periods_back + 1)
    floor = window.start.date() if window.start else None
    windows = [w for first, last in spans for w in (loaded.window(last, start=max(first, floor) if floor else first), loaded.window(last, start=floor))]
    kpis = window_kpis(loaded, windows)
    out: list[float | None] = []
    for i in range(len(spans)):
        own, to_date = kpis[2 * i], kpis[2 * i + 1]
        figures: dict[str, float | int | None] = {
            "customers": to_date.customers, "active_customers": own.customers, "orders": own.orders, "revenue": own.revenue, "aov": own.aov,
            "repeat_rate": to_date.repeat_rate,
        }
        figure = figures[rule.metric]
        out.append(None if figure is None else float(figure))
    return out


def funnel_series(events: "LoadedEvents", window: "Window", rule: Rule) -> list[float | None]:
    """The first-to-last step conversion of each complete period, latest first."""
    from userops.analytics import funnel as fun

    spec = fun.FunnelSpec(fun.parse_steps(",".join(rule.steps)), fun.parse_window(rule.window))
    table = fun.funnel_table(events, window, spec, trend=rule.period)
    last = table[(table["step"] == len(rule.steps)) & table["complete"]].sort_values("period", ascending=False)
    return [None if v != v else float(v) for v in last["conversion_from_start"].head(rule.periods_back + 1)]


def retention_series(loaded: "LoadedOrders", window: "Window", rule: Rule) -> list[float | None]:
    """The k-th period rate of each cohort complete at k, latest cohort first."""
    from userops.analytics.retention import retention

    result = retention(loaded, window, period=rule.period)
    if rule.k not in result.rates.columns:
        return []
    rates = result.rates[rule.k].dropna().sort_index(ascending=False)
    return [float(v) for v in rates.head(rule.periods_back + 1)]


def churn_series(loaded: "LoadedOrders", window: "Window", rule: Rule) -> list[float | None]:
    """Customers in the high tier as of each period's end, latest first (a churn run each)."""
    from userops.analytics.churn import churn_customers

    out: list[float | None] = []
    for _, last in periods_before(window.as_of, rule.period, rule.periods_back + 1):
        at = dataclasses.replace(window, as_of=last, end=dt.datetime.combine(last + dt.timedelta(days=1), dt.time()), until=None)
        customers = churn_customers(loaded, at, model="bgnbd").customers
        out.append(float((customers["risk_tier"] == "high").sum()))
    return out


def run_checks(rules: list[Rule], loaded: "LoadedOrders", window: "Window", events: "LoadedEvents | None" = None) -> "pd.DataFrame":
    """Every rule evaluated: COLUMNS, in the rules' order."""
    import pandas as pd

    rows = []
    for rule in rules:
        if rule.metric == "funnel":
            if events is None:
                raise UsageError(f"rule {rule.name!r}: a funnel check needs --events")
            series = funnel_series(events, events.window(window.as_of), rule)
        elif rule.metric == "retention":
            series = retention_series(loaded, window, rule)
        elif rule.metric == "churn_high":
            series = churn_series(loaded, window, rule)
        else:
            series = kpi_series(loaded, window, rule)
        status, value, base, limit = evaluate(rule, series)
        compared = "" if base is None else ("previous" if rule.periods_back == 1 else f"average of {rule.periods_back}")
        detail = f"{rule.metric} {rule.when} {rule.threshold_text}" + (f" against the {compared}" if compared else "") + f": limit {limit:.6g}"
        rows.append((rule.name, status, round(value, 6) if value is not None else None, None if base is None else round(base, 6), rule.threshold_text, rule.period, detail))
    return pd.DataFrame(rows, columns=COLUMNS)
