"""The same commands on Spark (local[2]) as on DuckDB: the outputs are equal, byte for byte.

One Spark session serves the whole module (the JVM starts once). Without Java the group is
skipped, unless USEROPS_REQUIRE_SPARK=1 (``.ci/run`` sets it: there it must run)."""

import os
import shutil

import pytest
from typer.testing import CliRunner

from userops.cli.app import app

pytestmark = pytest.mark.spark

SPARK_MASTER = "local[2]"
STEPS = "home,product_view,add_to_cart,purchase"


def _spark_or_skip():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("USEROPS_REQUIRE_SPARK"):
            pytest.fail("USEROPS_REQUIRE_SPARK is set but there is no java on this machine")
        pytest.skip("Spark needs a Java runtime (apt-get install openjdk-17-jre-headless)")
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
    "retention-orders-monthly": ("retention", "{orders}", "--period", "month"),
    "churn": ("churn", "{orders}"),
}
EVENTS_RUNS = {
    "retention-events-weekly": ("retention", "{events}", "--period", "week"),
    "funnel-ordered-exclusions-by": ("funnel", "{events}", "--steps", STEPS, "--exclude", "checkout", "--by", "channel"),
    "funnel-strict": ("funnel", "{events}", "--steps", STEPS, "--order", "strict"),
    "funnel-unordered": ("funnel", "{events}", "--steps", STEPS, "--order", "unordered"),
}


@pytest.mark.parametrize("args", list({**ORDERS_RUNS, **EVENTS_RUNS}.values()), ids=list({**ORDERS_RUNS, **EVENTS_RUNS}))
def test_examples_as_parquet_give_the_same_output(spark, parquet_examples, args):
    filled = [a.format(orders=parquet_examples / "orders.parquet", events=parquet_examples / "events.parquet") for a in args]
    duckdb_out, spark_out = _both(*filled)
    assert spark_out == duckdb_out


@pytest.mark.parametrize(
    "args",
    [("profile", "{cdnow}", "--per", "customer"), ("segment", "{cdnow}"), ("segment", "{cdnow}", "--scheme", "cn8"),
     ("retention", "{cdnow}", "--period", "month"), ("churn", "{cdnow}", "--as-of", "1997-09-30")],
    ids=["profile", "segment-rfm10", "segment-cn8", "retention", "churn"],
)
def test_cdnow_csv_gives_the_same_output(spark, cdnow_path, args):
    duckdb_out, spark_out = _both(*[a.format(cdnow=cdnow_path) for a in args])
    assert spark_out == duckdb_out
