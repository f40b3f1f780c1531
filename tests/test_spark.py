"""The same commands on Spark (local[2]) as on DuckDB: the outputs are equal, byte for byte.

One Spark session serves the whole module (the JVM starts once). Without Java the group is
skipped, unless USEROPS_REQUIRE_SPARK=1 (``.ci/run`` sets it: there it must run)."""

import functools
import os
import shutil

import pytest
from typer.testing import CliRunner

from userops.cli.app import app

pytestmark = pytest.mark.spark

SPARK_MASTER = "local[2]"
STEPS = "home,product_view,add_to_cart,purchase"


def _spark_or_skip():
    required = bool(os.environ.get("USEROPS_REQUIRE_SPARK"))
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if required:
            pytest.fail("USEROPS_REQUIRE_SPARK is set but there is no java on this machine")
        pytest.skip("Spark needs a Java runtime (apt-get install default-jre-headless)")
    if not required:
        pytest.importorskip("pyspark")


@pytest.fixture(scope="module")
def spark():
    _spark_or_skip()
    from userops.scan.spark import spark_session

    session = spark_session(SPARK_MASTER)
    yield session


@pytest.fixture(scope="module")
def parquet_examples(tmp_path_factory, examples_dir):
    """examples/ as Parquet, the way a data lake holds them (typed columns)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    folder = tmp_path_factory.mktemp("lake")
    for name in ("orders", "events"):
        table = pacsv.read_csv(os.path.join(examples_dir, f"{name}.csv"))
        pq.write_table(table, folder / f"{name}.parquet")
    return folder


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--format", "csv", "-q"])
    assert result.exit_code == 0, result.output
    return result.stdout


def _both(*args: str) -> tuple[str, str]:
    return _run(*args), _run(*args, "--engine", "spark", "--spark-master", SPARK_MASTER)


ORDERS_RUNS = {
    "profile-customers": ("profile", "{orders}", "--per", "customer"),
    "profile-periods": ("profile", "{orders}"),
    "segment-rfm10": ("segment", "{orders}"),
    "segment-cn8": ("segment", "{orders}", "--scheme", "cn8"),
    "segment-kmeans-keep": ("segment", "{orders}", "--scheme", "kmeans", "--keep", "email"),
    "retention-orders-monthly": ("retention", "{orders}", "--period", "month"),
    "retention-orders-rolling-recurring": ("retention", "{orders}", "--period", "week", "--mode", "rolling", "--cohort", "recurring"),
    "churn": ("churn", "{orders}"),
    "ltv-by-channel-costs": ("ltv", "{orders}", "--by", "channel", "--margin", "0.3", "--costs", "{costs}"),
    "ltv-weekly-long": ("ltv", "{orders}", "--period", "week", "--long"),
    "profile-bridge-by-channel": ("profile", "{orders}", "--bridge", "--by", "channel"),
    "profile-bridge-by-category": ("profile", "{orders}", "--bridge", "--by", "category", "--period", "quarter"),
    "segment-migration": ("segment", "{orders}", "--since", "2025-03-31"),
    "funnel-order-status-trend": ("funnel", "{orders}", "--order-status", "--trend", "week"),
    "funnel-order-status-by-category": ("funnel", "{orders}", "--order-status", "--by", "category"),
    "profile-periods-promos": ("profile", "{orders}", "--per", "period", "--promos", "cn"),
    "segment-promos": ("segment", "{orders}", "--promos", "us"),
    "retention-by-promo": ("retention", "{orders}", "--by-promo", "--promos", "cn", "--values", "percent"),
    "churn-cox-experience": ("churn", "{orders}", "--cox", "--promos", "cn"),
    "churn-survival-by-ship-days": ("churn", "{orders}", "--by", "ship_days"),
    "segment-moved-keep": ("segment", "{orders}", "--since", "2025-03-31", "--moved", "Champions>Loyal,(new)>Champions", "--keep", "email"),
}
EVENTS_RUNS = {
    "retention-events-weekly": ("retention", "{events}", "--period", "week"),
    "funnel-ordered-exclusions-by": ("funnel", "{events}", "--steps", STEPS, "--exclude", "checkout", "--by", "channel"),
    "funnel-strict": ("funnel", "{events}", "--steps", STEPS, "--order", "strict"),
    "funnel-unordered": ("funnel", "{events}", "--steps", STEPS, "--order", "unordered"),
    "funnel-trend-window": ("funnel", "{events}", "--steps", STEPS, "--trend", "week", "--window", "1h"),
    "funnel-users": ("funnel", "{events}", "--steps", STEPS, "--users"),
}


@pytest.mark.parametrize("args", list({**ORDERS_RUNS, **EVENTS_RUNS}.values()), ids=list({**ORDERS_RUNS, **EVENTS_RUNS}))
def test_examples_as_parquet_give_the_same_output(spark, parquet_examples, examples_dir, args):
    lake = {"orders": parquet_examples / "orders.parquet", "events": parquet_examples / "events.parquet"}
    filled = [a.format(**lake, costs=os.path.join(examples_dir, "costs.csv")) for a in args]
    duckdb_out, spark_out = _both(*filled)
    assert spark_out == duckdb_out


def test_report_on_spark_is_the_same_page(spark, parquet_examples, tmp_path):
    args = ["report", str(parquet_examples / "orders.parquet"), "--events", str(parquet_examples / "events.parquet"), "--steps", STEPS, "-q"]
    for engine in ("duckdb", "spark"):
        result = CliRunner().invoke(app, [*args, "--engine", engine, "--spark-master", SPARK_MASTER, "-o", str(tmp_path / f"{engine}.html")])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "spark.html").read_bytes() == (tmp_path / "duckdb.html").read_bytes()


@pytest.mark.parametrize(
    "args",
    [("profile", "{cdnow}", "--per", "customer"), ("segment", "{cdnow}"), ("segment", "{cdnow}", "--scheme", "cn8"),
     ("retention", "{cdnow}", "--period", "month"), ("churn", "{cdnow}", "--as-of", "1997-09-30"), ("ltv", "{cdnow}", "--long")],
    ids=["profile", "segment-rfm10", "segment-cn8", "retention", "churn", "ltv"],
)
def test_cdnow_csv_gives_the_same_output(spark, cdnow_path, args):
    duckdb_out, spark_out = _both(*[a.format(cdnow=cdnow_path) for a in args])
    assert spark_out == duckdb_out


#: Each construct the translation rewrites (scan/spark_sql.py), on values where the engines'
#: own functions disagree: (DuckDB expression, the answer both must give).
VOCABULARY = {
    "date_diff month counts boundaries": ("date_diff('month', DATE '2024-01-31', DATE '2024-02-01')", 1),
    "date_diff day": ("date_diff('day', TIMESTAMP '2024-01-01 23:00:00', DATE '2024-01-02')", 1),
    "// truncates": ("(-7) // 2", -3),
    "round_even halves to even": ("round_even(2.5, 0) + round_even(3.5, 0)", 6),
    "epoch of a difference": ("epoch(TIMESTAMP '2024-01-02 00:00:01' - TIMESTAMP '2024-01-01 00:00:00')", 86401.0),
    "epoch_us": ("epoch_us(TIMESTAMP '1970-01-01 00:00:01')", 1_000_000),
    "slice to the second last": ("'=\"0123\"'[3:-2]", "0123"),
    "slice from": ("'''0123'[2:]", "0123"),
    "isfinite": ("isfinite(CAST('inf' AS DOUBLE)) OR isfinite(CAST('nan' AS DOUBLE)) OR NOT isfinite(1.5)", False),
    "an id is no timestamp": ("TRY_CAST('00004' AS TIMESTAMP) IS NULL AND TRY_CAST('2024' AS TIMESTAMP) IS NULL", True),
    "an ISO text is": ("TRY_CAST(' 2024-03-05 10:00:00' AS TIMESTAMP)", "2024-03-05 10:00:00"),
    "regexp_full_match is anchored": ("regexp_full_match('a1', '[0-9]') OR NOT regexp_full_match('12', '[0-9]+')", False),
    "epoch seconds to a time": ("timezone('UTC', to_timestamp(1700000000))", "2023-11-14 22:13:20"),
    "an offset to a zone": ("timezone('Asia/Shanghai', CAST('2024-01-01 03:00:00+00:00' AS TIMESTAMPTZ))", "2024-01-01 11:00:00"),
    "unsigned types": ("CAST(200 AS UTINYINT) + CAST(4000000000 AS UINTEGER)", 4_000_000_200),
    "ENUM values are text": ("CAST('b' AS ENUM('a', 'b'))", "b"),
}


@pytest.mark.parametrize("expression,expected", list(VOCABULARY.values()), ids=list(VOCABULARY))
def test_translated_vocabulary_means_the_same(spark, expression, expected):
    import duckdb

    from userops.scan.spark_sql import to_spark

    query = f"SELECT {expression}"
    on_duckdb = duckdb.connect().execute(query).fetchone()[0]
    on_spark = spark.sql(to_spark(query)).collect()[0][0]
    assert _plain(on_duckdb) == _plain(expected)
    assert _plain(on_spark) == _plain(expected)


def _plain(value):
    """A result as a comparable value: numbers as floats (DuckDB versions differ in the type of
    round_even), times as ISO text."""
    import datetime as dt
    import decimal

    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return value


def test_first_by_order_and_asof_join_mean_the_same(spark):
    """first(x ORDER BY k DESC, x) and the ASOF join's nearest following row, on a table."""
    import duckdb

    from userops.scan.spark import SparkEngine

    rows = "(VALUES ('u1', 1, 'a'), ('u1', 3, 'b'), ('u1', 5, 'c'), ('u2', 2, 'd'), ('u2', 4, 'e')) AS t(u, k, x)"
    first = f"SELECT u, first(x ORDER BY k DESC, x) AS top, arg_min_null(x, k) AS low FROM {rows} GROUP BY u ORDER BY u"
    asof = f"""WITH t AS (SELECT * FROM {rows}), a AS (SELECT * FROM (VALUES ('u1', 0), ('u1', 3), ('u1', 5), ('u2', 1), ('u3', 1)) AS a(u, q))
               SELECT a.u, a.q, s.k, s.x FROM a ASOF LEFT JOIN (SELECT * FROM t WHERE x <> 'e') s ON a.u = s.u AND s.k > a.q ORDER BY a.u, a.q"""
    engine = SparkEngine()
    for query in (first, asof, asof.replace("s.k > a.q", "s.k >= a.q")):
        assert engine.rows(query) == duckdb.connect().execute(query).fetchall(), query


@pytest.mark.parametrize("module", ["pyspark", "sqlglot"])
def test_without_the_spark_extra_the_error_says_what_to_install(monkeypatch, examples_dir, module):
    import sys

    import userops.scan

    for name in ("spark", "spark_sql"):  # imported afresh, as in a process without the extra (and put back after)
        monkeypatch.delitem(sys.modules, f"userops.scan.{name}", raising=False)
        monkeypatch.delattr(userops.scan, name, raising=False)
    monkeypatch.setitem(sys.modules, module, None)  # import <module> -> ImportError
    result = CliRunner().invoke(app, ["segment", os.path.join(examples_dir, "orders.csv"), "--engine", "spark"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"userops: error: --engine spark needs {module}, which is not installed; pip install 'userops[spark]'"
    ]


def test_an_unknown_engine_is_a_usage_error(examples_dir):
    result = CliRunner().invoke(app, ["segment", os.path.join(examples_dir, "orders.csv"), "--engine", "spork"])
    assert result.exit_code == 2
    assert "--engine must be one of duckdb, spark (got 'spork')" in result.output


def test_the_engine_table_of_userops_toml(tmp_path):
    from userops.config import load_config
    from userops.errors import UsageError

    (tmp_path / "userops.toml").write_text(
        '[engine]\nkind = "spark"\nmaster = "yarn"\n\n[engine.conf]\n"spark.executor.memory" = "8g"\n"spark.dynamicAllocation.enabled" = true\n'
    )
    config = load_config(cwd=str(tmp_path))
    assert config.option("engine") == "spark" and config.option("spark_master") == "yarn"
    assert config.spark_conf == {"spark.executor.memory": "8g", "spark.dynamicAllocation.enabled": "true"}
    (tmp_path / "userops.toml").write_text('[engine]\nkinds = "spark"\n')
    with pytest.raises(UsageError, match="unknown key 'kinds' in \\[engine\\]"):
        load_config(cwd=str(tmp_path))


def test_a_missing_path_on_spark_blames_the_input(spark, tmp_path):
    missing = str(tmp_path / "nowhere.parquet")
    result = CliRunner().invoke(app, ["segment", missing, "--engine", "spark", "--spark-master", SPARK_MASTER])
    assert result.exit_code == 66, result.output
    assert result.output.startswith(f"userops: error: {missing}: Spark cannot find it")
    assert len(result.output.strip().splitlines()) == 1


def test_a_time_column_spark_cannot_type_is_named(spark, write):
    path = write("orders.csv", "customer_id,order_date,amount\nA,03/05/2024,10\nB,2024-03-06,12\n")
    result = CliRunner().invoke(app, ["segment", path, "--engine", "spark", "--spark-master", SPARK_MASTER])
    assert result.exit_code == 65, result.output
    assert "column 'order_date'" in result.output and "'03/05/2024' is not an ISO 8601 timestamp" in result.output
    assert "DuckDB engine" in result.output


@pytest.mark.parametrize(
    "args,rows",
    [(["segment"], 3_800), (["profile", "--per", "customer"], 3_800), (["segment", "--filter", "Champions", "--columns", "customer_id,segment,action"], None)],
    ids=["segment", "profile", "segment-filter-columns"],
)
def test_a_list_written_by_spark_where_the_cluster_writes(spark, parquet_examples, tmp_path, monkeypatch, args, rows):
    """-o with a cluster's path (here file://, as s3a:// or hdfs://): Spark writes the list
    as a dataset (a folder of parts), with the rows and values of the local file; a plain
    list is written by the executors without coming to the driver."""
    import pandas as pd
    import pyarrow.parquet as pq

    from userops.scan import spark as spark_engine

    collected = []
    real = spark_engine.SparkList._arrow.func
    monkeypatch.setattr(spark_engine.SparkList, "_arrow", functools.cached_property(lambda self: collected.append(1) or real(self)))
    spark_engine.SparkList._arrow.__set_name__(spark_engine.SparkList, "_arrow")
    orders = str(parquet_examples / "orders.parquet")
    command, *options = args
    target = f"file://{tmp_path}/list.parquet"
    result = CliRunner().invoke(app, [command, orders, *options, "--engine", "spark", "--spark-master", SPARK_MASTER, "-o", target])
    assert result.exit_code == 0, result.output
    local = tmp_path / "local.parquet"
    assert CliRunner().invoke(app, [command, orders, *options, "-o", str(local)]).exit_code == 0
    written = pq.read_table(tmp_path / "list.parquet").to_pandas().sort_values("customer_id", ignore_index=True)
    expected = pq.read_table(local).to_pandas()
    assert f"wrote {len(expected):,} rows to {target}" in result.output
    assert list(written.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(written.astype(str), expected.astype(str))
    if rows is not None:  # the whole list: never on the driver
        assert len(expected) == rows and not collected
    else:  # a filtered list comes through the driver
        assert collected


def test_a_cluster_path_needs_the_spark_engine(examples_dir):
    orders = os.path.join(examples_dir, "orders.csv")
    result = CliRunner().invoke(app, ["segment", orders, "-o", "s3a://bucket/segments.parquet"])
    assert result.exit_code == 2
    assert "a cluster's path is written by Spark" in result.output and "--engine spark" in result.output
    result = CliRunner().invoke(app, ["segment", orders, "--engine", "spark", "-o", "s3a://bucket/segments.xlsx"])
    assert result.exit_code == 2 and "Spark writes parquet or csv there (got xlsx)" in result.output


def test_the_asof_rewrite_finds_the_same_rows_on_duckdb():
    """The ASOF join rewritten with a window (what Spark runs), run on DuckDB beside the ASOF
    join itself, on ties, gaps, NULL keys and users with no match (no Java needed)."""
    import duckdb

    from userops.scan.spark_sql import translate

    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT * FROM (VALUES ('u1', 2, 'b'), ('u1', 4, 'd'), ('u1', 9, 'i'), ('u2', 1, 'a')) AS s(u, seq, x)")
    con.execute("CREATE TABLE a AS SELECT * FROM (VALUES ('u1', 1), ('u1', 2), ('u1', 4), ('u1', 9), ('u1', NULL), ('u2', 1), ('u3', 0)) AS a(u, q)")
    for op in (">", ">="):
        query = f"SELECT a.u, a.q, s.seq, s.x FROM a a ASOF LEFT JOIN s s ON a.u = s.u AND s.seq {op} a.q ORDER BY a.u, a.q NULLS LAST"
        rewritten = translate(query).sql(dialect="duckdb")
        assert "ASOF JOIN" not in rewritten.upper() and "ASOF LEFT" not in rewritten.upper()
        expected = con.execute(query).fetchall()
        assert con.execute(rewritten).fetchall() == expected
        assert sum(1 for row in expected if row[2] is not None) == (3 if op == ">" else 5)


def test_a_catalog_table_is_an_input(spark, parquet_examples, tmp_path):
    """table:db.name reads a table of the session's catalog (a data lake's metastore)."""
    orders = str(parquet_examples / "orders.parquet")
    spark.sql("CREATE DATABASE IF NOT EXISTS userops_test")
    spark.read.parquet(orders).write.mode("overwrite").option("path", str(tmp_path / "warehouse")).saveAsTable("userops_test.orders")
    try:
        on_table = _run("segment", "table:userops_test.orders", "--engine", "spark", "--spark-master", SPARK_MASTER)
    finally:
        spark.sql("DROP TABLE IF EXISTS userops_test.orders")
    assert on_table == _run("segment", orders)


def test_orc_and_a_folder_of_parts_read_like_parquet(spark, parquet_examples, tmp_path):
    orders = str(parquet_examples / "orders.parquet")
    frame = spark.read.parquet(orders)
    frame.write.orc(str(tmp_path / "orders.orc"))
    frame.repartition(3).write.parquet(str(tmp_path / "lake" / "orders"))  # a folder named without an extension
    expected = _run("segment", orders)
    for path in (tmp_path / "orders.orc", tmp_path / "lake" / "orders"):
        assert _run("segment", str(path), "--engine", "spark", "--spark-master", SPARK_MASTER) == expected


def test_the_text_parsers_read_the_same_on_both_engines(spark):
    """Amounts, ids and ISO times written as text (CSV is read as text on both engines),
    through the scan's own parse expressions (scan/sql.py), on values where the engines'
    casts disagree ('1.5d', '1_000', '.5', '00004')."""
    import duckdb

    from userops.scan import sql
    from userops.scan.spark import SparkEngine

    amounts = ["$1,234.50", "(12.50)", "1.5d", "1_000", "12,5", " 7 ", "NaN", "inf", "1e3", ".5", "¥3,000", "", "abc"]
    ids = ['="012345"', "'00042", " A1 ", "00004", "", "B 2"]
    times = ["2024-03-05 10:00:00", "2024-03-05", " 2024-03-05T10:00:00 ", "2024", "00004", "2024-13-01", ""]
    for values, expr in (
        (amounts, sql.money_expr("v", "VARCHAR", ".")),
        (ids, sql.id_expr("v", "VARCHAR")),
        (times, sql.timestamp_expr("v", "VARCHAR", order=["iso"])),
    ):
        rows = ", ".join(f"({i}, {sql.sql_str(v)})" for i, v in enumerate(values))
        query = f"SELECT i, {expr} AS parsed FROM (VALUES {rows}) AS t(i, v) ORDER BY i"
        on_duckdb = [_plain(p) for _, p in duckdb.connect().execute(query).fetchall()]
        on_spark = [_plain(p) for _, p in SparkEngine().rows(query)]
        assert [str(p) for p in on_spark] == [str(p) for p in on_duckdb], values


def test_positional_parameters_bind_in_the_order_of_the_text():
    """A CTE's ``?`` comes before the SELECT list's in the text but after it in the parsed
    tree: bound in tree order, a holdout's date range went to the wrong places (no rows)."""
    from userops.scan.spark_sql import to_spark

    query = "WITH d AS (SELECT * FROM t WHERE ts >= ? AND ts < ? AND s = '?') SELECT ? AS first FROM d"
    spark = to_spark(query, [1, 2, 3])
    assert "ts >= 1 AND ts < 2 AND s = '?'" in spark and "SELECT 3 AS first" in spark


def test_check_and_the_export_profile_on_spark(spark, parquet_examples, tmp_path):
    """The same rules give the same table on both engines, and an export's profile saved on
    one engine passes against the other."""
    rules = tmp_path / "checks.toml"
    rules.write_text(
        '[[check]]\nmetric = "repeat_rate"\nwhen = "drop"\nthreshold = "2pp"\n\n'
        '[[check]]\nmetric = "funnel"\nsteps = "checkout,purchase"\nwindow = "7d"\nwhen = "drop"\nthreshold = "20%"\n',
        encoding="utf-8",
    )
    orders, events = str(parquet_examples / "orders.parquet"), str(parquet_examples / "events.parquet")
    results = [
        CliRunner().invoke(app, ["check", orders, "--events", events, "--rules", str(rules), "--as-of", "2025-05-25", "-f", "csv", "-q", *engine])
        for engine in ([], ["--engine", "spark", "--spark-master", SPARK_MASTER])
    ]
    assert [r.exit_code for r in results] == [3, 3] and results[0].stdout == results[1].stdout
    saved = tmp_path / "p.json"
    assert CliRunner().invoke(app, ["inspect", orders, "--save-profile", str(saved), "-q"]).exit_code == 0
    against = CliRunner().invoke(app, ["inspect", orders, "--against", str(saved), "-f", "csv", "-q", "--engine", "spark", "--spark-master", SPARK_MASTER])
    assert against.exit_code == 0, against.output


def test_holdout_and_uplift_on_spark(spark, parquet_examples, tmp_path):
    """The campaign list drawn from Spark's segments is the same list, and its readout the same table."""
    orders = str(parquet_examples / "orders.parquet")
    lists = []
    for name, engine in (("duckdb", []), ("spark", ["--engine", "spark", "--spark-master", SPARK_MASTER])):
        path = tmp_path / f"{name}.csv"
        made = CliRunner().invoke(app, ["segment", orders, "--as-of", "2025-05-31", "--filter", "At risk,Hibernating", "--holdout", "20%", "-q", "-o", str(path), *engine])
        assert made.exit_code == 0, made.output
        lists.append(path.read_bytes())
    assert lists[0] == lists[1]
    readouts = [
        CliRunner().invoke(app, ["uplift", str(tmp_path / "duckdb.csv"), orders, "--since", "2025-06-01", "-f", "csv", "-q", *engine])
        for engine in ([], ["--engine", "spark", "--spark-master", SPARK_MASTER])
    ]
    assert [r.exit_code for r in readouts] == [0, 0], readouts[1].output
    assert readouts[0].stdout == readouts[1].stdout
