"""Hardening (issue 20): silent wrong numbers, outputs that replace the wrong thing, inputs
that should work, bounds. Each test fails on the code before its fix."""

import csv
import io

import pytest
from typer.testing import CliRunner

from userops.cli.app import app


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def per_customer(result):
    assert result.exit_code == 0, result.stderr
    return {r["customer_id"]: r for r in csv.DictReader(io.StringIO(result.stdout))}


# --- 1. decimal conventions ---------------------------------------------------------------


def test_european_amounts_with_a_currency_sign(write):
    path = write("eu.csv", 'customer_id,order_date,amount\nA1,2024-01-02,"12,50 €"\nA2,2024-01-03,"1.234,00 €"\n')
    rows = per_customer(run("profile", path, "--per", "customer", "--format", "csv"))
    assert (rows["A1"]["revenue"], rows["A2"]["revenue"]) == ("12.5", "1234")  # were 1250 and 1.23


def test_mixed_decimal_styles_are_refused_then_counted(write):
    path = write("mix.csv", 'customer_id,order_date,amount\nA1,2024-01-02,"1,234.56"\nA2,2024-01-03,"12,50"\nA3,2024-01-03,"7,5"\n')
    refused = run("profile", path)
    assert refused.exit_code == 65
    assert "mix decimal styles: '1,234.56' has a decimal point, '12,50' a decimal comma" in refused.stderr
    assert "--decimal" in refused.stderr and "column 'amount'" in refused.stderr
    comma = run("profile", path, "--per", "customer", "--decimal", ",", "--format", "csv")
    assert set(per_customer(comma)) == {"A2", "A3"} and "1 unparseable amounts" in comma.stderr  # not read as 1.23
    point = run("profile", path, "--per", "customer", "--decimal", ".", "--format", "csv")
    assert per_customer(point)["A1"]["revenue"] == "1234.56" and "2 unparseable amounts" in point.stderr  # not 1250 and 75


# --- 2. out-of-range dates -----------------------------------------------------------------


def test_dates_out_of_range_are_dropped_and_counted(write):
    path = write("d.csv", "customer_id,order_date,amount\nA1,2024-01-02,10\nA2,9999-12-31,20\nA3,2099-01-01,5\nA4,1970-01-01,3\n")
    result = run("profile", path, "--format", "csv")
    assert result.exit_code == 0, result.stderr  # 9999-12-31 was an internal error
    (kpis,) = csv.DictReader(io.StringIO(result.stdout))
    assert (kpis["customers"], kpis["as_of"]) == ("1", "2024-01-02")  # 2099 does not become the as-of date
    assert "dropped 3 rows: 3 with dates before 1990 or after tomorrow" in result.stderr
    strict = run("profile", path, "--strict")
    assert strict.exit_code == 65 and "line 3, column 'order_date'" in strict.stderr and "'9999-12-31'" in strict.stderr


def test_event_dates_out_of_range_are_dropped(write):
    path = write("e.csv", "user_id,event,timestamp\nu1,a,2024-01-01 10:00\nu1,b,2099-01-01 10:00\n")
    result = run("funnel", path, "--steps", "a,b", "--format", "csv")
    assert result.exit_code == 0 and "1 with dates before 1990 or after tomorrow" in result.stderr


# --- 3. a path names one file ----------------------------------------------------------------


def test_input_names_are_not_glob_patterns(tmp_path):
    (tmp_path / "glob_1.csv").write_text("customer_id,order_date,amount\nA1,2024-01-02,10\n")
    (tmp_path / "glob_[1].csv").write_text("customer_id,order_date,amount\nB1,2024-01-02,99\n")
    (tmp_path / "star_*.csv").write_text("customer_id,order_date,amount\nC1,2024-01-02,7\n")
    (tmp_path / "star_2.csv").write_text("customer_id,order_date,amount\nD1,2024-01-02,1\nD2,2024-01-02,1\n")
    assert set(per_customer(run("profile", tmp_path / "glob_[1].csv", "--per", "customer", "--format", "csv"))) == {"B1"}
    assert set(per_customer(run("profile", tmp_path / "star_*.csv", "--per", "customer", "--format", "csv"))) == {"C1"}
    assert run("profile", tmp_path / "nope_*.csv").exit_code == 66
