"""segment: RFM values and scores, rfm10 and cn8 names, clusters, lifecycle — hand-worked."""

import datetime as dt
import io
import json

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.analytics import rfm
from userops.analytics.segment import filter_segments, lifecycle_table, segment_customers, segment_frame
from userops.cli.app import app
from userops.errors import UsageError
from userops.io.normalise import LoadOptions, load_orders
from userops.scan.load import order_totals

AS_OF = dt.date(2024, 3, 31)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def customers_frame(rows):
    """rows: (id, first, last, orders, revenue)."""
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "first_order": pd.to_datetime([r[1] for r in rows], format="mixed"),
            "last_order": pd.to_datetime([r[2] for r in rows], format="mixed"),
            "orders": [r[3] for r in rows],
            "revenue": [float(r[4]) for r in rows],
        }
    )


def test_rfm_values_total_and_mean():
    frame = customers_frame([("a", "2024-01-01", "2024-03-30 23:00", 3, 90), ("b", "2024-02-01", "2024-02-01", 1, 25)])
    values = rfm.rfm_values(frame, as_of=AS_OF)
    # recency: whole calendar days from the last purchase date: 03-30 -> 1 day; 02-01 -> 59 days
    assert values.to_dict("list") == {"customer_id": ["a", "b"], "recency_days": [1, 59], "frequency": [3, 1], "monetary": [90.0, 25.0]}
    assert rfm.rfm_values(frame, as_of=AS_OF, monetary="mean")["monetary"].tolist() == [30.0, 25.0]


def test_quantile_scores_with_ties():
    recency = [0, 10, 10, 20, 30, 40, 100]
    # positions 6q in the sorted values: q=.2 -> 10; .4 -> 10+.4*10 = 14; .6 -> 20+.6*10 = 26; .8 -> 30+.8*10 = 38
    cuts = rfm.quantile_cuts(recency, 5)
    assert cuts == (10.0, 14.0, 26.0, 38.0)
    # score = 1 + cut points strictly below; recency reversed (6 - score): both 10s share R=5
    assert rfm.score(recency, cuts, higher_is_better=False).tolist() == [5, 5, 5, 3, 2, 1, 1]
    # frequency heavily tied: the cut points repeat and scores 2 is unused, never split by row order
    freq = [1, 1, 1, 1, 1, 1, 2, 2, 3, 8]
    fcuts = rfm.quantile_cuts(freq, 5)
    assert fcuts == (1.0, 1.0, 1.4, 2.2)  # positions 1.8, 3.6, 5.4, 7.2
    assert rfm.score(freq, fcuts).tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]


def test_integer_quantiles_from_a_histogram_equal_numpy():
    # recency and frequency cut points come from a histogram (fast on millions of customers):
    # the same numbers as np.quantile's linear method, ties and all
    rng = np.random.default_rng(7)
    probs = np.array([k / 5 for k in range(1, 5)])
    for n, high in [(1, 3), (2, 2), (7, 100), (10, 3), (1001, 5), (5000, 800), (99_999, 40)]:
        values = rng.integers(0, high, n)
        assert rfm._small_int_quantiles(values, probs).tolist() == np.quantile(values.astype(float), probs).tolist()
    assert rfm._small_int_quantiles(np.array([-1, 2]), probs) is None  # negative: numpy's path
    assert rfm._small_int_quantiles(np.array([0.5, 2.0]), probs) is None


def test_explicit_cuts_and_validation():
    freq = [1, 2, 3, 4, 5, 6, 10]
    assert rfm.score(freq, rfm.parse_cuts("1,2,3,5", "--f-cuts")).tolist() == [1, 2, 3, 4, 4, 5, 5]
    with pytest.raises(UsageError):
        rfm.parse_cuts("3,2", "--f-cuts")
    with pytest.raises(UsageError):
        rfm.parse_cuts("a,b", "--f-cuts")
    values = pd.DataFrame({"customer_id": ["x"], "recency_days": [1], "frequency": [1], "monetary": [1.0]})
    with pytest.raises(UsageError, match="needs 4 cut points"):
        rfm.rfm_scores(values, f_cuts=(1.0, 2.0))


SPEC_GRID = """
5 | New | Potential loyalist | Potential loyalist | Champions | Champions
4 | Promising | Potential loyalist | Potential loyalist | Loyal | Loyal
3 | About to sleep | About to sleep | Need attention | Loyal | Loyal
2 | Hibernating | Hibernating | At risk | At risk | Can't lose them
1 | Hibernating | Hibernating | At risk | At risk | Can't lose them
"""


def test_every_rfm10_cell():
    expected = {}
    for line in SPEC_GRID.strip().splitlines():
        r, *names = [p.strip() for p in line.split("|")]
        for f, name in enumerate(names, start=1):
            expected[(int(r), f)] = name
    r = np.array([k[0] for k in expected])
    f = np.array([k[1] for k in expected])
    assert len(expected) == 25
    assert list(rfm.rfm10_segments(r, f)) == list(expected.values())


def test_every_rfm10_cell_end_to_end_with_explicit_cuts():
    # 25 customers, one per (R, F) cell: recency 0..4 -> R 5..1 with cuts 0,1,2,3; frequency f with cuts 1,2,3,4
    rows = []
    for r in range(1, 6):
        for f in range(1, 6):
            last = pd.Timestamp(AS_OF) - dt.timedelta(days=5 - r)
            rows.append((f"c{r}{f}", "2023-01-01", str(last), f, 10 * f))
    result = segment_frame(customers_frame(rows), as_of=AS_OF, r_cuts=(0, 1, 2, 3), f_cuts=(1, 2, 3, 4), m_cuts=(10, 20, 30, 40))
    table = result.customers.set_index("customer_id")
    for (r, f), name in {(5, 4): "Champions", (4, 1): "Promising", (3, 3): "Need attention", (2, 5): "Can't lose them", (1, 1): "Hibernating"}.items():
        assert table.loc[f"c{r}{f}", "segment"] == name
        assert table.loc[f"c{r}{f}", "rfm_code"] == f"{r}{f}{f}"
    assert table.loc["c24", "action"].startswith("Win-back")
    assert result.summary["customers"].sum() == 25
    assert list(result.summary.columns) == rfm.SUMMARY_COLUMNS


def cn8_values():
    # recency 10 (H) / 100 (L): mean 55; frequency 5 (H) / 1 (L): mean 3; monetary 500 (H) / 50 (L): mean 275
    rows = []
    for code in ["HHH", "HLH", "LHH", "LLH", "HHL", "HLL", "LHL", "LLL"]:
        rows.append((code, 10 if code[0] == "H" else 100, 5 if code[1] == "H" else 1, 500.0 if code[2] == "H" else 50.0))
    return pd.DataFrame(rows, columns=["customer_id", "recency_days", "frequency", "monetary"])


@pytest.mark.parametrize("split", ["mean", "median"])
def test_cn8_all_eight_classes(split):
    values = cn8_values()
    codes, at = rfm.cn8_codes(values, split=split)
    assert list(codes) == list(values["customer_id"])
    assert at == {"recency_days": 55.0, "frequency": 3.0, "monetary": 275.0}
    zh = rfm.cn8_segments(codes, lang="zh")
    assert list(zh) == ["重要价值客户", "重要发展客户", "重要保持客户", "重要挽留客户", "一般价值客户", "一般发展客户", "一般保持客户", "一般挽留客户"]
    assert rfm.cn8_segments(["LLH"], lang="en")[0] == "Important win-back"


def test_cn8_mean_and_median_differ():
    values = pd.DataFrame({"customer_id": list("abcd"), "recency_days": [1, 2, 3, 4], "frequency": [1, 1, 1, 1], "monetary": [1.0, 2.0, 3.0, 100.0]})
    mean_codes, _ = rfm.cn8_codes(values, split="mean")  # monetary mean 26.5: only d is high
    median_codes, _ = rfm.cn8_codes(values, split="median")  # median 2.5: c and d are high
    assert [c[2] for c in mean_codes] == ["L", "L", "L", "H"]
    assert [c[2] for c in median_codes] == ["L", "L", "H", "H"]
    # recency: mean = median = 2.5, so a and b (more recent) are high R; frequency equal to the split is low
    assert [c[:2] for c in mean_codes] == ["HL", "HL", "LL", "LL"]


LIFECYCLE_ORDERS = """customer_id,order_date,amount
A,2024-01-05,1
A,2024-02-05,1
A,2024-03-05,1
B,2024-01-10,1
B,2024-03-10,1
C,2024-02-15,1
D,2024-03-20,1
E,2024-01-20,1
E,2024-01-25,1
"""


def test_lifecycle_counts_over_three_months(write):
    loaded = load_orders([write("l.csv", LIFECYCLE_ORDERS)])
    table = lifecycle_table(loaded, loaded.window("2024-03-31"), period="month")
    # Jan: A B E new. Feb: C new, A returning, B and E dormant. Mar: D new, A returning,
    # B resurrected, C dormant (E was already dormant in Feb and is not counted again)
    assert table.to_dict("records") == [
        {"period": dt.date(2024, 1, 1), "new": 3, "returning": 0, "resurrected": 0, "dormant": 0, "active": 3, "complete": True},
        {"period": dt.date(2024, 2, 1), "new": 1, "returning": 1, "resurrected": 0, "dormant": 2, "active": 2, "complete": True},
        {"period": dt.date(2024, 3, 1), "new": 1, "returning": 1, "resurrected": 1, "dormant": 1, "active": 3, "complete": True},
    ]
    # an April with nobody still gets a row (everyone active in March is dormant) and is incomplete
    april = lifecycle_table(loaded, loaded.window("2024-04-10"), period="month").iloc[-1]
    assert (april["period"], april["dormant"], april["active"], april["complete"]) == (dt.date(2024, 4, 1), 3, 0, False)


def test_lifecycle_status_in_segment_table(small_orders):
    loaded = load_orders([small_orders])
    table = segment_customers(loaded, loaded.window()).customers.set_index("customer_id")
    # same customers and statuses as the profile test: 001 active, 002 churned, 003 new
    assert table["lifecycle_status"].to_dict() == {"001": "active", "002": "churned", "003": "new"}
    assert table.loc["001", "frequency"] == 2 and table.loc["001", "monetary"] == 40.0 and table.loc["001", "recency_days"] == 40


def test_release_frees_the_engine_and_changes_nothing(small_orders):
    kept = load_orders([small_orders], LoadOptions(keep=("channel",)))
    released = load_orders([small_orders], LoadOptions(keep=("channel",)))
    a = segment_customers(kept, kept.window(), keep=("channel",))
    b = segment_customers(released, released.window(), keep=("channel",), release=True)
    assert a.customers.equals(b.customers) and a.summary.equals(b.summary) and a.notes == b.notes
    order_totals(kept.engine)  # still usable
    with pytest.raises(Exception):
        order_totals(released.engine)  # closed: the CLI's segment releases it before scoring


def test_cdnow_rfm_equals_independent_computation(cdnow_path):
    raw = pd.read_csv(cdnow_path, dtype={"customer_id": str}, parse_dates=["order_date"])
    as_of = raw["order_date"].max()
    expected = raw.groupby("customer_id").agg(last=("order_date", "max"), frequency=("order_date", "size"), monetary=("amount", "sum"))
    expected["recency_days"] = (as_of - expected["last"]).dt.days
    loaded = load_orders([cdnow_path])
    result = segment_customers(loaded, loaded.window(), scheme="cn8", lang="zh")
    got = result.customers.set_index("customer_id").sort_index()
    expected = expected.sort_index()
    assert len(got) == 2357
    assert got["recency_days"].tolist() == expected["recency_days"].tolist()
    assert got["frequency"].tolist() == expected["frequency"].tolist()
    np.testing.assert_allclose(got["monetary"], expected["monetary"].round(2), atol=0.005)
    # cn8 counts equal a hand-written split at the mean
    r_hi = expected["recency_days"] < expected["recency_days"].mean()
    f_hi = expected["frequency"] > expected["frequency"].mean()
    m_hi = expected["monetary"].round(2) > expected["monetary"].round(2).mean()
    codes = np.where(r_hi, "H", "L").astype(object) + np.where(f_hi, "H", "L") + np.where(m_hi, "H", "L")
    want = pd.Series([rfm.CN8_LABELS[c][0] for c in codes]).value_counts().sort_index()
    assert got["segment"].value_counts().sort_index().to_dict() == want.to_dict()


def test_kmeans_is_deterministic_and_named(examples_dir):
    loaded = load_orders([f"{examples_dir}/orders.csv"])
    window = loaded.window()
    a = segment_customers(loaded, window, scheme="kmeans", lang="en")
    assert any(n.startswith("k-means: k = ") for n in a.notes)
    k = int([n for n in a.notes if n.startswith("k-means")][0].split("k = ")[1].split(",")[0])
    assert 2 <= k <= 8 and a.summary["segment"].nunique() == k
    # fitted again with the k it chose (a new fit, not a second search over 2..8): the same
    # clusters, so the same names for the same customers
    b = segment_customers(loaded, window, scheme="kmeans", k=k, lang="en")
    assert a.customers["segment"].tolist() == b.customers["segment"].tolist()
    fixed = segment_customers(loaded, window, scheme="kmeans", k=3, lang="en")
    assert fixed.summary["segment"].nunique() == 3


def test_filter_segments():
    table = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["At risk", "New", "At risk"]})
    assert filter_segments(table, ["At risk"])["customer_id"].tolist() == ["a", "c"]
    with pytest.raises(UsageError, match="segments: At risk, New"):
        filter_segments(table, ["Nope"])


def test_cli_campaign_list_xlsx(examples_dir, tmp_path):
    out = tmp_path / "at_risk.xlsx"
    result = run("segment", f"{examples_dir}/orders.csv", "--filter", "At risk", "--keep", "email", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert "R cuts" in result.stderr
    ws = openpyxl.load_workbook(out).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == tuple(rfm.CUSTOMER_COLUMNS + ["email"])
    assert len(rows) > 100 and all(r[8] == "At risk" for r in rows[1:])
    assert isinstance(rows[1][1], int) and isinstance(rows[1][3], float)  # numbers as numbers
    assert rows[1][11].endswith("@example.com") and ws.freeze_panes == "A2"
    assert ws.column_dimensions["K"].width > 20  # the action column is wide enough to read


def test_cli_equals_library_and_reruns_identical(small_orders, tmp_path):
    result = run("segment", small_orders, "--format", "json", "--quiet")
    assert result.exit_code == 0, result.stderr
    loaded = load_orders([small_orders])
    lib = segment_customers(loaded, loaded.window()).customers
    assert json.loads(result.stdout) == json.loads(lib.to_json(orient="records"))
    for fmt in ("csv", "json", "xlsx", "markdown", "parquet"):
        outs = []
        for i in range(2):
            out = tmp_path / f"s{i}.{ 'md' if fmt == 'markdown' else fmt}"
            assert run("segment", "--scheme", "kmeans", small_orders, "-o", out).exit_code == 0
            outs.append(out.read_bytes())
        assert outs[0] == outs[1], fmt


def test_cli_options(small_orders):
    summary = run("segment", small_orders, "--summary", "--scheme", "cn8", "--lang", "en", "--format", "csv", "--quiet")
    assert summary.exit_code == 0, summary.stderr
    frame = pd.read_csv(io.StringIO(summary.stdout))
    assert list(frame.columns) == rfm.SUMMARY_COLUMNS and frame["customers"].sum() == 3
    cols = run("segment", small_orders, "--columns", "customer_id,segment", "--format", "csv", "--quiet")
    assert cols.stdout.splitlines()[0] == "customer_id,segment"
    assert run("segment", small_orders, "--columns", "nope").exit_code == 2
    assert run("segment", small_orders, "--filter", "Nope").exit_code == 2
    assert run("segment", small_orders, "--scheme", "nope").exit_code == 2
    assert run("segment", small_orders, "--bins", "4").exit_code == 2  # rfm10 needs 5
    assert run("segment", small_orders, "--keep", "nope").exit_code == 2
    life = run("segment", small_orders, "--lifecycle", "--period", "month", "--format", "csv", "--quiet")
    assert life.stdout.splitlines()[0] == "period,new,returning,resurrected,dormant,active,complete"


def test_playbook_override_from_config(small_orders, tmp_path, monkeypatch):
    (tmp_path / "userops.toml").write_text('[playbook]\n"New" = "Send the welcome box"\n')
    monkeypatch.chdir(tmp_path)
    result = run("segment", small_orders, "--summary", "--format", "json", "--quiet")
    rows = {r["segment"]: r["action"] for r in json.loads(result.stdout)}
    assert rows["New"] == "Send the welcome box"


def test_small_shop_scores_by_hand(small_orders):
    """001: R 40 d, F 2, M 40; 002: 59, 1, 30; 003: 0, 1, 50 (see tests/test_profile.py).

    R cuts over [0, 40, 59] at positions 2q: 16, 32, 43.8, 51.4 -> R = 3, 1, 5
    F cuts over [1, 1, 2]: 1, 1, 1.2, 1.6 -> F = 5, 1, 1
    M cuts over [30, 40, 50]: 34, 38, 42, 46 -> M = 3, 1, 5
    rfm10: (3,5) Loyal, (1,1) Hibernating, (5,1) New."""
    loaded = load_orders([small_orders])
    result = segment_customers(loaded, loaded.window())
    assert result.cuts == rfm.RfmCuts((16.0, 32.0, 43.8, 51.4), (1.0, 1.0, 1.2, 1.6), (34.0, 38.0, 42.0, 46.0))
    table = result.customers
    assert table["rfm_code"].tolist() == ["353", "111", "515"]
    assert table["segment"].tolist() == ["Loyal", "Hibernating", "New"]
    summary = result.summary.set_index("segment")
    assert summary.loc["Loyal", "revenue_share"] == round(40 / 120, 4)
    assert summary.loc["Hibernating", "mean_recency_days"] == 59


def test_edge_cases(write):
    one = write("one.csv", "customer_id,order_date,amount\n1,2024-01-01,5\n")
    result = run("segment", one, "--format", "json", "--quiet")
    assert result.exit_code == 0
    # one customer: every cut point equals their value, so no cut is strictly below it
    assert json.loads(result.stdout)[0] | {"action": None} == {
        "customer_id": "1", "recency_days": 0, "frequency": 1, "monetary": 5.0, "r_score": 5, "f_score": 1,
        "m_score": 1, "rfm_code": "511", "segment": "New", "lifecycle_status": "new", "action": None,
    }
    few = run("segment", one, "--scheme", "kmeans")
    assert few.exit_code == 65 and "at least 3 customers" in few.stderr
    refunded = write("r.csv", "customer_id,order_date,amount,status\n1,2024-01-01,5,refunded\n2,2024-01-02,7,Cancelled\n")
    result = run("segment", refunded)
    assert result.exit_code == 65 and "no usable purchases" in result.stderr and "--include-refunds" in result.stderr


def test_orders_without_amounts_segment_by_recency_and_frequency(write):
    # no amount column: 3 customers with 1, 2 and 3 orders, last ones 30, 20 and 10 days before 1 Apr
    path = write(
        "o.csv",
        "customer_id,order_id,order_date\n"
        "a,1,2024-03-02\n"
        "b,2,2024-02-01\nb,3,2024-03-12\n"
        "c,4,2024-01-05\nc,5,2024-02-10\nc,6,2024-03-22\n",
    )
    result = run("segment", path, "--as-of", "2024-03-31", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout), dtype={"rfm_code": str}).set_index("customer_id")
    assert table["recency_days"].to_dict() == {"a": 29, "b": 19, "c": 9}
    assert table["frequency"].to_dict() == {"a": 1, "b": 2, "c": 3}
    assert table["monetary"].isna().all() and table["m_score"].isna().all()  # blank, not a 1 for everyone
    assert all(code.endswith("-") and len(code) == 3 for code in table["rfm_code"])
    assert table.loc["c", "rfm_code"] == f"{table.loc['c', 'r_score']}{table.loc['c', 'f_score']}-"
    assert "no M score (no amounts)" in result.stderr and "no amounts in the data" in result.stderr
    summary = pd.read_csv(io.StringIO(run("segment", path, "--as-of", "2024-03-31", "--summary", "--format", "csv", "--quiet").stdout))
    assert summary["customers"].sum() == 3 and summary["revenue"].isna().all() and summary["revenue_share"].isna().all()
    for scheme in ("cn8", "kmeans"):
        refused = run("segment", path, "--scheme", scheme)
        assert refused.exit_code == 2 and "needs amounts" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1


def test_as_of_before_every_purchase_gives_empty_tables(examples_dir):
    orders = f"{examples_dir}/orders.csv"
    for extra, columns in (([], rfm.CUSTOMER_COLUMNS), (["--summary"], rfm.SUMMARY_COLUMNS)):
        result = run("segment", orders, "--as-of", "2023-01-01", "--format", "csv", *extra)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip() == ",".join(columns)
        assert "no purchases up to 2023-01-01" in result.stderr and "cuts: none (no customers)" in result.stderr


def test_config_option_errors_come_before_reading_the_data(write, tmp_path, monkeypatch):
    path = write("o.csv", "customer_id,order_date,amount\n,2024-01-01,5\nc1,2024-01-02,5\n")
    monkeypatch.chdir(tmp_path)
    for text, message in (('[segment]\nbins = "x"\n', "bins = 'x' in the config must be a whole number"), ('[segment]\nscheme = "nope"\n', "--scheme must be one of")):
        (tmp_path / "userops.toml").write_text(text, encoding="utf-8")
        result = run("segment", path)
        assert result.exit_code == 2 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1  # no "dropped 1 row" first: the data was not read


def test_filter_names_are_checked_against_the_scheme(examples_dir, tmp_path):
    """A real segment with nobody in it is an empty campaign list, not an error (it was: the
    check only knew the segments present); a misspelt one fails before the data is read."""
    table = pd.DataFrame({"customer_id": ["a"], "segment": pd.Categorical(["Loyal"], categories=["Champions", "Loyal"])})
    assert filter_segments(table, ["Champions"]).empty
    empty = pd.DataFrame({"customer_id": pd.Series([], dtype=str), "segment": pd.Series([], dtype=float)})
    assert filter_segments(empty, ["At risk"], scheme_names=["At risk", "Loyal"]).empty
    result = run("segment", f"{examples_dir}/orders.csv", "--filter", "Champions", "--as-of", "2023-01-01", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().splitlines() == [",".join(rfm.CUSTOMER_COLUMNS)]
    early = run("segment", tmp_path / "not_there.csv", "--filter", "Champion")  # exit 2, not 66: before reading
    assert early.exit_code == 2 and "no segment named 'Champion'" in early.stderr and "Champions" in early.stderr
    assert run("segment", tmp_path / "not_there.csv", "--filter", "Champions", "--scheme", "cn8").exit_code == 2


ENGINE_CASES = [
    {},
    {"monetary": "mean"},
    {"scheme": "cn8", "lang": "en"},
    {"scheme": "cn8", "lang": "zh", "split": "median"},
    {"scheme": "cn8", "bins": 4, "monetary": "mean", "split": "median"},
    {"r_cuts": (20.0, 60.0, 120.0, 240.0), "f_cuts": (1.0, 2.0, 3.0, 5.0), "m_cuts": (100.0, 250.0, 500.0, 1000.0)},
    {"period": "quarter"},
]


@pytest.mark.parametrize("options", ENGINE_CASES, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_engine_rows_equal_the_frame_definition(examples_dir, options):
    """rfm10 and cn8 are computed by the engine; segment_frame is the same definition on a
    frame: every column, the summary, the cut points and the notes agree."""
    from userops.analytics import lifecycle
    from userops.scan import customers as scan_customers

    loaded = load_orders([f"{examples_dir}/orders.csv"])
    window = loaded.window("2025-06-30")
    median_gap, p90_gap = scan_customers.gap_stats(loaded, window, (0.5, lifecycle.CHURN_GAP_PERCENTILE))
    frame = segment_frame(
        scan_customers.customer_aggregates(loaded, window, period=None, detail=False), as_of=window.as_of, median_gap_days=median_gap,
        churn_threshold_days=lifecycle.default_churn_threshold(p90_gap), **options,
    )
    engine = segment_customers(loaded, window, **options)
    assert engine.arrow is not None and engine.frame is None
    ours = engine.customers
    assert list(ours.columns) == rfm.CUSTOMER_COLUMNS
    for column in rfm.CUSTOMER_COLUMNS:
        a, b = ours[column], frame.customers[column]
        if isinstance(b.dtype, pd.CategoricalDtype) and column in ("segment", "lifecycle_status"):
            assert list(a.cat.categories) == list(b.cat.categories), column
        assert a.astype(object).where(a.notna(), None).tolist() == b.astype(object).where(b.notna(), None).tolist(), column
    pd.testing.assert_frame_equal(engine.summary, frame.summary)
    assert engine.cuts == frame.cuts
    assert engine.notes[:-1] == frame.notes


def test_engine_rows_without_amounts_and_with_kept_columns(write):
    path = write(
        "o.csv",
        "order_id,customer_id,order_date,email\n1,a,2024-01-05,a@x\n2,a,2024-03-01,a2@x\n3,b,2024-02-10,\n4,c,2024-03-30,c@x\n5,c,2024-03-30,\n",
    )
    loaded = load_orders([path], LoadOptions(keep=("email",)))
    window = loaded.window("2024-03-31")
    result = segment_customers(loaded, window, keep=("email",), lang="en")
    table = result.customers
    assert list(table.columns) == [*rfm.CUSTOMER_COLUMNS, "email"]
    assert table["monetary"].isna().all() and table["m_score"].isna().all()
    assert table["rfm_code"].str.endswith("-").all()
    assert table.set_index("customer_id")["email"].to_dict() == {"a": "a2@x", "b": None, "c": "c@x"}
    assert any("no amounts" in n for n in result.notes)
    with pytest.raises(UsageError, match="needs amounts"):
        segment_customers(loaded, window, scheme="cn8")


def test_kmeans_searches_k_on_a_sample_and_fits_every_customer_once(monkeypatch):
    """Each k of the search is fitted on the fixed sample; only the chosen k is fitted on
    every customer (the search used to fit all of them seven times)."""
    import numpy as np
    import sklearn.cluster

    from userops.analytics import clusters

    fitted: list[int] = []
    real = sklearn.cluster.KMeans

    class Recording(real):
        def fit(self, x, *args, **kwargs):
            fitted.append(len(x))
            return super().fit(x, *args, **kwargs)

    monkeypatch.setattr(sklearn.cluster, "KMeans", Recording)
    monkeypatch.setattr(clusters, "SILHOUETTE_SAMPLE", 300)
    rng = np.random.default_rng(1)
    n = 1_000
    values = pd.DataFrame({
        "recency_days": rng.integers(0, 400, n), "frequency": rng.integers(1, 12, n), "monetary": rng.gamma(2.0, 50.0, n),
    })
    result = clusters.kmeans_segments(values, lang="en")
    assert fitted == [300] * 7 + [n]
    assert len(result.labels) == n and len(set(result.labels)) == result.k
    fitted.clear()
    clusters.kmeans_segments(values, k=3, lang="en")  # k given: no search, one fit
    assert fitted == [n]


def test_kmeans_on_a_large_list_fits_a_sample_and_the_engine_assigns_everyone(monkeypatch, examples_dir):
    """Past FIT_SAMPLE customers the model is fitted on the first FIT_SAMPLE by the MD5 of
    their id, and every customer goes to the nearest centre, computed by the engine: the
    same cluster numpy's argmin gives on the standardised log-RFM."""
    import hashlib

    from userops.analytics import clusters

    fits: list = []
    real_fit = clusters.fit_kmeans

    def recording(values, **kwargs):
        fits.append((values.copy(), real_fit(values, **kwargs)))
        return fits[-1][1]

    monkeypatch.setattr(clusters, "FIT_SAMPLE", 1_000)
    monkeypatch.setattr(clusters, "fit_kmeans", recording)
    loaded = load_orders([f"{examples_dir}/orders.csv"])
    window = loaded.window()
    result = segment_customers(loaded, window, scheme="kmeans", k=3, lang="en")
    table = result.arrow.to_pandas()
    assert len(table) == 3_800 and table["segment"].notna().all()
    assert "k-means: fitted on a fixed sample of 1,000 of the 3,800 customers; every customer is assigned to the nearest centre" in result.notes
    sample, fit = fits[0]
    first_by_md5 = sorted(table["customer_id"], key=lambda c: (hashlib.md5(c.encode()).hexdigest(), c))[:1_000]
    expected_sample = table.set_index("customer_id").loc[sorted(first_by_md5), ["recency_days", "frequency", "monetary"]]
    assert np.array_equal(sample.to_numpy("float64"), expected_sample.to_numpy("float64"))
    z = (clusters.log_rfm(table) - fit.mean) / fit.std
    nearest = ((z[:, None, :] - fit.centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    names = {cluster: name for cluster, name in zip(nearest, table["segment"].astype(str))}
    assert len(names) == fit.k  # one name per cluster: the engine's clusters are numpy's
    assert [names[c] for c in nearest] == list(table["segment"].astype(str))
