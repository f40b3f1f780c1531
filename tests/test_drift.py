"""Export drift: inspect --save-profile records an export, --against reports what changed and
exits 3 on a breaking change (the issue's cases: a renamed amount column, a file cut in half,
an unchanged re-export)."""

import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.cli.app import app


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def changes(result):
    return pd.read_csv(io.StringIO(result.stdout)).fillna("")


@pytest.fixture
def saved(examples_dir, tmp_path):
    path = tmp_path / "last.json"
    result = run("inspect", f"{examples_dir}/orders.csv", "--save-profile", path)
    assert result.exit_code == 0, result.output
    assert result.stdout == run("inspect", f"{examples_dir}/orders.csv").stdout  # the column table, as without it
    return path


def test_the_profile_records_the_export(saved):
    profile = json.loads(saved.read_text(encoding="utf-8"))
    assert profile["rows"] == 13805 and profile["roles"]["amount"] == "line_total"
    assert profile["first_date"] == "2024-01-01 19:04:13" and profile["last_date"] == "2025-06-30 23:30:09"
    assert profile["status_values"] == ["cancelled", "paid", "refunded"]
    line_total = next(c for c in profile["columns"] if c["column"] == "line_total")
    assert line_total == {"column": "line_total", "role": "amount", "type": "decimal", "blank_share": 0.0, "distinct_share": line_total["distinct_share"]}


def test_an_unchanged_re_export_passes(examples_dir, saved, tmp_path):
    copy = tmp_path / "again.csv"
    copy.write_bytes(open(f"{examples_dir}/orders.csv", "rb").read())
    result = run("inspect", copy, "--against", saved)
    assert result.exit_code == 0, result.output
    assert changes(result).empty and "0 changes against" in result.stderr


def test_a_renamed_amount_column_is_breaking(examples_dir, saved, tmp_path):
    text = open(f"{examples_dir}/orders.csv", encoding="utf-8").read()
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(text.replace("line_total", "Paid (CNY)", 1), encoding="utf-8")
    result = run("inspect", renamed, "--against", saved)
    assert result.exit_code == 3, result.output
    table = changes(result)
    assert table.iloc[0].tolist() == ["role column missing", "breaking", "line_total", "amount", "not found"]
    # renamed to another name userops knows: still read, but from another column
    total = tmp_path / "total.csv"
    total.write_text(text.replace("line_total", "total", 1), encoding="utf-8")
    moved = run("inspect", total, "--against", saved)
    assert moved.exit_code == 3 and changes(moved).iloc[0].tolist() == ["role column renamed", "breaking", "total", "line_total", "total"]


def test_a_file_cut_in_half_is_breaking_and_not_saved(examples_dir, saved, tmp_path):
    lines = open(f"{examples_dir}/orders.csv", encoding="utf-8").read().splitlines()
    half = tmp_path / "half.csv"
    half.write_text("\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8")
    result = run("inspect", half, "--against", saved, "--save-profile", tmp_path / "next.json")
    assert result.exit_code == 3
    table = changes(result)
    assert set(table["change"]) == {"fewer rows", "dates went backwards"} and (table["severity"] == "breaking").all()
    assert not (tmp_path / "next.json").exists() and "did not save the profile" in result.stderr
    # within --max-row-drop the row count is no change (the dates still went back)
    allowed = run("inspect", half, "--against", saved, "--max-row-drop", "0.6")
    assert allowed.exit_code == 3 and changes(allowed)["change"].tolist() == ["dates went backwards"]


def test_status_values_counted_or_excluded(write, tmp_path):
    base = "order_id,customer_id,order_date,amount,status\n1,a,2024-01-01,5,paid\n2,b,2024-01-02,6,refunded\n"
    saved = tmp_path / "p.json"
    assert run("inspect", write("o.csv", base), "--save-profile", saved).exit_code == 0
    excluded = run("inspect", write("o2.csv", base + "3,c,2024-01-03,7,chargeback\n"), "--against", saved)
    assert excluded.exit_code == 0 and changes(excluded).iloc[0].tolist() == ["new status value", "warning", "status", "", "chargeback (excluded)"]
    counted = run("inspect", write("o3.csv", base + "3,c,2024-01-03,7,partially_paid_back\n"), "--against", saved)
    assert counted.exit_code == 3
    assert changes(counted).iloc[0].tolist() == ["new status value", "breaking", "status", "", "partially_paid_back (counted as a purchase)"]


def test_a_type_change_of_a_role_column_is_breaking(write, tmp_path):
    saved = tmp_path / "p.json"
    assert run("inspect", write("o.csv", "customer_id,order_date,amount\na,2024-01-01,5\nb,2024-01-02,6\n"), "--save-profile", saved).exit_code == 0
    result = run("inspect", write("o2.csv", "customer_id,order_date,amount\na,01/02/2024,5\nb,01/03/2024,6\n"), "--against", saved)
    assert result.exit_code == 3
    row = changes(result).iloc[0]
    assert (row["change"], row["column"]) == ("type changed", "order_date")


def test_profile_errors(examples_dir, write, tmp_path):
    missing = run("inspect", f"{examples_dir}/orders.csv", "--against", tmp_path / "nope.json")
    assert missing.exit_code == 66 and "save one first with --save-profile" in missing.stderr
    bad = run("inspect", f"{examples_dir}/orders.csv", "--against", write("bad.json", '{"rows": 3}'))
    assert bad.exit_code == 65 and "not a userops export profile" in bad.stderr
    two = run("inspect", f"{examples_dir}/orders.csv", f"{examples_dir}/orders.csv", "--save-profile", tmp_path / "p.json")
    assert two.exit_code == 2 and "one export at a time" in two.stderr
