"""K-means segmentation on standardised log-RFM (scikit-learn, imported here only).

Features: log1p(recency_days), log1p(frequency), log1p(monetary), each standardised.
k is chosen by the silhouette score over 2..8 unless given: each k is fitted and scored on a
fixed random sample of at most 5,000 customers, and only the chosen k is fitted on every
customer (on a list of more than FIT_SAMPLE customers, on a fixed sample of that many; the
engine then assigns every customer to the nearest centre). KMeans uses ``random_state`` and ``n_init=10``, so the labels are identical on
every run. Clusters are named from their centroid's profile with
the 8-class R/F/M high/low labels (centroid above the overall mean on the standardised
scale = high; recency reversed), numbered when two clusters share a profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from userops.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

SILHOUETTE_SAMPLE = 5_000
#: Customers the chosen k is fitted on, at most: Python sees a sample, the engine assigns
#: every customer (a k-means centre moves little past this many points).
FIT_SAMPLE = 100_000
#: Customers per OpenMP thread of a k-means fit: on small data more threads only wait on
#: each other (a 16-core machine took 32 s for 3,800 customers).
CUSTOMERS_PER_THREAD = 20_000
#: MB of pairwise distances the silhouette score holds at once: scikit-learn's default is
#: 1 GB, and smaller chunks are also faster.
SILHOUETTE_MEMORY_MB = 64


@dataclass(frozen=True)
class ClusterResult:
    labels: "np.ndarray"  # segment name per customer
    k: int
    silhouette: float
    silhouettes: dict[int, float]  # k -> silhouette tried
    centroids: "pd.DataFrame"  # segment, recency_days, frequency, monetary (means in original units)


@dataclass(frozen=True)
class KMeansFit:
    """A k-means model on standardised log-RFM: what assigns and names every customer."""

    k: int
    silhouette: float
    silhouettes: dict[int, float]  # k -> silhouette tried
    centres: "np.ndarray"  # k x 3, on the standardised scale
    mean: "np.ndarray"  # of log1p(recency, frequency, monetary) over the fitted customers
    std: "np.ndarray"  # the same; 1 where the spread is 0
    labels: "np.ndarray"  # cluster number of each fitted customer


def log_rfm(values: "pd.DataFrame") -> "np.ndarray":
    """log1p of recency days, frequency and monetary (negative monetary as 0), one row per customer."""
    import numpy as np

    return np.column_stack(
        [np.log1p(values["recency_days"].to_numpy("float64")), np.log1p(values["frequency"].to_numpy("float64")), np.log1p(np.clip(values["monetary"].to_numpy("float64"), 0, None))]
    )


def fit_kmeans(values: "pd.DataFrame", *, k: int | None = None, random_state: int = 0) -> KMeansFit:
    """Choose k (silhouette on a fixed sample of at most SILHOUETTE_SAMPLE customers) unless
    given, and fit it on every customer of ``values`` (a sample of them on a large list: see
    :func:`userops.analytics.segment.segment_customers`)."""
    import os

    import numpy as np
    import sklearn
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    from userops.analytics.model_threads import limited

    n = len(values)
    if n < 3:
        raise DataError(f"k-means needs at least 3 customers (got {n})", hint="use --scheme rfm10")
    x = log_rfm(values)
    mean, spread = x.mean(axis=0), x.std(axis=0)
    std = np.where(spread > 0, spread, 1.0)
    z = (x - mean) / std
    rng = np.random.default_rng(random_state)
    sample = rng.choice(n, size=SILHOUETTE_SAMPLE, replace=False) if n > SILHOUETTE_SAMPLE else np.arange(n)
    searched = z[sample]
    distinct = len(np.unique(searched, axis=0))
    candidates = [k] if k else [c for c in range(2, 9) if c < min(len(searched), distinct + 1)]
    if not candidates:
        raise DataError("all customers have the same R, F and M: nothing to cluster", hint="use --scheme rfm10")
    threads = max(1, min(os.cpu_count() or 1, n // CUSTOMERS_PER_THREAD))
    fits, scores = {}, {}
    with limited(openmp=threads, blas=1), sklearn.config_context(working_memory=SILHOUETTE_MEMORY_MB):
        if k:  # no search: one fit on every customer
            fits[k] = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit(z)
            labels_sample = fits[k].labels_[sample]
            scores[k] = float(silhouette_score(searched, labels_sample)) if len(set(labels_sample)) > 1 else -1.0
        else:
            for c in candidates:
                fits[c] = KMeans(n_clusters=c, n_init=10, random_state=random_state).fit(searched)
                labels_sample = fits[c].labels_
                scores[c] = float(silhouette_score(searched, labels_sample)) if len(set(labels_sample)) > 1 else -1.0
        best = max(candidates, key=lambda c: (scores[c], -c))
        # the sample was every customer, or the chosen k is fitted once on all of them
        model = fits[best] if k or len(sample) == n else KMeans(n_clusters=best, n_init=10, random_state=random_state).fit(z)
    return KMeansFit(best, scores[best], scores, model.cluster_centers_, mean, std, model.labels_)


def cluster_names(fit: KMeansFit, means: "pd.DataFrame", lang: str = "en") -> tuple[dict[int, str], "pd.DataFrame"]:
    """Each cluster's name from its centre's profile (the cn8 high/low labels; numbered when
    two share one) and the centroids table (``segment`` and mean R, F, M in original units),
    highest mean monetary first. ``means``: per cluster number, the mean recency_days,
    frequency and monetary of its customers."""
    import pandas as pd

    from userops.analytics.rfm import CN8_LABELS

    codes = ["".join("H" if hi else "L" for hi in (c[0] < 0, c[1] > 0, c[2] > 0)) for c in fit.centres]
    idx = 0 if lang == "zh" else 1
    base = [CN8_LABELS[code][idx] for code in codes]
    order = sorted(means.index, key=lambda c: (-means.loc[c, "monetary"], c))
    names: dict[int, str] = {}
    seen: dict[str, int] = {}
    for c in order:
        seen[base[c]] = seen.get(base[c], 0) + 1
    counter: dict[str, int] = {}
    for c in order:
        if seen[base[c]] > 1:
            counter[base[c]] = counter.get(base[c], 0) + 1
            names[c] = f"{base[c]} {counter[base[c]]}"
        else:
            names[c] = base[c]
    centroids = pd.DataFrame(
        {
            "segment": [names[c] for c in order],
            "recency_days": [round(float(means.loc[c, "recency_days"]), 2) for c in order],
            "frequency": [round(float(means.loc[c, "frequency"]), 2) for c in order],
            "monetary": [round(float(means.loc[c, "monetary"]), 2) for c in order],
        }
    )
    return names, centroids


def kmeans_segments(values: "pd.DataFrame", *, k: int | None = None, lang: str = "en", random_state: int = 0) -> ClusterResult:
    """Fit, assign and name every customer of a frame (the engine route assigns in SQL)."""
    import numpy as np
    import pandas as pd

    fit = fit_kmeans(values, k=k, random_state=random_state)
    frame = pd.DataFrame({"cluster": fit.labels, "recency_days": values["recency_days"].to_numpy(), "frequency": values["frequency"].to_numpy(), "monetary": values["monetary"].to_numpy()})
    names, centroids = cluster_names(fit, frame.groupby("cluster").mean(), lang)
    labels = np.array([names[c] for c in fit.labels], dtype=object)
    return ClusterResult(labels, fit.k, fit.silhouette, fit.silhouettes, centroids)
