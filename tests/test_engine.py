"""The scan engine's settings: --threads and --memory-limit (flags, userops.toml,
USEROPS_THREADS), spilling to a private folder, and the shape of the scan package."""

import csv
import io
import os
import pathlib
import re
import tempfile

import pytest
from typer.testing import CliRunner

from userops.cli.app import app
from userops.cli.context import RunContext
from userops.config import load_config
from userops.scan.engine import Engine, memory_size, parse_memory_limit

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "userops"


def run(*args, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def setting(engine, name):
    return engine.value(f"SELECT current_setting('{name}')")


def test_engine_threads_memory_limit_and_spill_folder(monkeypatch):
    from userops.scan import engine as engine_module

    monkeypatch.setattr(engine_module._Database, "current", None)  # a database of its own
    engine = Engine(threads=1, memory_limit="256MB")
    assert setting(engine, "threads") == 1 and engine.threads == 1
    assert setting(engine, "memory_limit") == "244.1 MiB"  # 256 MB in DuckDB's units
    spill = setting(engine, "temp_directory")
    assert spill.startswith(tempfile.gettempdir()) and f"userops-spill-{os.getpid()}" in spill
    # an aggregation bigger than the limit spills there instead of failing
    assert engine.value("SELECT count(*) FROM (SELECT i % 1500000 AS k, list(i) FROM range(3000000) t(i) GROUP BY k)") == 1_500_000
    engine.close()
    assert not os.path.exists(spill)


def test_engines_share_one_database_in_catalogs_of_their_own():
    """Engines of one process (the tests, a report's orders and events) attach a catalog each
    to one DuckDB database: their tables do not meet, and a closed or collected engine's
    catalog goes."""
    import gc

    from userops.scan import engine as engine_module

    first, second = Engine(), Engine()
    assert first._database is second._database
    first.execute("CREATE TABLE orders AS SELECT 1 AS x")
    second.execute("CREATE TABLE orders AS SELECT 2 AS x")
    assert (first.value("SELECT x FROM orders"), second.value("SELECT x FROM orders")) == (1, 2)
    assert first.frame("SELECT x FROM orders")["x"].tolist() == [1]  # queries on a cursor see their catalog

    def catalogs():
        with engine_module._Database.shared().con.cursor() as con:
            return {r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()}

    name = first._catalog
    first.close()
    first.close()  # a second close does nothing
    assert name not in catalogs() and second.value("SELECT x FROM orders") == 2
    name = second._catalog
    del second
    gc.collect()
    assert name not in catalogs()


def test_default_memory_limit_is_half_the_machine():
    engine = Engine()
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    value, unit = re.fullmatch(r"([\d.]+) (\w+)", setting(engine, "memory_limit")).groups()
    limit = float(value) * {"MiB": 2**20, "GiB": 2**30}[unit]
    assert limit == pytest.approx(total / 2, rel=0.02)
    engine.close()


@pytest.mark.parametrize("text, expected", [("8GB", "8GB"), ("512 mb", "512MB"), ("1.5gib", "1.5GiB"), ("50%", memory_size(0.5))])
def test_memory_limit_values(text, expected):
    assert parse_memory_limit(text) == expected


def test_a_share_of_memory_is_a_size_every_duckdb_takes(small_orders):
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert memory_size(0.25) == f"{(total // 4) >> 20}MiB"
    assert run("profile", small_orders, "--memory-limit", "25%").exit_code == 0


def test_threads_from_flag_config_and_environment(write, small_orders, monkeypatch):
    def threads(flags, config=None, env=None):
        monkeypatch.delenv("USEROPS_THREADS", raising=False)
        if env is not None:
            monkeypatch.setenv("USEROPS_THREADS", env)
        path = write("userops.toml", config or "")
        context = RunContext("profile", {"config": path, **flags}, load_config(path, command="profile"))
        engine = context.engine()
        try:
            return engine.threads
        finally:
            engine.close()

    assert threads({"threads": 1}) == 1
    assert threads({}, config="threads = 1\n") == 1
    assert threads({}, env="1") == 1
    assert threads({"threads": 2}, config="threads = 1\n", env="1") == 2  # the flag wins


def test_threads_bound_arrow_before_and_after_it_is_loaded(small_orders):
    """--threads sizes Arrow's pools too: told through the environment when pyarrow is not
    loaded yet (the command does not import it on its path), directly when it is."""
    import subprocess
    import sys

    script = (
        "import os, sys\n"
        "from userops.cli.app import main\n"
        f"sys.argv = ['userops', 'profile', {small_orders!r}, '--threads', '3', '-q']\n"
        "loaded_before = 'pyarrow' in sys.modules\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "import pyarrow as pa\n"
        "print(loaded_before, pa.cpu_count(), pa.io_thread_count(), os.environ.get('OMP_NUM_THREADS'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "ARROW_IO_THREADS")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-4:] == ["False", "3", "3", "3"]
    # a user's own OMP_NUM_THREADS is kept; Arrow is still sized to --threads
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env={**env, "OMP_NUM_THREADS": "5"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-4:] == ["False", "3", "3", "5"]


def test_bad_threads_and_memory_limits_are_usage_errors(small_orders):
    for args, env, message in (
        (["--threads", "0"], None, "--threads must be between 1 and 1024 (got 0)"),
        (["--memory-limit", "lots"], None, "--memory-limit 'lots' is not a size"),
        ([], {"USEROPS_THREADS": "many"}, "USEROPS_THREADS='many' must be a whole number"),
    ):
        result = run("profile", small_orders, *args, env=env)
        assert result.exit_code == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


def test_commands_run_with_one_thread_and_a_small_limit(small_orders):
    wide = run("segment", small_orders, "--format", "csv")
    narrow = run("segment", small_orders, "--format", "csv", "--threads", "1", "--memory-limit", "128MB")
    assert narrow.exit_code == 0, narrow.stderr
    assert narrow.stdout == wide.stdout


def test_no_engine_calls_outside_the_scan_package():
    """Analytics, io, the CLI and the report call the scan's concept modules; only scan/ runs SQL."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if "scan" in path.relative_to(SRC).parts[:1]:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ".engine." in line or "getattr(self, \"events" in line:
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_careful_csv_reader_fits_a_small_memory_limit(write):
    """A quoted line break selects DuckDB's careful scanner; its read buffer (16 records of
    the longest allowed) once asked for 16 GB and failed under a memory limit."""
    path = write("o.csv", 'customer_id,order_date,amount,note\nA1,2024-01-02,10.00,"gift\nplease wrap"\nA2,2024-01-03,20.00,ok\n')
    result = run("segment", path, "--format", "csv", "--memory-limit", "2GB")
    assert result.exit_code == 0, result.stderr
    assert [r["customer_id"] for r in csv.DictReader(io.StringIO(result.stdout))] == ["A1", "A2"]


def test_out_of_memory_names_the_limit():
    engine = Engine(threads=1, memory_limit="32MB")
    from userops.errors import UseropsError

    with pytest.raises(UseropsError) as caught:
        engine.value("SELECT count(*) FROM (SELECT i % 1500000 AS k, list(i) FROM range(3000000) t(i) GROUP BY k)")
    assert caught.value.exit_code == 1 and "ran out of memory" in caught.value.message
    assert "--memory-limit" in str(caught.value)
    engine.close()


PROFILE_EDGES = {
    "no amounts": "customer_id,order_date\nA,2024-01-02\nA,2024-03-01\nB,2024-02-10\n",
    "one order each": "customer_id,order_date,amount\nA,2024-01-02,10.125\nB,2024-02-10,0.005\nC,2024-03-10 13:30:00,2.675\n",
    "halves and gaps": (
        "customer_id,order_date,amount\nA,2024-01-01,0.125\nA,2024-01-01 12:00:00,0.25\nA,2024-01-04,2.675\n"
        "B,2023-06-01,1.005\nB,2024-05-30 23:59:59,1.015\nC,2024-06-30,12.345\n"
    ),
}


@pytest.mark.parametrize("name", [*PROFILE_EDGES, "examples"])
@pytest.mark.parametrize("period", ["week", "month"])
def test_engine_profiles_equal_the_frame_definition(name, period, write, examples_dir):
    """``profile --per customer`` is computed in the engine; customer_profile (the library's
    function on a frame) is the same definition: every value equal, rounding included."""
    import pandas as pd

    from userops.analytics import lifecycle
    from userops.analytics.profile import customer_profile, profile_table
    from userops.io.normalise import load_orders
    from userops.scan.customers import customer_aggregates, gap_stats

    path = str(pathlib.Path(examples_dir) / "orders.csv") if name == "examples" else write("o.csv", PROFILE_EDGES[name])
    loaded = load_orders([path], line_detail=True)
    window = loaded.window()
    median, p90 = gap_stats(loaded, window, (0.5, 0.9))
    expected = customer_profile(
        customer_aggregates(loaded, window, period=period), as_of=window.as_of, period=period,
        churn_threshold_days=lifecycle.default_churn_threshold(p90), median_gap_days=median,
    )
    result = profile_table(loaded, window, per="customer", period=period)
    assert result.arrow is not None
    pd.testing.assert_frame_equal(result.table, expected, check_dtype=False, check_exact=True)


def test_a_query_with_parameters_keeps_its_order_by():
    """DuckDB 1.x ran a relation with parameters without its ORDER BY (rows in any order on
    several threads): the per-customer lists, sorted by id, came out unsorted there."""
    engine = Engine(threads=2)
    try:
        engine.execute("CREATE TABLE t AS SELECT 'C' || lpad(CAST(i AS VARCHAR), 7, '0') AS id, i % 97 AS v FROM range(300000) r(i)")
        for _ in range(3):
            ids = engine.arrow("SELECT id, CAST(v > $1 AS INTEGER) AS s FROM t ORDER BY id", [5]).column("id").to_pylist()
            assert ids == sorted(ids)
    finally:
        engine.close()


def test_an_answer_asked_twice_for_a_window_is_queried_once(write):
    """segment and churn both ask for the gaps between orders (the report runs both): one
    query per window; another window is another question."""
    from userops.io.normalise import load_orders
    from userops.scan.customers import gap_stats

    loaded = load_orders([write("o.csv", "order_id,customer_id,order_date,amount\n1,a,2024-01-01,5\n2,a,2024-01-11,5\n3,a,2024-01-31,5\n")])
    asked = []
    row = loaded.engine.row
    loaded.engine.row = lambda *a, **k: asked.append(a[0]) or row(*a, **k)  # type: ignore[method-assign]
    window = loaded.window()
    assert gap_stats(loaded, window, (0.5, 0.9)) == gap_stats(loaded, window, (0.5, 0.9)) == [15.0, 19.0]
    assert len(asked) == 1
    assert gap_stats(loaded, loaded.window("2024-01-20"), (0.5, 0.9)) == [10.0, 10.0]
    assert len(asked) == 2


def test_every_command_closes_its_engines(examples_dir, monkeypatch, write):
    """The CLI skips the interpreter's last garbage collection, so each command closes the
    engines it loaded (memory, spill folder) itself, after an error too."""
    closed = []
    real_close = Engine.close
    monkeypatch.setattr(Engine, "close", lambda self, **kw: closed.append(self) or real_close(self, **kw))
    result = run("report", f"{examples_dir}/orders.csv", "--events", f"{examples_dir}/events.csv", "-o", write("r.html", ""))
    assert result.exit_code == 0, result.output
    assert len({id(e) for e in closed}) == 2  # the orders' engine and the events'
    closed.clear()
    result = run("churn", f"{examples_dir}/orders.csv", "--as-of", "1999-01-01")
    assert result.exit_code != 0 and len(closed) == 1
