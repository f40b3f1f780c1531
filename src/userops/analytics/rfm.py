"""RFM: values, scores, named segments and the per-segment summary (SPEC §4 segment).

* ``rfm_values(customers, as_of=...)``: recency = whole days from the last purchase date to
  the as-of date; frequency = distinct orders; monetary = total revenue (or mean order value).
* ``rfm_scores(values, bins=5, r_cuts=..., ...)``: 1..bins. Quantile cut points (numpy's
  linear interpolation, as Excel's PERCENTILE.INC) or explicit ones; a value's score is
  ``1 + number of cut points strictly below it`` (recency reversed: recent = high), so equal
  values always share a score; repeated cut points (heavily tied frequency) simply leave
  some scores unused. The cut points used are returned.
* ``name_segments(scores, scheme)``: ``rfm10`` (the R×F grid) or ``cn8`` (high/low against
  the mean or median of each of R, F, M; recent counts as high R).
* ``segment_summary(table)``: one row per segment with shares, means and the playbook action.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from userops import schema
from userops.analytics.rows import EngineRows
from userops.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    import numpy as np
    import pandas as pd
    import pyarrow as pa

SCHEMES = ("rfm10", "cn8", "kmeans")

#: R score -> F score -> segment (SPEC §4).
RFM10_GRID: dict[int, dict[int, str]] = {
    5: {1: "New", 2: "Potential loyalist", 3: "Potential loyalist", 4: "Champions", 5: "Champions"},
    4: {1: "Promising", 2: "Potential loyalist", 3: "Potential loyalist", 4: "Loyal", 5: "Loyal"},
    3: {1: "About to sleep", 2: "About to sleep", 3: "Need attention", 4: "Loyal", 5: "Loyal"},
    2: {1: "Hibernating", 2: "Hibernating", 3: "At risk", 4: "At risk", 5: "Can't lose them"},
    1: {1: "Hibernating", 2: "Hibernating", 3: "At risk", 4: "At risk", 5: "Can't lose them"},
}
RFM10_ORDER = [
    "Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention",
    "About to sleep", "At risk", "Can't lose them", "Hibernating",
]

#: (R, F, M) high/low -> Chinese and English labels of the 8-class model.
CN8_LABELS: dict[str, tuple[str, str]] = {
    "HHH": ("重要价值客户", "Important value"),
    "HLH": ("重要发展客户", "Important development"),
    "LHH": ("重要保持客户", "Important retention"),
    "LLH": ("重要挽留客户", "Important win-back"),
    "HHL": ("一般价值客户", "General value"),
    "HLL": ("一般发展客户", "General development"),
    "LHL": ("一般保持客户", "General retention"),
    "LLL": ("一般挽留客户", "General win-back"),
}

CUSTOMER_COLUMNS = [
    "customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
    "rfm_code", "segment", "lifecycle_status", "action",
]
SUMMARY_COLUMNS = [
    "segment", "customers", "share", "revenue", "revenue_share", "mean_recency_days",
    "mean_frequency", "mean_monetary", "action",
]


@dataclass(frozen=True)
class RfmCuts:
    """The cut points used for each score (quantiles or given)."""

    recency: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...]

    def said(self) -> str:
        """The cut points as a glossary message (``RFM R cuts 40,98 days (recent = high); ...``)."""
        from userops.glossary import say

        fmt = lambda cuts: ",".join(f"{c:g}" for c in cuts)  # noqa: E731
        if not self.recency and not self.frequency:
            return say("rfm_no_cuts")
        m = say("rfm_m_cuts", m=fmt(self.monetary)) if self.monetary else say("rfm_no_m")
        return say("rfm_cuts", r=fmt(self.recency), f=fmt(self.frequency), m=m)


@dataclass(frozen=True)
class SegmentResult(EngineRows):
    """Per-customer table, per-segment summary, cut points and notes for stderr/report.
    The per-customer table computed in the engine is kept as Arrow (``arrow``) for the
    writers; ``customers`` is it as a pandas DataFrame for library use."""

    frame: "pd.DataFrame | None"
    summary_table: "pd.DataFrame | None"
    cuts: RfmCuts
    notes: list[str] = field(default_factory=list)
    arrow: "pa.Table | None" = None
    #: computes the summary on first use when ``summary_table`` is None (the CLI writing the
    #: per-customer list never needs it)
    summarise: "Callable[[], pd.DataFrame] | None" = None

    @functools.cached_property
    def customers(self) -> "pd.DataFrame":
        return self.rows_frame()

    @functools.cached_property
    def summary(self) -> "pd.DataFrame":
        if self.summary_table is not None:
            return self.summary_table
        assert self.summarise is not None
        return self.summarise()


# --- values and scores -----------------------------------------------------------------


def rfm_values(customers: "pd.DataFrame", *, as_of: dt.date, monetary: str = "total") -> "pd.DataFrame":
    """``customer_id, recency_days, frequency, monetary`` from per-customer aggregates
    (``customer_id, last_order, orders, revenue``)."""
    import numpy as np
    import pandas as pd

    if monetary not in ("total", "mean"):
        raise UsageError(f"--monetary must be total or mean (got {monetary!r})")
    last = customers["last_order"].to_numpy("datetime64[us]")
    frequency = customers["orders"].to_numpy("int64")
    revenue = customers["revenue"].to_numpy("float64")
    value = revenue if monetary == "total" else revenue / frequency
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "recency_days": (np.datetime64(as_of, "D") - last.astype("datetime64[D]")).astype("int64"),
            "frequency": frequency,
            "monetary": np.round(value, schema.MONEY_DECIMALS),
        },
        copy=False,
    )


def quantile_cuts(values, bins: int) -> tuple[float, ...]:
    """``bins - 1`` cut points at the 1/bins, 2/bins... quantiles (linear interpolation)."""
    import numpy as np

    values = np.asarray(values)
    if values.size == 0:
        return tuple()
    probs = np.array([k / bins for k in range(1, bins)], dtype="float64")
    qs = _small_int_quantiles(values, probs)
    if qs is None:
        qs = np.quantile(np.asarray(values, dtype="float64"), probs)
    return tuple(float(round(q, 6)) for q in qs)


def _small_int_quantiles(values: "np.ndarray", probs: "np.ndarray") -> "np.ndarray | None":
    """numpy's linear quantiles of non-negative integers with a small range (recency days,
    order counts), from a histogram instead of a partial sort; None when that does not apply.
    Same arithmetic as ``np.quantile`` (tested against it)."""
    import numpy as np

    if values.dtype.kind not in "iu" or values.size == 0:
        return None
    lo, hi = int(values.min()), int(values.max())
    if lo < 0 or hi > 4 * values.size + 1_000_000:
        return None
    cumulative = np.cumsum(np.bincount(values))  # cumulative[v] = values <= v
    n = values.size
    virtual = (n - 1) * probs
    previous = np.floor(virtual)
    at = lambda i: np.searchsorted(cumulative, i, side="right").astype("float64")  # noqa: E731 (i-th smallest)
    a = at(previous.astype("int64"))
    b = at(np.minimum(previous.astype("int64") + 1, n - 1))
    gamma = virtual - previous
    diff = b - a
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)


def score(values, cuts: tuple[float, ...], *, higher_is_better: bool = True) -> "np.ndarray":
    """1 + the number of cut points strictly below each value; reversed for recency."""
    import numpy as np

    values = np.asarray(values, dtype="float64")
    points = np.asarray(cuts, dtype="float64")
    if np.isnan(points).any() or np.isnan(values).any():
        below = np.searchsorted(points, values, side="left")
    else:  # a few vectorised comparisons: ~5x faster than searchsorted on millions of values
        below = np.zeros(values.shape, dtype="int8")
        for point in points:
            below += values > point
    s = 1 + below.astype("int64")
    return s if higher_is_better else (len(cuts) + 2) - s


def parse_cuts(text: str | None, flag: str) -> tuple[float, ...] | None:
    """``"1,2,3,5"`` -> (1.0, 2.0, 3.0, 5.0); never decreasing. A cut point may repeat, as
    quantile cut points of tied values do (``1,1,1,2``): the cut points a run prints can be
    given back to score another date the same way (a repeated one leaves a score unused)."""
    if text is None or str(text).strip() == "":
        return None
    if isinstance(text, (list, tuple)):
        parts = list(text)
    else:
        parts = [p for p in str(text).split(",") if p.strip()]
    try:
        cuts = tuple(float(p) for p in parts)
    except ValueError as exc:
        raise UsageError(f"{flag} takes numbers separated by commas (got {text!r})") from exc
    if any(b < a for a, b in zip(cuts, cuts[1:])):
        raise UsageError(f"{flag} must be in increasing order (got {text!r})")
    return cuts


def rfm_scores(
    values: "pd.DataFrame",
    *,
    bins: int = 5,
    r_cuts: tuple[float, ...] | None = None,
    f_cuts: tuple[float, ...] | None = None,
    m_cuts: tuple[float, ...] | None = None,
) -> tuple["pd.DataFrame", RfmCuts]:
    """Add ``r_score, f_score, m_score, rfm_code`` to RFM values; return the cut points used."""
    if bins < 2 or bins > 9:
        raise UsageError(f"--bins must be between 2 and 9 (got {bins})")
    for given, flag in ((r_cuts, "--r-cuts"), (f_cuts, "--f-cuts"), (m_cuts, "--m-cuts")):
        if given is not None and len(given) != bins - 1:
            raise UsageError(f"{flag} needs {bins - 1} cut points for {bins} scores (got {len(given)})")
    import pandas as pd

    # without amounts (an export without prices, a clickstream) there is no M score: blank,
    # not a 1 for everyone, and the code reads "RF-"
    scored_m = not no_amounts(values)
    cuts = RfmCuts(
        recency=r_cuts if r_cuts is not None else quantile_cuts(values["recency_days"], bins),
        frequency=f_cuts if f_cuts is not None else quantile_cuts(values["frequency"], bins),
        monetary=(m_cuts if m_cuts is not None else quantile_cuts(values["monetary"], bins)) if scored_m else (),
    )
    out = values.copy(deep=False)
    out["r_score"] = score(values["recency_days"], cuts.recency, higher_is_better=False) if len(values) else []
    out["f_score"] = score(values["frequency"], cuts.frequency) if len(values) else []
    if scored_m:
        out["m_score"] = score(values["monetary"], cuts.monetary) if len(values) else []
    else:
        out["m_score"] = pd.array([pd.NA] * len(values), dtype="Int64")
    out["rfm_code"] = digits_code(out["r_score"], out["f_score"], out["m_score"] if scored_m else None)
    return out, cuts


def no_amounts(values: "pd.DataFrame") -> bool:
    """True when there are customers and none has a monetary value (the data has no amounts)."""
    return len(values) > 0 and bool(values["monetary"].isna().all())


def digits_code(r, f, m) -> "pd.Categorical":
    """"545"-style codes as a categorical (at most bins³ distinct values: no per-row strings);
    ``m=None`` (no amounts) gives "54-"."""
    import numpy as np
    import pandas as pd

    code = np.asarray(r, dtype="int64") * 10 + np.asarray(f, dtype="int64")
    if m is not None:
        code = code * 10 + np.asarray(m, dtype="int64")
    present = np.flatnonzero(np.bincount(code, minlength=1000)) if code.size else np.array([], dtype="int64")
    index = np.full(max(1000, int(code.max(initial=0)) + 1), -1, dtype="int64")
    index[present] = np.arange(present.size)
    labels = [str(u) for u in present] if m is not None else [f"{u}-" for u in present]
    return pd.Categorical.from_codes(index[code], categories=labels)


def categorical_map(values: "pd.Categorical", mapping: dict[str, str], default: str = "") -> "pd.Categorical":
    """Map the categories of a categorical (segment -> action), merging categories that map
    to the same text."""
    import numpy as np
    import pandas as pd

    values = pd.Categorical(values)
    mapped = [mapping.get(str(c), default) for c in values.categories]
    uniq = list(dict.fromkeys(mapped))
    where = np.array([uniq.index(m) for m in mapped] + [-1], dtype="int64")
    return pd.Categorical.from_codes(where[values.codes], categories=uniq)


# --- named segments ------------------------------------------------------------------------


def rfm10_grid(lang: str = "en") -> dict[int, dict[int, str]]:
    """RFM10_GRID with the segments named in ``lang``."""
    from userops.glossary import name

    return {r: {f: name(segment, lang) for f, segment in row.items()} for r, row in RFM10_GRID.items()}


def rfm10_segments(r_score, f_score, *, lang: str = "en") -> "pd.Categorical":
    """The SPEC's R×F grid (needs 5 bins), as a categorical in RFM10_ORDER (named in ``lang``)."""
    import numpy as np
    import pandas as pd

    from userops.glossary import name

    lookup = np.full((6, 6), -1, dtype="int64")
    for r, row in RFM10_GRID.items():
        for f, segment in row.items():
            lookup[r, f] = RFM10_ORDER.index(segment)
    codes = lookup[np.asarray(r_score, dtype=int), np.asarray(f_score, dtype=int)]
    return pd.Categorical.from_codes(codes, categories=[name(segment, lang) for segment in RFM10_ORDER])


def cn8_codes(values: "pd.DataFrame", *, split: str = "mean") -> tuple["np.ndarray", dict[str, float]]:
    """``HHH``..``LLL`` per customer: R high when recency is below the split value (more
    recent), F and M high when above it. Values equal to the split count as low."""
    import numpy as np

    if split not in ("mean", "median"):
        raise UsageError(f"--split must be mean or median (got {split!r})")
    agg = np.mean if split == "mean" else np.median
    r = values["recency_days"].to_numpy("float64")
    f = values["frequency"].to_numpy("float64")
    m = values["monetary"].to_numpy("float64")
    at = {"recency_days": float(agg(r)), "frequency": float(agg(f)), "monetary": float(agg(m))} if len(values) else {}
    if not len(values):
        return np.array([], dtype=object), at
    hi = lambda mask: np.where(mask, "H", "L")  # noqa: E731
    codes = np.char.add(np.char.add(hi(r < at["recency_days"]), hi(f > at["frequency"])), hi(m > at["monetary"]))
    return codes.astype(object), at


def cn8_segments(codes, *, lang: str = "en") -> "pd.Categorical":
    """Labels for ``HHH``..``LLL`` codes, as a categorical in the model's order."""
    import numpy as np
    import pandas as pd

    idx = 0 if lang == "zh" else 1
    order = list(CN8_LABELS)
    where = {c: i for i, c in enumerate(order)}
    uniq, inverse = np.unique(np.asarray(codes, dtype=str), return_inverse=True)
    codes_idx = np.array([where[u] for u in uniq], dtype="int64")[inverse] if len(uniq) else np.array([], dtype="int64")
    return pd.Categorical.from_codes(codes_idx, categories=[CN8_LABELS[c][idx] for c in order])


def segment_order(scheme: str, lang: str = "en") -> list[str]:
    """The scheme's segment names in their order, in ``lang`` (k-means names its clusters later)."""
    if scheme == "rfm10":
        from userops.glossary import name

        return [name(segment, lang) for segment in RFM10_ORDER]
    if scheme == "cn8":
        return [labels[0 if lang == "zh" else 1] for labels in CN8_LABELS.values()]
    return []


# --- summary ---------------------------------------------------------------------------------


def segment_summary(table: "pd.DataFrame", *, revenue: "pd.Series", order: list[str] | None = None, actions: dict[str, str] | None = None) -> "pd.DataFrame":
    """One row per segment: customers, share, revenue, revenue share, mean R/F/M, action.

    ``revenue`` is each customer's total revenue (so shares add up even with --monetary mean);
    segments come in ``order`` (then any others by name)."""
    import numpy as np
    import pandas as pd

    segments = pd.Categorical(table["segment"])
    columns = {
        "revenue": revenue.to_numpy("float64"),
        "mean_recency_days": table["recency_days"].to_numpy("float64"),
        "mean_frequency": table["frequency"].to_numpy("float64"),
        "mean_monetary": table["monetary"].to_numpy("float64"),
    }
    # per-segment sums by bincount (missing values skipped, as pandas does): a fraction of a
    # pandas group-by on millions of customers
    codes = segments.codes.astype("int64")
    valid = codes >= 0
    codes = codes[valid]
    counts = np.bincount(codes, minlength=len(segments.categories))
    sums, present = {}, {}
    for col, values in columns.items():
        values = values[valid]
        missing = np.isnan(values)
        sums[col] = np.bincount(codes, weights=np.where(missing, 0.0, values), minlength=len(counts))
        present[col] = counts - np.bincount(codes[missing], minlength=len(counts)) if missing.any() else counts
    rows = {}
    for i, name in enumerate(segments.categories):
        if counts[i] == 0:
            continue
        rows[str(name)] = {
            "customers": int(counts[i]),
            "revenue": float(sums["revenue"][i]),
            **{col: float(sums[col][i]) / present[col][i] if present[col][i] else float("nan") for col in list(columns)[1:]},
        }
    grouped = pd.DataFrame.from_dict(rows, orient="index", columns=["customers", *columns])
    grouped = grouped.astype({"customers": "int64", **{col: "float64" for col in columns}})  # typed even when empty
    known = [s for s in (order or []) if s in grouped.index]
    rest = sorted(s for s in grouped.index if s not in known)
    grouped = grouped.loc[known + rest].rename_axis("segment").reset_index()
    total_customers = grouped["customers"].sum()
    no_revenue = len(revenue) > 0 and bool(np.isnan(columns["revenue"]).all())
    if no_revenue:  # no amounts: blank, not 0
        grouped["revenue"] = float("nan")
    total_revenue = grouped["revenue"].sum()
    out = pd.DataFrame(
        {
            "segment": grouped["segment"],
            "customers": grouped["customers"].astype("int64"),
            "share": (grouped["customers"] / total_customers).round(schema.RATE_DECIMALS) if total_customers else 0.0,
            "revenue": grouped["revenue"].round(schema.MONEY_DECIMALS),
            "revenue_share": (grouped["revenue"] / total_revenue).round(schema.RATE_DECIMALS) if total_revenue else (float("nan") if no_revenue else 0.0),
            "mean_recency_days": grouped["mean_recency_days"].round(schema.DAYS_DECIMALS),
            "mean_frequency": grouped["mean_frequency"].round(2),
            "mean_monetary": grouped["mean_monetary"].round(schema.MONEY_DECIMALS),
            "action": [(actions or {}).get(s, "") for s in grouped["segment"]],
        }
    )
    return out[SUMMARY_COLUMNS]

