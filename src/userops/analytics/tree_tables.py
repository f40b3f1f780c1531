"""A fitted HistGradientBoostingClassifier scored with lookup tables, for every customer.

sklearn's predict walks each tree node by node for every row, a branch mispredicted at most
steps: scoring every customer of a large snapshot cost more than fitting the model. The risk
model's trees are small (at most 8 leaves), so a tree is a function of its few split tests:
each test is one vectorised comparison over all rows, the tests' outcomes are the bits of a
code, and the code indexes a table of the leaf each combination reaches. The trees' values are
added in sklearn's order onto its baseline, so the scores are the same doubles.

The tree layout is sklearn's internal one (``_predictors``, ``_bin_mapper``): :func:`compiled`
checks the tables against sklearn's own probabilities on rows it scored, and returns None
(score with sklearn) when anything differs or is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

#: Most split tests a tree may have to get a table (its size doubles with each test).
MAX_TESTS = 10
#: Rows scored at a time: the comparisons, codes and sums of a block stay in the cache.
BLOCK_ROWS = 32_768


@dataclass(frozen=True)
class SplitTest:
    """Does a row go left at this node? A numeric threshold or a set of categories; missing
    values (and, for a category, unknown or negative ones) go the way the node learned."""

    feature: int
    threshold: float  # numeric: left when value <= threshold
    missing_left: bool
    left_categories: "np.ndarray | None" = None  # categorical: 256 flags, left when set
    known_categories: "np.ndarray | None" = None  # categorical: 256 flags, the categories seen in fit

    def goes_left(self, column: "np.ndarray", missing: "np.ndarray") -> "np.ndarray":
        import numpy as np

        if self.left_categories is None or self.known_categories is None:
            left = column <= self.threshold
        else:
            # sklearn reads a category as an unsigned byte; negative values are missing
            unusable = missing | (column < 0)
            code = np.where(unusable, 0, column).astype(np.int64) & 0xFF
            known = self.known_categories[code] & ~unusable
            left = np.where(known, self.left_categories[code], False)
            missing = ~known
        # NaN <= threshold is False, and an unusable category was not sent left: both go right
        return left | missing if self.missing_left else left


@dataclass(frozen=True)
class TreeTable:
    """One tree: its split tests and, for each combination of their outcomes (bit i set: test i
    goes left), the value of the leaf reached."""

    tests: tuple[SplitTest, ...]
    leaf_values: "np.ndarray"


@dataclass(frozen=True)
class TreeTables:
    """Every tree of a binary HistGradientBoostingClassifier, and its baseline."""

    baseline: float
    trees: tuple[TreeTable, ...]
    model: Any  # the classifier: its encoding of the input columns is applied first

    def raw_scores(self, X: "np.ndarray", threads: int = 1) -> "np.ndarray":
        """The model's raw scores (log-odds) for the rows of ``X``, in blocks of rows on up to
        ``threads`` threads (numpy lets go of the GIL while it compares and adds)."""
        import numpy as np

        # the trees read the model's encoding of the columns (sklearn moves categorical
        # columns first and numbers their categories)
        X = np.asarray(self.model._preprocess_X(X, reset=False), dtype=np.float64)
        out = np.empty(len(X))
        starts = range(0, len(X), BLOCK_ROWS)
        if threads > 1 and len(starts) > 1:
            import concurrent.futures

            with concurrent.futures.ThreadPoolExecutor(min(threads, len(starts)), thread_name_prefix="userops-trees") as pool:
                list(pool.map(lambda start: self._score_block(X, start, out), starts))
        else:
            for start in starts:
                self._score_block(X, start, out)
        return out

    def _score_block(self, X: "np.ndarray", start: int, out: "np.ndarray") -> None:
        import numpy as np

        block = X[start : start + BLOCK_ROWS]
        columns = [np.ascontiguousarray(block[:, j]) for j in range(block.shape[1])]
        missing = [np.isnan(c) for c in columns]
        raw = np.full(len(block), self.baseline)
        code, bits = np.empty(len(block), dtype=np.uint16), np.empty(len(block), dtype=np.uint16)
        for tree in self.trees:
            code[:] = 0
            for bit, test in enumerate(tree.tests):
                np.left_shift(test.goes_left(columns[test.feature], missing[test.feature]), bit, out=bits, dtype=np.uint16)
                code |= bits
            raw += tree.leaf_values[code]  # in sklearn's order of the trees: the same sums
        out[start : start + len(block)] = raw

    def probabilities(self, X: "np.ndarray", threads: int = 1) -> "np.ndarray":
        """P(class 1) for the rows of ``X``, as sklearn's ``predict_proba(X)[:, 1]``."""
        from scipy.special import expit

        return expit(self.raw_scores(X, threads))


def compiled(model: Any, X_check: "np.ndarray", p_check: "np.ndarray") -> TreeTables | None:
    """Lookup tables for a fitted binary HistGradientBoostingClassifier, if they give exactly
    ``p_check`` (sklearn's P(class 1)) on the rows ``X_check``; else None."""
    import numpy as np

    try:
        tables = _tables(model)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):  # another sklearn layout
        return None
    if tables is None or len(X_check) == 0:
        return None
    if not np.array_equal(tables.probabilities(X_check), np.asarray(p_check, dtype=np.float64)):
        return None
    return tables


def _tables(model: Any) -> TreeTables | None:
    import numpy as np

    if len(getattr(model, "classes_", ())) != 2 or model.n_trees_per_iteration_ != 1:
        return None
    baseline = np.asarray(model._baseline_prediction, dtype=np.float64).ravel()
    known_bitsets, feature_to_bitset = model._bin_mapper.make_known_categories_bitsets()
    trees = []
    for (predictor,) in model._predictors:
        tree = _tree_table(predictor.nodes, predictor.raw_left_cat_bitsets, known_bitsets, feature_to_bitset)
        if tree is None:
            return None
        trees.append(tree)
    return TreeTables(float(baseline[0]), tuple(trees), model)


def _flags(bitset: "np.ndarray") -> "np.ndarray":
    """256 booleans from sklearn's bitset of 8 × 32 bits (category c: word c // 32, bit c % 32)."""
    import numpy as np

    words = np.asarray(bitset, dtype=np.uint32)
    categories = np.arange(256)
    return ((words[categories // 32] >> (categories % 32).astype(np.uint32)) & 1).astype(bool)


def _tree_table(nodes: "np.ndarray", left_bitsets: "np.ndarray", known_bitsets: "np.ndarray", feature_to_bitset: "np.ndarray") -> TreeTable | None:
    import numpy as np

    internal = np.flatnonzero(nodes["is_leaf"] == 0)
    if len(internal) > MAX_TESTS:
        return None
    tests = []
    for i in internal:
        node = nodes[i]
        feature = int(node["feature_idx"])
        if node["is_categorical"]:
            tests.append(
                SplitTest(
                    feature, float("nan"), bool(node["missing_go_to_left"]),
                    _flags(left_bitsets[node["bitset_idx"]]), _flags(known_bitsets[feature_to_bitset[feature]]),
                )
            )
        else:
            tests.append(SplitTest(feature, float(node["num_threshold"]), bool(node["missing_go_to_left"])))
    # every combination of the tests' outcomes walked down the tree at once, a level a step
    is_leaf = nodes["is_leaf"].astype(bool)
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    bit = np.zeros(len(nodes), dtype=np.int64)
    bit[internal] = np.arange(len(internal))
    codes = np.arange(1 << len(internal))
    at = np.zeros(len(codes), dtype=np.int64)
    while not is_leaf[at].all():
        goes_left = (codes >> bit[at]) & 1 == 1
        at = np.where(is_leaf[at], at, np.where(goes_left, left[at], right[at]))
    values = nodes["value"].astype(np.float64)[at]
    return TreeTable(tuple(tests), values)
