"""K-means segmentation on standardised log-RFM (scikit-learn, imported here only).

Features: log1p(recency_days), log1p(frequency), log1p(monetary), each standardised.
k is chosen by the silhouette score over 2..8 (on a fixed random sample of at most 10,000
customers for speed) unless given; KMeans uses ``random_state`` and ``n_init=10``, so the
labels are identical on every run. Clusters are named from their centroid's profile with
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

SILHOUETTE_SAMPLE = 10_000


@dataclass(frozen=True)
class ClusterResult:
    labels: "np.ndarray"  # segment name per customer
    k: int
    silhouette: float
    silhouettes: dict[int, float]  # k -> silhouette tried
    centroids: "pd.DataFrame"  # segment, recency_days, frequency, monetary (means in original units)


def kmeans_segments(values: "pd.DataFrame", *, k: int | None = None, lang: str = "en", random_state: int = 0) -> ClusterResult:
    import numpy as np
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    from userops.analytics.rfm import CN8_LABELS

    n = len(values)
    if n < 3:
        raise DataError(f"k-means needs at least 3 customers (got {n})", hint="use --scheme rfm10")
    x = np.column_stack(
        [np.log1p(values["recency_days"].to_numpy("float64")), np.log1p(values["frequency"].to_numpy("float64")), np.log1p(np.clip(values["monetary"].to_numpy("float64"), 0, None))]
    )
    std = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    distinct = len(np.unique(z, axis=0))
    candidates = [k] if k else [c for c in range(2, 9) if c < min(n, distinct + 1)]
    if not candidates:
        raise DataError("all customers have the same R, F and M: nothing to cluster", hint="use --scheme rfm10")
    rng = np.random.default_rng(random_state)
    sample = rng.choice(n, size=min(n, SILHOUETTE_SAMPLE), replace=False) if n > SILHOUETTE_SAMPLE else np.arange(n)
    fits, scores = {}, {}
    for c in candidates:
        model = KMeans(n_clusters=c, n_init=10, random_state=random_state).fit(z)
        fits[c] = model
        labels_sample = model.labels_[sample]
        scores[c] = float(silhouette_score(z[sample], labels_sample)) if len(set(labels_sample)) > 1 else -1.0
    best = max(candidates, key=lambda c: (scores[c], -c))
    model = fits[best]
    # name clusters by their centroid profile; order them by mean monetary, highest first
    centres = model.cluster_centers_
    codes = ["".join("H" if hi else "L" for hi in (c[0] < 0, c[1] > 0, c[2] > 0)) for c in centres]
    idx = 0 if lang == "zh" else 1
    base = [CN8_LABELS[code][idx] for code in codes]
    frame = pd.DataFrame({"cluster": model.labels_, "recency_days": values["recency_days"].to_numpy(), "frequency": values["frequency"].to_numpy(), "monetary": values["monetary"].to_numpy()})
    means = frame.groupby("cluster").mean()
    order = sorted(range(best), key=lambda c: (-means.loc[c, "monetary"], c))
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
    labels = np.array([names[c] for c in model.labels_], dtype=object)
    centroids = pd.DataFrame(
        {
            "segment": [names[c] for c in order],
            "recency_days": [round(float(means.loc[c, "recency_days"]), 2) for c in order],
            "frequency": [round(float(means.loc[c, "frequency"]), 2) for c in order],
            "monetary": [round(float(means.loc[c, "monetary"]), 2) for c in order],
        }
    )
    return ClusterResult(labels, best, scores[best], scores, centroids)
