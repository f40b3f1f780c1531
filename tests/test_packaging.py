"""Process-level promises: fast start-up imports, quiet pipes, python -m, library API."""

import os
import subprocess
import sys

import pandas as pd

import userops
from userops.io.normalise import prepare_orders
from userops.scan.customers import customer_aggregates
from userops.scan.sql import status_spellings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys, userops.cli.app\n"
        "heavy = [m for m in ('pandas', 'duckdb', 'pyarrow', 'sklearn', 'lifelines', 'numpy', 'openpyxl') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_python_m_and_closed_pipe_are_quiet():
    examples = os.path.join(ROOT, "examples", "orders.csv")
    cmd = f"'{sys.executable}' -m userops profile '{examples}' --per customer --quiet | head -n 2"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True)
    assert out.stdout.splitlines()[0].startswith("customer_id,first_order")
    assert len(out.stdout.splitlines()) == 2
    assert "Traceback" not in out.stderr and "Broken" not in out.stderr and out.stderr == ""
    assert out.returncode == 0


def test_library_api_on_a_dataframe():
    frame = pd.DataFrame({"Buyer": ["a", "a", "b"], "When": ["2024-01-01", "2024-01-11", "2024-01-05"], "Paid": [10, 20, 5]})
    loaded = prepare_orders(frame, columns={"user": "Buyer", "time": "When", "amount": "Paid"})
    result = userops.profile_table(loaded, loaded.window(), per="summary")
    row = result.table.iloc[0]
    assert (row["customers"], row["orders"], row["revenue"], row["median_days_between_orders"]) == (2, 3, 35.0, 10.0)


def test_status_spellings_cover_platform_variants(write):
    spellings = status_spellings(("pending payment", "cancelled"))
    for s in ("pending payment", "pending_payment", "pending-payment", "wc-pending-payment", "cancelled", "wc-cancelled"):
        assert s in spellings
    path = write(
        "s.csv",
        "customer_id,order_date,amount,status\n1,2024-01-01,5,CANCELLED\n2,2024-01-01,5,wc-cancelled\n"
        "3,2024-01-01,5,Pending_Payment\n4,2024-01-01,5,wc-completed\n5,2024-01-01,5,已取消\n6,2024-01-01,5,partially_refunded\n",
    )
    loaded = userops.load_orders([path])
    assert loaded.drops.excluded == {"cancelled/refunded/unpaid status": 4}
    assert loaded.n_orders == 2  # completed and partially refunded are purchases


def test_library_exports_segment_functions(small_orders):
    loaded = userops.load_orders([small_orders])
    result = userops.segment_customers(loaded, loaded.window(), scheme="rfm10")
    assert result.customers["segment"].tolist() == ["Loyal", "Hibernating", "New"]
    values = userops.rfm_values(customer_aggregates(loaded, loaded.window(), period=None, detail=False), as_of=loaded.window().as_of)
    scored, cuts = userops.rfm_scores(values)
    assert scored["rfm_code"].tolist() == ["353", "111", "515"]


def test_one_version_source():
    """pyproject.toml takes the version from userops.__version__ (hatch dynamic version)."""
    import importlib.metadata
    import pathlib

    import userops

    pyproject = (pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and "\nversion =" not in pyproject
    assert importlib.metadata.version("userops") == userops.__version__


def test_statuses_past_the_sample_are_judged_by_the_whole_list(write, monkeypatch):
    """The sample's statuses are answered first; a status first seen after the sample (any
    spelling or case), a blank and a status the sample saw as kept all get the full list's
    answer."""
    from userops.scan import load as scan_load

    monkeypatch.setattr(scan_load, "SAMPLE_STATUSES", 2)  # 'paid' and 'refunded' answered first
    rows = ["customer_id,order_date,amount,status"]
    # in the first 2000 rows: paid, refunded and (third, past the limit) cancelled
    rows += [f"p{i},2024-01-01,5,paid" for i in range(1500)] + [f"r{i},2024-01-01,5,refunded" for i in range(20)] + ["x,2024-01-01,5,cancelled"]
    rows += [f"q{i},2024-01-01,5,paid" for i in range(1500)] + [f"s{i},2024-01-01,5,Refunded" for i in range(30)]
    rows += ["a,2024-01-02,5,WC-Cancelled", "b,2024-01-02,5,pending payment", "c,2024-01-02,5,", "d,2024-01-02,5,Shipped", "e,2024-01-02,5,PAID"]
    assert scan_load.SAMPLE_STATUSES == 2
    loaded = userops.load_orders([write("late.csv", "\n".join(rows) + "\n")])
    assert loaded.drops.excluded == {"cancelled/refunded/unpaid status": 20 + 1 + 30 + 2}
    assert loaded.n_orders == 3000 + 3  # paid, a blank status, shipped, PAID
