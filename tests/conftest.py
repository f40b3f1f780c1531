import os
import pathlib

import pytest

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent
#: Reference data shipped with the tests (see tests/data/README.md for its source).
TEST_DATA = ROOT / "tests" / "data"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/* from the current output")
    parser.addoption("--browser", action="store_true", help="run browser tests (need Debian chromium)")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: needs a real browser; run with --browser")
    config.addinivalue_line("markers", "spark: runs on local Spark (needs Java)")
    _build_the_cli_once()


def _build_the_cli_once():
    """CliRunner turns the Typer app into click commands on every invoke (~16 ms of reading
    signatures, 700 invokes: a sixth of the suite's CPU). The app does not change while the
    suite runs: build it once. The command-line entry point builds it once per process anyway."""
    import functools

    import typer.testing

    typer.testing._get_command = functools.lru_cache(maxsize=None)(typer.testing._get_command)


def pytest_collection_modifyitems(config, items):
    if config.getoption("--browser"):
        return
    skip = pytest.mark.skip(reason="browser test: run with --browser")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def update_golden(request):
    return request.config.getoption("--update-golden")


@pytest.fixture
def write(tmp_path):
    """write("name.csv", text_or_bytes, encoding="utf-8") -> path as str."""

    def _write(name, content, encoding="utf-8"):
        path = tmp_path / name
        data = content if isinstance(content, bytes) else content.encode(encoding)
        path.write_bytes(data)
        return str(path)

    return _write


# The hand-worked shop used across the profile tests. Expected values are derived in
# tests/test_profile.py.
SMALL_ORDERS = """order_id,customer_id,order_date,status,category,channel,quantity,unit_price
O1,001,2024-01-10 09:00:00,paid,Home,web,2,10.00
O1,001,2024-01-10 09:00:00,paid,Toys,web,1,5.00
O2,001,2024-02-20 15:00:00,paid,Toys,app,1,15.00
O3,001,2024-03-01 09:00:00,refunded,Home,web,1,99
O4,002,2024-02-01 10:00:00,paid,Home,app,3,10
O5,002,2024-03-15 10:00:00,cancelled,Home,app,1,10
O6,,2024-03-16 10:00:00,paid,Home,web,1,10
O7,003,2024-03-31 18:00:00,paid,Beauty,web,1,50
O8,004,2024-03-20 12:00:00,paid,Home,web,-1,20
O9,005,not a date,paid,Home,web,1,10
"""


@pytest.fixture
def small_orders(write):
    return write("orders.csv", SMALL_ORDERS)


@pytest.fixture(scope="session")
def cdnow_path():
    return str(TEST_DATA / "cdnow_sample_orders.csv")


@pytest.fixture(scope="session")
def examples_dir():
    return str(ROOT / "examples")


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path, monkeypatch):
    """Run every test in an empty folder so a stray userops.toml never leaks in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COLUMNS", raising=False)
    os.environ.setdefault("TERM", "dumb")
