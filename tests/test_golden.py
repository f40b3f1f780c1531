"""Golden output files: the shipped examples and the hand-worked shop in every text format.

Rewrite them with ``pytest --update-golden`` and review the diff in the commit.
"""

import io
import pathlib

import openpyxl
import pytest
from typer.testing import CliRunner

from userops.cli.app import app
from userops.demo import generate_demo

GOLDEN = pathlib.Path(__file__).parent / "golden"
EXAMPLES_AS_OF = "2025-06-30"

CASES = [
    ("profile", "examples", ["--per", "summary"], "csv"),
    ("profile", "examples", ["--per", "summary"], "json"),
    ("profile", "examples", ["--per", "period"], "csv"),
    ("profile", "examples", ["--per", "period", "--period", "quarter"], "markdown"),
    ("profile", "small", ["--per", "customer"], "csv"),
    ("profile", "small", ["--per", "customer"], "tsv"),
    ("profile", "small", ["--per", "customer"], "json"),
    ("profile", "small", ["--per", "customer"], "jsonl"),
    ("profile", "small", ["--per", "customer"], "markdown"),
    ("profile", "small", ["--per", "period"], "csv"),
    ("segment", "examples", ["--summary"], "csv"),
    ("segment", "examples", ["--summary", "--scheme", "cn8", "--lang", "zh"], "json"),
    ("segment", "examples", ["--summary", "--scheme", "cn8", "--split", "median", "--lang", "en"], "markdown"),
    ("segment", "examples", ["--summary", "--lang", "zh", "--headers", "zh"], "csv"),
    ("segment", "examples", ["--lifecycle", "--period", "quarter"], "csv"),
    ("segment", "small", [], "csv"),
    ("segment", "small", [], "json"),
    ("funnel", "examples", ["--repeat", "3"], "csv"),
    ("retention", "examples", ["--values", "percent"], "csv"),
    ("retention", "examples", ["--long", "--period", "week", "--periods", "4"], "json"),
    ("churn", "examples", ["--top", "25"], "csv"),
    ("churn", "examples", ["--model-report"], "json"),
    ("churn", "examples", ["--cox"], "markdown"),
    ("ltv", "examples", ["--by", "channel", "--margin", "0.35", "--costs", "{examples}/costs.csv", "--periods", "6"], "csv"),
    ("ltv", "examples", ["--period", "quarter", "--long"], "json"),
]


@pytest.mark.parametrize("command, data, args, fmt", CASES, ids=lambda v: "-".join(v) if isinstance(v, list) else str(v))
def test_golden(command, data, args, fmt, small_orders, examples_dir, update_golden):
    path = f"{examples_dir}/orders.csv" if data == "examples" else small_orders
    extra = ["--as-of", EXAMPLES_AS_OF] if data == "examples" else []
    given = [a.replace("{examples}", examples_dir) for a in args]
    result = CliRunner().invoke(app, [command, path, *given, *extra, "--format", fmt, "--quiet"])
    assert result.exit_code == 0, result.stderr
    flags = "_".join(a.lstrip("-").replace("{examples}/", "") for a in args) or "customers"
    name = f"{command}_{data}_{flags}.{ {'markdown': 'md'}.get(fmt, fmt) }"
    golden = GOLDEN / name
    if update_golden:
        golden.write_bytes(result.stdout_bytes)
    assert golden.exists(), f"{name} is missing; create it with --update-golden"
    assert result.stdout_bytes == golden.read_bytes(), f"{name} changed; rerun with --update-golden and review the diff"


def test_examples_customer_xlsx_matches_csv(examples_dir, tmp_path):
    out = tmp_path / "c.xlsx"
    base = ["profile", f"{examples_dir}/orders.csv", "--per", "customer", "--as-of", EXAMPLES_AS_OF, "--quiet"]
    assert CliRunner().invoke(app, [*base, "-o", str(out)]).exit_code == 0
    csv_text = CliRunner().invoke(app, [*base, "--format", "csv"]).stdout
    import pandas as pd

    from_csv = pd.read_csv(io.StringIO(csv_text), dtype={"customer_id": str})
    rows = list(openpyxl.load_workbook(out, read_only=True).active.iter_rows(values_only=True))
    assert len(rows) - 1 == len(from_csv) > 3000
    assert [r[0] for r in rows[1:]] == from_csv["customer_id"].tolist()
    assert [r[4] for r in rows[1:]] == pytest.approx(from_csv["revenue"].tolist())


def test_examples_are_what_the_generator_writes(examples_dir, tmp_path):
    generate_demo(str(tmp_path))
    for name in ("orders.csv", "events.csv", "costs.csv"):
        assert (tmp_path / name).read_bytes() == (pathlib.Path(examples_dir) / name).read_bytes(), name
    total = sum((pathlib.Path(examples_dir) / n).stat().st_size for n in ("orders.csv", "events.csv"))
    assert total < 5 * 1024 * 1024
