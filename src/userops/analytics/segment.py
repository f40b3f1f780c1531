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
from userops.glossary import Name, say
from userops.scan import customers as scan_customers

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

    import pandas as pd
    import pyarrow as pa

    from userops.analytics.promotions import Promotion
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
    lang: str = "en",
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

    check_options(scheme=scheme, lang=lang, bins=bins, monetary=monetary, r_cuts=r_cuts, f_cuts=f_cuts, m_cuts=m_cuts, split=split)
    values = rfm.rfm_values(customers, as_of=as_of, monetary=monetary)
    no_amounts = rfm.no_amounts(values)
    check_amounts(scheme, no_amounts)
    table, cuts = rfm.rfm_scores(values, bins=bins, r_cuts=r_cuts, f_cuts=f_cuts, m_cuts=m_cuts)
    notes = scoring_notes(cuts, no_amounts)
    order: list[str] = rfm.segment_order(scheme, lang)
    if scheme == "rfm10":
        table["segment"] = rfm.rfm10_segments(table["r_score"], table["f_score"], lang=lang) if len(table) else []
    elif scheme == "cn8":
        codes, at = rfm.cn8_codes(values, split=split)
        table["segment"] = rfm.cn8_segments(codes, lang=lang)
        notes.extend(split_note(split, at))
    else:
        from userops.analytics.clusters import kmeans_segments

        clusters = kmeans_segments(values, k=k, lang=lang, random_state=random_state)
        table["segment"] = pd.Categorical(clusters.labels, categories=list(clusters.centroids["segment"]))
        order = list(clusters.centroids["segment"])
        tried = [f"k={c}: {s:.3f}" for c, s in clusters.silhouettes.items()]
        notes.append(say("kmeans_k", k=clusters.k, s=f"{clusters.silhouette:.3f}", tried=tried))

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
        churn_threshold_days=churn_threshold_days, median_gap_days=median_gap_days, lang=lang,
    )
    if actions is None:
        from userops.analytics.playbook import actions as playbook_actions

        actions = playbook_actions()
    table["action"] = rfm.categorical_map(table["segment"].array, actions)
    table = table[rfm.CUSTOMER_COLUMNS]
    summary = rfm.segment_summary(table, revenue=customers["revenue"], order=order, actions=actions)
    return rfm.SegmentResult(table, summary, cuts, notes)


def check_options(
    *, scheme: str, lang: str, bins: int, monetary: str, r_cuts=None, f_cuts=None, m_cuts=None, split: str = "mean",
) -> None:
    """The scheme's options, checked before any scoring (the same errors on both routes)."""
    if scheme not in rfm.SCHEMES:
        raise UsageError(f"--scheme must be one of {', '.join(rfm.SCHEMES)} (got {scheme!r})")
    if lang not in ("zh", "en"):
        raise UsageError(f"--lang must be zh or en (got {lang!r})")
    if scheme == "rfm10" and bins != 5:
        raise UsageError("the rfm10 grid is defined on 5 scores", hint="drop --bins or use --scheme cn8/kmeans")
    if monetary not in ("total", "mean"):
        raise UsageError(f"--monetary must be total or mean (got {monetary!r})")
    if bins < 2 or bins > 9:
        raise UsageError(f"--bins must be between 2 and 9 (got {bins})")
    for given, flag in ((r_cuts, "--r-cuts"), (f_cuts, "--f-cuts"), (m_cuts, "--m-cuts")):
        if given is not None and len(given) != bins - 1:
            raise UsageError(f"{flag} needs {bins - 1} cut points for {bins} scores (got {len(given)})")
    if scheme == "cn8" and split not in ("mean", "median"):
        raise UsageError(f"--split must be mean or median (got {split!r})")


def check_amounts(scheme: str, no_amounts: bool) -> None:
    if no_amounts and scheme != "rfm10":
        raise UsageError(
            f"--scheme {scheme} needs amounts (the M of RFM) and the data has none",
            hint="map an amount column (--amount-col) or use --scheme rfm10, which names segments by recency and frequency",
        )


def scoring_notes(cuts: rfm.RfmCuts, no_amounts: bool) -> list[str]:
    notes: list[str] = [cuts.said()]
    if no_amounts:
        notes.append(say("no_amounts_segments"))
    return notes


def split_note(split: str, at: dict[str, float]) -> list[str]:
    if not at:
        return []
    return [say("cn8_split", split=Name(split), r=f"{at['recency_days']:.2f}", f=f"{at['frequency']:.2f}", m=f"{at['monetary']:.2f}")]


def check_segment_names(names: list[str], known: list[str]) -> None:
    """A --filter name that is not one of ``known`` (a typo, the other language) is an error."""
    missing = [n for n in names if n not in known]
    if missing:
        raise UsageError(f"no segment named {', '.join(repr(m) for m in missing)}", hint=f"segments: {', '.join(known)}")


def filter_segments(table: "pd.DataFrame | pa.Table", names: list[str], *, scheme_names: "Sequence[str]" = ()) -> "pd.DataFrame | pa.Table":
    """Only the customers in the named segments (the campaign list). A name that is neither
    one of the scheme's (``scheme_names``, e.g. :func:`rfm.segment_order`) nor in the table is
    an error; a known segment with no customers gives an empty list. An Arrow table is
    filtered as Arrow."""
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        import pyarrow as pa
        import pyarrow.compute as pc

        segment = table["segment"]
        present = segment.combine_chunks().dictionary.to_pylist() if pa.types.is_dictionary(segment.type) else pc.unique(segment).to_pylist()
        check_segment_names(names, list(dict.fromkeys([*scheme_names, *(str(p) for p in present if p is not None)])))
        return table.filter(pc.is_in(pc.cast(segment, pa.string()), value_set=pa.array(names, type=pa.string())))
    segment = table["segment"]
    categories = list(segment.cat.categories) if isinstance(segment.dtype, pd.CategoricalDtype) else []
    known = list(dict.fromkeys([*scheme_names, *categories, *sorted(set(segment.dropna().astype(str)))]))
    check_segment_names(names, known)
    return table[segment.isin(names)].reset_index(drop=True)


def segment_customers(
    loaded: "LoadedOrders", window: "Window", *, keep: tuple[str, ...] = (), release: bool = False, **options
) -> rfm.SegmentResult:
    """Run the scan (per-customer aggregates, gap statistics) and score every customer.

    Every scheme is computed in the engine (:mod:`userops.scan.segment`: the definitions of
    :func:`segment_frame`, in SQL) and the list stays Arrow until it is written; k-means is
    fitted in Python on the values (a fixed sample of a large list) and assigned there.

    With ``release`` the engine is closed once its work is done: its memory (the orders
    table) goes back before the list is written. The loaded data cannot be used again."""
    median_gap, p90_gap = scan_customers.gap_stats(loaded, window, (0.5, lifecycle.CHURN_GAP_PERCENTILE))
    threshold = lifecycle.default_churn_threshold(p90_gap)
    result = _segment_in_engine(loaded, window, keep=keep, median_gap_days=median_gap, churn_threshold_days=threshold, release=release, **options)
    if release:
        loaded.close()
    notes = [*result.notes, say("lifecycle_churned_after", days=threshold)]
    return rfm.SegmentResult(None, None, result.cuts, notes, result.arrow, summarise=result.summarise)


def _segment_in_engine(
    loaded: "LoadedOrders",
    window: "Window",
    *,
    keep: tuple[str, ...],
    median_gap_days: float | None,
    churn_threshold_days: int,
    release: bool = False,
    scheme: str = "rfm10",
    bins: int = 5,
    monetary: str = "total",
    r_cuts: tuple[float, ...] | None = None,
    f_cuts: tuple[float, ...] | None = None,
    m_cuts: tuple[float, ...] | None = None,
    split: str = "mean",
    lang: str = "en",
    k: int | None = None,
    period: str = "month",
    actions: dict[str, str] | None = None,
    random_state: int = 0,
    promotions: "tuple[Promotion, ...] | None" = None,
) -> rfm.SegmentResult:
    """:func:`segment_frame`, with the rows computed by the engine; ``promotions`` (the
    windows of a calendar) add each customer's ``promo_order_share`` and ``promo_only``."""
    from userops.analytics.periods import PERIOD_DAYS
    from userops.scan import segment as scan_segment

    check_options(scheme=scheme, lang=lang, bins=bins, monetary=monetary, r_cuts=r_cuts, f_cuts=f_cuts, m_cuts=m_cuts, split=split)
    if period not in PERIOD_DAYS:
        raise UsageError(f"--period must be one of {', '.join(PERIODS)} (got {period!r})")
    # released: what follows reads the values (and the raw rows for --keep), so the orders'
    # memory goes back before the list is built
    from userops.scan.promotions import in_promotion

    promo = in_promotion("order_ts", promotions) if promotions is not None else None
    customers, priced = scan_segment.create_rfm_values(loaded, window, monetary=monetary, drop_orders=release, promo=promo)
    no_amounts = customers > 0 and not priced
    check_amounts(scheme, no_amounts)
    quantiles = scan_segment.rfm_quantiles(loaded, bins) if customers else {"recency_days": [], "frequency": [], "monetary": []}
    rounded = lambda name: tuple(float(round(v, 6)) for v in quantiles[name])  # noqa: E731 (as rfm.quantile_cuts)
    cuts = rfm.RfmCuts(
        recency=r_cuts if r_cuts is not None else rounded("recency_days"),
        frequency=f_cuts if f_cuts is not None else rounded("frequency"),
        monetary=() if no_amounts else (m_cuts if m_cuts is not None else rounded("monetary")),
    )
    notes = scoring_notes(cuts, no_amounts)
    order = rfm.segment_order(scheme, lang)
    if scheme == "rfm10":
        named = scan_segment.rfm10_sql(rfm.rfm10_grid(lang))
    elif scheme == "kmeans":
        named, order = _kmeans_in_engine(loaded, k=k, lang=lang, random_state=random_state, notes=notes)
    else:
        at = scan_segment.split_values(loaded, split) if customers else {}
        notes.extend(split_note(split, at))
        labels = {code: pair[0 if lang == "zh" else 1] for code, pair in rfm.CN8_LABELS.items()}
        named = scan_segment.cn8_sql(at, labels) if at else "NULL"
    if actions is None:
        from userops.analytics.playbook import actions as playbook_actions

        actions = playbook_actions()
    table = scan_segment.segment_rows(
        loaded, window, bins=bins, r_cuts=cuts.recency, f_cuts=cuts.frequency, m_cuts=None if no_amounts else cuts.monetary, segment_sql=named,
        segments=order, new_within_days=PERIOD_DAYS[period], churn_threshold_days=churn_threshold_days, median_gap_days=median_gap_days,
        statuses=lifecycle.status_names(lang), actions=actions, keep=keep, promo=promo is not None,
    )
    def summarise() -> "pd.DataFrame":
        summary = rfm.segment_summary(summary_input(table), revenue=_column(table, scan_segment.REVENUE), order=order, actions=actions)
        return with_promo_shares(summary, table) if promo is not None else summary

    return rfm.SegmentResult(None, None, cuts, notes, table.drop_columns([scan_segment.REVENUE]), summarise=summarise)


def with_promo_shares(summary: "pd.DataFrame", table: "pa.Table") -> "pd.DataFrame":
    """The segment summary with, per segment, the share of its orders placed in a promotion
    (``promo_order_share``) and of its customers who bought only in promotions
    (``promo_only_share``: the deal hunters)."""
    import numpy as np

    frame = summary_input(table)
    frame["promo_orders"] = _column(table, "promo_orders").to_numpy("float64")
    frame["promo_only"] = _column(table, "promo_only").to_numpy(bool)
    grouped = frame.groupby("segment", observed=True).agg(orders=("frequency", "sum"), promo_orders=("promo_orders", "sum"), promo_only=("promo_only", "mean"))
    out = summary.copy()
    by_segment = grouped.reindex(out["segment"].astype(str))
    out["promo_order_share"] = np.round((by_segment["promo_orders"] / by_segment["orders"]).to_numpy("float64"), 4)
    out["promo_only_share"] = np.round(by_segment["promo_only"].to_numpy("float64"), 4)
    return out


def _kmeans_in_engine(loaded: "LoadedOrders", *, k: int | None, lang: str, random_state: int, notes: list) -> tuple[str, list[str]]:
    """k-means fitted in Python on the customers' values (a fixed sample of a large list) and
    every customer assigned to the nearest centre by the engine: the segment's SQL and the
    segments in order (highest mean monetary first)."""
    from userops.analytics.clusters import FIT_SAMPLE, cluster_names, fit_kmeans
    from userops.scan import segment as scan_segment

    values, customers = scan_segment.rfm_value_sample(loaded, FIT_SAMPLE)
    fit = fit_kmeans(values, k=k, random_state=random_state)
    means = scan_segment.assign_clusters(loaded, fit.mean, fit.std, fit.centres)
    names, centroids = cluster_names(fit, means, lang)
    tried = [f"k={c}: {s:.3f}" for c, s in fit.silhouettes.items()]
    notes.append(say("kmeans_k", k=fit.k, s=f"{fit.silhouette:.3f}", tried=tried))
    if customers > len(values):
        notes.append(say("kmeans_sampled", n=f"{len(values):,}", customers=f"{customers:,}"))
    return scan_segment.cluster_sql(names), list(centroids["segment"])


def _column(table: "pa.Table", name: str) -> "pd.Series":
    import pandas as pd

    return pd.Series(table[name].to_numpy(), name=name)


def summary_input(table: "pa.Table") -> "pd.DataFrame":
    """The columns :func:`rfm.segment_summary` reads, from the Arrow list (numbers without a
    copy where Arrow allows, the segment as a categorical in the scheme's order)."""
    from userops.scan.engine import arrow_to_frame

    frame = arrow_to_frame(table.select(["segment"]))
    for name in ("recency_days", "frequency", "monetary"):
        frame[name] = _column(table, name).to_numpy()
    return frame


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

