"""``segment``: RFM scores and named segments per customer, the per-segment summary, and
lifecycle counts per period. The RFM maths is in :mod:`userops.analytics.rfm`, clustering
in :mod:`userops.analytics.clusters`, statuses in :mod:`userops.analytics.lifecycle`.

``segment_frame(customers, ...)`` is the pure function (per-customer aggregates in, a
:class:`~userops.analytics.rfm.SegmentResult` out); ``segment_customers(loaded, window, ...)``
runs the scan first, for the CLI and notebooks.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from userops.analytics import lifecycle, rfm
from userops.analytics.periods import PERIODS, is_complete
from userops.errors import UsageError
from userops.scan import customers as scan_customers

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

    import pandas as pd

    from userops.io.normalise import LoadedOrders
    from userops.scan.window import Window

LIFECYCLE_COLUMNS = ["period", "new", "returning", "resurrected", "dormant", "active", "complete"]


def segment_frame(
    customers: "pd.DataFrame",
    *,
    as_of: dt.date,
    scheme: str = "rfm10",
    bins: int = 5,
    monetary: str = "total",
    r_cuts: tuple[float, ...] | None = None,
    f_cuts: tuple[float, ...] | None = None,
    m_cuts: tuple[float, ...] | None = None,
    split: str = "mean",
    lang: str = "zh",
    k: int | None = None,
    period: str = "month",
    median_gap_days: float | None = None,
    churn_threshold_days: int = lifecycle.FALLBACK_CHURN_DAYS,
    actions: dict[str, str] | None = None,
    random_state: int = 0,
) -> rfm.SegmentResult:
    """Score and name every customer from per-customer aggregates
    (``customer_id, first_order, last_order, orders, revenue``)."""
    import numpy as np
    import pandas as pd

    if scheme not in rfm.SCHEMES:
        raise UsageError(f"--scheme must be one of {', '.join(rfm.SCHEMES)} (got {scheme!r})")
    if lang not in ("zh", "en"):
        raise UsageError(f"--lang must be zh or en (got {lang!r})")
    if scheme == "rfm10" and bins != 5:
        raise UsageError("the rfm10 grid is defined on 5 scores", hint="drop --bins or use --scheme cn8/kmeans")
    values = rfm.rfm_values(customers, as_of=as_of, monetary=monetary)
    no_amounts = rfm.no_amounts(values)
    if no_amounts and scheme != "rfm10":
        raise UsageError(
            f"--scheme {scheme} needs amounts (the M of RFM) and the data has none",
            hint="map an amount column (--amount-col) or use --scheme rfm10, which names segments by recency and frequency",
        )
    table, cuts = rfm.rfm_scores(values, bins=bins, r_cuts=r_cuts, f_cuts=f_cuts, m_cuts=m_cuts)
    notes = [f"RFM {cuts.describe()}"]
    if no_amounts:
        notes.append("no amounts in the data: monetary, m_score and revenue are blank; the segments use recency and frequency")
    order: list[str] = rfm.segment_order(scheme, lang)
    if scheme == "rfm10":
        table["segment"] = rfm.rfm10_segments(table["r_score"], table["f_score"]) if len(table) else []
    elif scheme == "cn8":
        codes, at = rfm.cn8_codes(values, split=split)
        table["segment"] = rfm.cn8_segments(codes, lang=lang)
        if at:
            notes.append(
                f"cn8 split at the {split}: recency {at['recency_days']:.2f} days, "
                f"frequency {at['frequency']:.2f}, monetary {at['monetary']:.2f}"
            )
    else:
        from userops.analytics.clusters import kmeans_segments

        clusters = kmeans_segments(values, k=k, lang=lang, random_state=random_state)
        table["segment"] = pd.Categorical(clusters.labels, categories=list(clusters.centroids["segment"]))
        order = list(clusters.centroids["segment"])
        tried = ", ".join(f"k={c}: {s:.3f}" for c, s in clusters.silhouettes.items())
        notes.append(f"k-means: k = {clusters.k}, silhouette {clusters.silhouette:.3f} ({tried})")

    first = customers["first_order"].to_numpy("datetime64[us]")
    last = customers["last_order"].to_numpy("datetime64[us]")
    orders = customers["orders"].to_numpy("int64")
    as_of_day = np.datetime64(as_of, "D")
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_gap = np.where(orders > 1, (last - first) / np.timedelta64(1, "s") / 86400.0 / (orders - 1), np.nan)
    status_input = {
        "tenure_days": (as_of_day - first.astype("datetime64[D]")).astype("int64"),
        "recency_days": table["recency_days"].to_numpy("int64"),
        "mean_days_between_orders": mean_gap,
    }
    table["lifecycle_status"] = lifecycle.lifecycle_status(
        pd.DataFrame(status_input, index=table.index), period=period,
        churn_threshold_days=churn_threshold_days, median_gap_days=median_gap_days,
    )
    if actions is None:
        from userops.analytics.playbook import actions as playbook_actions

        actions = playbook_actions()
    table["action"] = rfm.categorical_map(table["segment"].array, actions)
    table = table[rfm.CUSTOMER_COLUMNS]
    summary = rfm.segment_summary(table, revenue=customers["revenue"], order=order, actions=actions)
    return rfm.SegmentResult(table, summary, cuts, notes)


def check_segment_names(names: list[str], known: list[str]) -> None:
    """A --filter name that is not one of ``known`` (a typo, the other language) is an error."""
    missing = [n for n in names if n not in known]
    if missing:
        raise UsageError(f"no segment named {', '.join(repr(m) for m in missing)}", hint=f"segments: {', '.join(known)}")


def filter_segments(table: "pd.DataFrame", names: list[str], *, scheme_names: "Sequence[str]" = ()) -> "pd.DataFrame":
    """Only the customers in the named segments (the campaign list). A name that is neither
    one of the scheme's (``scheme_names``, e.g. :func:`rfm.segment_order`) nor in the table is
    an error; a known segment with no customers gives an empty list."""
    import pandas as pd

    segment = table["segment"]
    categories = list(segment.cat.categories) if isinstance(segment.dtype, pd.CategoricalDtype) else []
    known = list(dict.fromkeys([*scheme_names, *categories, *sorted(set(segment.dropna().astype(str)))]))
    check_segment_names(names, known)
    return table[segment.isin(names)].reset_index(drop=True)


def segment_customers(
    loaded: "LoadedOrders", window: "Window", *, keep: tuple[str, ...] = (), release: bool = False, **options
) -> rfm.SegmentResult:
    """Run the scan (per-customer aggregates, gap statistics) and :func:`segment_frame`.

    With ``release`` the engine is closed once the scan is done, before the scoring: its
    memory (the orders table) goes back first, which lowers the peak on millions of customers.
    The loaded data cannot be used again after that."""
    median_gap, p90_gap = scan_customers.gap_stats(loaded, window, (0.5, lifecycle.CHURN_GAP_PERCENTILE))
    threshold = lifecycle.default_churn_threshold(p90_gap)
    customers = scan_customers.customer_aggregates(loaded, window, period=None, detail=False)
    attributes = scan_customers.customer_attributes(loaded, window, keep) if keep else None
    if release:
        loaded.close()
    result = segment_frame(customers, as_of=window.as_of, median_gap_days=median_gap, churn_threshold_days=threshold, **options)
    notes = list(result.notes) + [f"lifecycle: churned after {threshold} days without a purchase"]
    table = result.customers
    if attributes is not None:
        table = with_kept_columns(table, attributes)
    return rfm.SegmentResult(table, result.summary, result.cuts, notes)


def with_kept_columns(table: "pd.DataFrame", attributes: "pd.DataFrame") -> "pd.DataFrame":
    """The customer list with the ``--keep`` columns (``attributes``: customer_id first, then
    the kept columns) on the right; a kept column named like one of the list's own
    (``customer_id``, ``segment``) is called ``<name> (input)``."""
    kept = attributes.iloc[:, 1:].copy()
    kept.columns = [f"{c} (input)" if c in table.columns else c for c in kept.columns]
    kept.insert(0, "customer_id", attributes.iloc[:, 0].to_numpy())
    return table.merge(kept, on="customer_id", how="left", sort=False)


def kept_attributes(loaded: "LoadedOrders", window: "Window", keep: "Sequence[str]") -> "pd.DataFrame":
    """Per customer, the latest non-blank value of each ``--keep`` column in the window."""
    return scan_customers.customer_attributes(loaded, window, tuple(keep))


def lifecycle_table(loaded: "LoadedOrders", window: "Window", *, period: str = "month") -> "pd.DataFrame":
    """Lifecycle counts per period (see :func:`userops.scan.customers.lifecycle_counts`)."""
    if period not in PERIODS:
        raise UsageError(f"--period must be one of {', '.join(PERIODS)} (got {period!r})")
    return lifecycle_frame(scan_customers.lifecycle_counts(loaded, window, period=period), as_of=window.as_of, period=period)


def lifecycle_frame(counts: "pd.DataFrame", *, as_of: dt.date, period: str) -> "pd.DataFrame":
    """Add ``active`` (= new + returning + resurrected) and ``complete`` to the counts."""
    import pandas as pd

    df = counts.copy()
    df["period"] = pd.to_datetime(df["period"]).dt.date  # a DATE (DuckDB < 1.2) or a TIMESTAMP
    for col in ("new", "returning", "resurrected", "dormant"):
        df[col] = df[col].astype("int64")
    df["active"] = df["new"] + df["returning"] + df["resurrected"]
    df["complete"] = [is_complete(p, period, as_of) for p in df["period"]]
    return df[LIFECYCLE_COLUMNS].reset_index(drop=True)

