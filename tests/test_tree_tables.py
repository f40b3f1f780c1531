"""The risk model's trees scored as lookup tables: the same doubles as sklearn's predict."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from userops.analytics import tree_tables
from userops.analytics.tree_tables import TreeTable, TreeTables, compiled


def _rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two numeric columns with missing values, a categorical one in the middle (codes 0–5,
    missing, and in scoring also unknown, negative and fractional codes)."""
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 6, n).astype(float), rng.normal(size=n)])
    X[rng.random(n) < 0.15, 0] = np.nan
    X[rng.random(n) < 0.10, 1] = np.nan
    return X


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(7)
    X = _rows(rng, 6000)
    y = (np.nan_to_num(X[:, 0]) + (X[:, 1] == 2) - (X[:, 1] == 4) + 0.5 * X[:, 2] + rng.normal(size=len(X))) > 0
    model = HistGradientBoostingClassifier(
        max_iter=25, max_leaf_nodes=8, min_samples_leaf=20, categorical_features=[1], early_stopping=False, random_state=0,
    ).fit(X, y)
    return model, X


def test_tables_give_sklearns_probabilities_exactly(fitted):
    model, X = fitted
    tables = compiled(model, X[:500], model.predict_proba(X[:500])[:, 1])
    assert tables is not None and len(tables.trees) == 25
    scored = _rows(np.random.default_rng(8), 70_000)  # more than two blocks
    scored[:6, 1] = [9.0, -1.0, 2.5, 300.0, np.nan, 5.0]  # unknown, negative, fractional, beyond a byte
    scored[6:9, 0] = [np.inf, -np.inf, np.nan]
    expected = model.predict_proba(scored)[:, 1]
    for threads in (1, 2):
        assert np.array_equal(tables.probabilities(scored, threads), expected)


def test_a_tree_as_a_table_by_hand():
    """One split on column 0 at 1.5 (missing values right): left leaf -1, right leaf +2; a
    second tree on the same test adds 0.25 / 0.5. Raw score = 0.1 + the two leaves."""
    left_at = tree_tables.SplitTest(feature=0, threshold=1.5, missing_left=False)
    tables = TreeTables(
        0.1, (TreeTable((left_at,), np.array([2.0, -1.0])), TreeTable((left_at,), np.array([0.5, 0.25]))), model=_Identity(),
    )
    raw = tables.raw_scores(np.array([[1.0], [1.5], [2.0], [np.nan]]))
    assert raw.tolist() == [0.1 - 1.0 + 0.25, 0.1 - 1.0 + 0.25, 0.1 + 2.0 + 0.5, 0.1 + 2.0 + 0.5]


class _Identity:
    """A model whose encoding of the columns changes nothing."""

    @staticmethod
    def _preprocess_X(X, reset=False):
        return X


def test_no_tables_when_they_would_differ_or_cannot_be_read(fitted, monkeypatch):
    model, X = fitted
    expected = model.predict_proba(X[:200])[:, 1]
    shifted = expected.copy()
    shifted[0] = np.nextafter(shifted[0], 1.0)  # one ulp off on one row: not the same model
    assert compiled(model, X[:200], shifted) is None
    linear = LogisticRegression().fit(np.nan_to_num(X), X[:, 2] > 0)
    assert compiled(linear, X[:200], linear.predict_proba(np.nan_to_num(X[:200]))[:, 1]) is None
    monkeypatch.setattr(tree_tables, "MAX_TESTS", 2)  # trees with more tests than a table may take
    assert compiled(model, X[:200], expected) is None
