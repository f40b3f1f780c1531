"""``profile``: dataset KPIs, one profile row per customer, and activity per period (SPEC §4).

The pure functions take the scan's aggregates (see :mod:`userops.scan`):

* ``dataset_kpis(customers, as_of=..., median_gap_days=...)`` -> :class:`Kpis`
* ``customer_profile(customers, as_of=..., period=..., ...)`` -> DataFrame
* ``period_activity(periods, as_of=..., period=...)`` -> DataFrame

and :func:`profile_table` runs the scan and the analysis for the CLI and notebooks.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from userops import schema
from userops.analytics import lifecycle
from userops.analytics.periods import PERIOD_DAYS, is_complete
from userops.analytics.rows import EngineRows
from userops.glossary import say
from userops.scan import customers as scan_customers

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

    from userops.analytics.promotions import Promotion
    from userops.io.normalise import LoadedOrders
    from userops.scan.window import Window

PER_CHOICES = ("summary", "customer", "period")


@dataclass(frozen=True)
class Kpis:
    customers: int
    orders: int
    revenue: float | None
    aov: float | None
    orders_per_customer: float | None
    repeat_rate: float | None
    first_date: dt.date | None
    last_date: dt.date | None
    median_days_between_orders: float | None
    as_of: dt.date

    def to_frame(self) -> "pd.DataFrame":
        import pandas as pd

        return pd.DataFrame([asdict(self)], columns=schema.PROFILE_SUMMARY_COLUMNS)


@dataclass(frozen=True)
class ProfileResult(EngineRows):
    """The chosen table and the notes the CLI shows on stderr (chosen thresholds, caveats).
    The per-customer table is computed in the engine and kept as Arrow (``arrow``) for the
    writers; ``table`` is it as a pandas DataFrame for library use."""

    frame: "pd.DataFrame | None" = None
    notes: list[str] = field(default_factory=list)
    arrow: "pa.Table | None" = None

    @functools.cached_property
    def table(self) -> "pd.DataFrame":
        return self.rows_frame()


def _round(value: float | None, ndigits: int) -> float | None:
    if value is None or value != value:  # None or NaN
        return None
    return round(float(value), ndigits)


def dataset_kpis(customers: "pd.DataFrame", *, as_of: dt.date, median_gap_days: float | None) -> Kpis:
    """Headline KPIs from per-customer aggregates (``orders``, ``revenue``, ``first_order``, ``last_order``)."""
    n_customers = int(len(customers))
    totals = scan_customers.CustomerTotals(
        customers=n_customers,
        orders=int(customers["orders"].sum()) if n_customers else 0,
        revenue=customers["revenue"].sum(min_count=1) if n_customers else None,
        repeat_customers=int((customers["orders"] >= 2).sum()) if n_customers else 0,
        first_order=customers["first_order"].min() if n_customers else None,
        last_order=customers["last_order"].max() if n_customers else None,
    )
    return kpis_from_totals(totals, as_of=as_of, median_gap_days=median_gap_days)


def kpis_from_totals(totals: scan_customers.CustomerTotals, *, as_of: dt.date, median_gap_days: float | None) -> Kpis:
    """The headline KPIs of the window's customer totals (one definition for both routes)."""
    n_customers, n_orders = totals.customers, totals.orders
    revenue = _round(totals.revenue, schema.MONEY_DECIMALS)
    return Kpis(
        customers=n_customers,
        orders=n_orders,
        revenue=revenue,
        aov=_round(revenue / n_orders, schema.MONEY_DECIMALS) if revenue is not None and n_orders else None,
        orders_per_customer=_round(n_orders / n_customers, schema.RATE_DECIMALS) if n_customers else 0.0,
        repeat_rate=_round(totals.repeat_customers / n_customers, schema.RATE_DECIMALS) if n_customers else 0.0,
        first_date=totals.first_order.date() if totals.first_order is not None else None,
        last_date=totals.last_order.date() if totals.last_order is not None else None,
        median_days_between_orders=_round(median_gap_days, schema.DAYS_DECIMALS),
        as_of=as_of,
    )


def customer_profile(
    customers: "pd.DataFrame",
    *,
    as_of: dt.date,
    period: str,
    churn_threshold_days: int,
    median_gap_days: float | None,
) -> "pd.DataFrame":
    """One row per customer with the columns of ``schema.PROFILE_CUSTOMER_COLUMNS``."""
    import numpy as np
    import pandas as pd

    # numpy arrays in, one frame out: this runs on millions of customers
    first = customers["first_order"].to_numpy("datetime64[us]")
    last = customers["last_order"].to_numpy("datetime64[us]")
    orders = customers["orders"].to_numpy("int64")
    revenue = customers["revenue"].to_numpy("float64")
    as_of_day = np.datetime64(as_of, "D")
    with np.errstate(divide="ignore", invalid="ignore"):
        span_days = (last - first) / np.timedelta64(1, "s") / 86400.0
        mean_gap = np.where(orders > 1, span_days / (orders - 1), np.nan)
        aov = revenue / orders
    missing = pd.Series(pd.NA, index=customers.index, dtype="string")
    df = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "first_order": first,
            "last_order": last,
            "orders": orders,
            "revenue": np.round(revenue, schema.MONEY_DECIMALS),
            "aov": np.round(aov, schema.MONEY_DECIMALS),
            "mean_days_between_orders": np.round(mean_gap, schema.DAYS_DECIMALS),
            "tenure_days": (as_of_day - first.astype("datetime64[D]")).astype("int64"),
            "recency_days": (as_of_day - last.astype("datetime64[D]")).astype("int64"),
            "top_category": customers["top_category"] if "top_category" in customers else missing,
            "top_channel": customers["top_channel"] if "top_channel" in customers else missing,
            "active_periods": customers["active_periods"].to_numpy("int64"),
        },
        index=customers.index,
        copy=False,  # no block consolidation: ~1 s on 3M customers
    )
    df["lifecycle_status"] = lifecycle.lifecycle_status(
        df, period=period, churn_threshold_days=churn_threshold_days, median_gap_days=median_gap_days
    )
    if not df["customer_id"].is_monotonic_increasing:  # the scan already sorts; sorting text is slow
        df = df.sort_values("customer_id", kind="stable")
    if not isinstance(df.index, pd.RangeIndex) or df.index.start != 0:
        df = df.reset_index(drop=True)
    return df


def period_activity(periods: "pd.DataFrame", *, as_of: dt.date, period: str, promotions: "tuple[Promotion, ...]" = ()) -> "pd.DataFrame":
    """Per period: new and active customers, orders, revenue, AOV and whether it is complete;
    with ``promotions`` (and the scan's promo sums) also the promotions of the period
    (``promo``, names joined by " / "), its orders and revenue in them and their revenue share."""
    import pandas as pd

    from userops.analytics.periods import next_period_start

    df = periods.copy()
    df["period"] = pd.to_datetime(df["period"]).dt.date  # a DATE (DuckDB < 1.2) or a TIMESTAMP
    for col in ("new_customers", "active_customers", "orders"):
        df[col] = df[col].astype("int64")
    revenue = df["revenue"].astype("float64")
    df["revenue"] = revenue.round(schema.MONEY_DECIMALS)
    df["aov"] = (revenue / df["orders"]).round(schema.MONEY_DECIMALS)
    df["complete"] = [is_complete(p, period, as_of) for p in df["period"]]
    if "promo_orders" not in df:
        return df[schema.PROFILE_PERIOD_COLUMNS].reset_index(drop=True)
    by_start = sorted(promotions, key=lambda w: (w.start, w.name))
    df["promo"] = [
        " / ".join(dict.fromkeys(w.name for w in by_start if w.overlaps(p, next_period_start(p, period) - dt.timedelta(days=1)))) or None
        for p in df["period"]
    ]
    df["promo_orders"] = df["promo_orders"].astype("int64")
    promo_revenue = df["promo_revenue"].astype("float64")
    df["promo_revenue"] = promo_revenue.round(schema.MONEY_DECIMALS)
    df["promo_revenue_share"] = (promo_revenue / revenue).where(revenue != 0).round(schema.RATE_DECIMALS)
    return df[schema.PROFILE_PERIOD_COLUMNS + schema.PROFILE_PERIOD_PROMO_COLUMNS].reset_index(drop=True)


def profile_kpis(loaded: "LoadedOrders", window: "Window", *, gaps: bool = True) -> Kpis:
    """The headline KPIs of the window (what ``profile`` prints by default); without
    ``gaps`` the median days between orders is left blank (it costs a pass over the orders)."""
    median_gap = scan_customers.gap_stats(loaded, window, (0.5,))[0] if gaps else None
    return kpis_from_totals(scan_customers.customer_totals(loaded, window), as_of=window.as_of, median_gap_days=median_gap)


def window_kpis(loaded: "LoadedOrders", windows: list["Window"]) -> list[Kpis]:
    """:func:`profile_kpis` without gaps of several windows, from one pass over the orders."""
    return [kpis_from_totals(totals, as_of=window.as_of, median_gap_days=None) for totals, window in zip(scan_customers.customer_totals_of(loaded, windows), windows)]


def profile_table(
    loaded: "LoadedOrders", window: "Window", *, per: str = "summary", period: str = "month", lang: str = "en",
    promotions: "tuple[Promotion, ...] | None" = None,
) -> ProfileResult:
    """Run the scan aggregates and the analysis for one ``--per`` choice (lifecycle statuses
    named in ``lang``); ``promotions`` (the windows of a calendar, possibly none) add the
    promotion columns to ``--per period``."""
    notes: list[str] = []
    if not loaded.facts.has_amount:
        notes.append(say("no_amount_column"))
    if per == "period":
        from userops.scan.promotions import in_promotion

        promo = in_promotion("order_ts", promotions) if promotions is not None else None
        aggregates = scan_customers.period_aggregates(loaded, window, period=period, promo=promo)
        return ProfileResult(period_activity(aggregates, as_of=window.as_of, period=period, promotions=promotions or ()), notes)
    if per == "summary":
        return ProfileResult(profile_kpis(loaded, window).to_frame(), notes)
    median_gap, p90_gap = scan_customers.gap_stats(loaded, window, (0.5, lifecycle.CHURN_GAP_PERCENTILE))
    threshold = lifecycle.default_churn_threshold(p90_gap)
    why = say("why_gap_percentile") if p90_gap is not None else say("why_no_repeats")
    notes.append(say("lifecycle_threshold", days=threshold, why=why))
    # every customer's row is computed in the engine (customer_profile's definition, in SQL)
    table = scan_customers.customer_profiles(
        loaded, window, period=period, churn_threshold_days=threshold, median_gap_days=median_gap,
        new_within_days=PERIOD_DAYS[period], statuses=lifecycle.status_names(lang),
    )
    return ProfileResult(notes=notes, arrow=table)
