"""The command line through Typer's CliRunner: what users see, and that it equals the library."""

import io
import json
import os
import stat

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from userops import __version__
from userops.analytics.profile import profile_table
from userops.cli.app import app
from userops.io.normalise import load_orders

COMMANDS = ["profile", "segment", "funnel", "retention", "churn", "report", "inspect"]


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def test_version_and_help():
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"userops {__version__}"
    result = run("--help")
    assert result.exit_code == 0
    for name in COMMANDS + ["demo"]:
        assert name in result.stdout


@pytest.mark.parametrize("name", COMMANDS + ["demo"])
def test_every_command_has_help_with_an_example(name):
    result = run(name, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout


def test_profile_csv_when_piped_equals_library(small_orders):
    result = run("profile", small_orders, "--per", "customer")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "customer_id,first_order,last_order,orders,revenue,aov,mean_days_between_orders,tenure_days,"
        "recency_days,top_category,top_channel,active_periods,lifecycle_status"
    )
    from_cli = pd.read_csv(io.StringIO(result.stdout), dtype={"customer_id": str})
    loaded = load_orders([small_orders])
    lib = profile_table(loaded, loaded.window(), per="customer").table
    assert from_cli["customer_id"].tolist() == lib["customer_id"].tolist() == ["001", "002", "003"]
    assert from_cli["revenue"].tolist() == lib["revenue"].tolist()
    # stderr carries the drop summary; stdout carries data only
    assert "dropped 2 rows" in result.stderr
    assert "dropped" not in result.stdout


def test_json_equals_library(small_orders):
    result = run("profile", small_orders, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data == [
        {
            "customers": 3, "orders": 4, "revenue": 120.0, "aov": 30.0, "orders_per_customer": 1.3333,
            "repeat_rate": 0.3333, "first_date": "2024-01-10", "last_date": "2024-03-31",
            "median_days_between_orders": 41.25, "as_of": "2024-03-31",
        }
    ]


def test_table_on_a_terminal(small_orders, monkeypatch):
    monkeypatch.setattr("userops.cli.context.stdout_is_terminal", lambda: True)
    result = run("profile", small_orders)
    assert result.exit_code == 0, result.stderr
    assert "metric" in result.stdout and "repeat_rate" in result.stdout and "33.3%" in result.stdout
    assert "," not in result.stdout.splitlines()[0]


def test_xlsx_reads_back(small_orders, tmp_path):
    out = tmp_path / "customers.xlsx"
    result = run("profile", small_orders, "--per", "customer", "-o", out)
    assert result.exit_code == 0, result.stderr
    wb = openpyxl.load_workbook(out)
    ws = wb.active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:5] == ("customer_id", "first_order", "last_order", "orders", "revenue")
    assert rows[1][0] == "001" and ws["A2"].data_type == "s"  # ids stay text
    assert rows[1][3] == 2 and rows[1][4] == 40  # numbers as numbers
    assert rows[1][1].isoformat() == "2024-01-10T09:00:00"  # dates as dates
    assert ws.freeze_panes == "A2" and ws["A1"].font.bold


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "markdown", "parquet", "xlsx"])
def test_every_format_is_byte_identical_on_rerun(small_orders, tmp_path, fmt):
    outs = []
    for i in range(2):
        out = tmp_path / f"out{i}.{ 'md' if fmt == 'markdown' else fmt}"
        result = run("profile", small_orders, "--per", "customer", "-o", out)
        assert result.exit_code == 0, result.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_missing_file_exits_66(tmp_path):
    result = run("profile", tmp_path / "nope.csv")
    assert result.exit_code == 66
    assert result.stderr.startswith("userops: error: ") and "nope.csv" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_empty_file_exits_65(write):
    result = run("profile", write("empty.csv", ""))
    assert result.exit_code == 65 and "empty" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_user_column_exits_65_with_headers_and_flag(write):
    result = run("profile", write("o.csv", "Total,When\n5,2024-01-01\n"))
    assert result.exit_code == 65
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "o.csv" in line and "found: Total, When" in line and "--user-col" in line


def test_unwritable_output_exits_73(small_orders, tmp_path):
    result = run("profile", small_orders, "-o", tmp_path / "no" / "such" / "dir" / "out.csv")
    assert result.exit_code == 73 and "does not exist" in result.stderr
    a_dir = tmp_path / "adir.csv"
    a_dir.mkdir()
    result = run("profile", small_orders, "-o", a_dir)
    assert result.exit_code == 73 and "the output path is a folder" in result.stderr
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user that can write anywhere (root)")
        result = run("profile", small_orders, "-o", locked / "out.csv")
        assert result.exit_code == 73
    finally:
        locked.chmod(stat.S_IRWXU)


def test_output_equal_to_input_is_refused(small_orders):
    before = open(small_orders, "rb").read()
    result = run("profile", small_orders, "-o", small_orders, "--format", "csv")
    assert result.exit_code == 73 and "input" in result.stderr
    assert open(small_orders, "rb").read() == before


def test_usage_errors_exit_2(small_orders):
    assert run("profile", small_orders, "--per", "nonsense").exit_code == 2
    assert run("profile", small_orders, "--format", "pdf").exit_code == 2
    assert run("profile", small_orders, "--as-of", "yesterday-ish").exit_code == 2
    assert run("profile").exit_code == 2


def test_strict_fails_with_line(small_orders):
    result = run("profile", small_orders, "--strict")
    assert result.exit_code == 65
    assert "line" in result.stderr and "--strict" in result.stderr


@pytest.mark.parametrize("flag", ["--quiet", "-q"])
def test_quiet_silences_notes(small_orders, flag):
    assert run("profile", small_orders).stderr != ""  # the file has notes to silence
    result = run("profile", small_orders, flag)
    assert result.exit_code == 0 and result.stderr == ""


def test_excel_bom_and_formula_guard(write, tmp_path):
    path = write("o.csv", "customer_id,order_date,amount,category\n=HYPERLINK(1),2024-01-01,5,Ünïcode\n")
    result = run("profile", path, "--per", "customer", "--excel", "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.stderr
    data = (tmp_path / "out.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert "'=HYPERLINK(1)" in data.decode("utf-8-sig")
    result = run("profile", path, "--per", "customer", "--raw", "--format", "csv")
    assert '"=HYPERLINK(1)"' in result.stdout


def test_config_file_sets_defaults_and_columns(write, tmp_path, monkeypatch):
    path = write("o.csv", "buyer,when,paid\nx,2024-01-01,5\ny,2024-01-05,7\n")
    (tmp_path / "userops.toml").write_text('per = "customer"\n[columns]\nuser = "buyer"\ntime = "when"\namount = "paid"\n')
    monkeypatch.chdir(tmp_path)
    result = run("profile", path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert [r["customer_id"] for r in json.loads(result.stdout)] == ["x", "y"]
    # a flag beats the file
    result = run("profile", path, "--format", "json", "--per", "summary")
    assert json.loads(result.stdout)[0]["customers"] == 2
    # --config names another file; a missing one is an input error
    assert run("profile", path, "--config", tmp_path / "missing.toml").exit_code == 66
    # a misspelt table is an error, not silently ignored
    (tmp_path / "typo.toml").write_text('[profle]\nper = "customer"\n')
    typo = run("profile", path, "--config", tmp_path / "typo.toml")
    assert typo.exit_code == 2 and "unknown table [profle]" in typo.stderr and len(typo.stderr.strip().splitlines()) == 1


def test_stdin_dash(small_orders):
    result = run("profile", "-", "--format", "json", "--quiet", input=open(small_orders, "rb").read())
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["orders"] == 4


def test_output_template_fills_as_of(small_orders, tmp_path):
    result = run("profile", small_orders, "-o", str(tmp_path / "kpis-{as_of}.csv"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "kpis-2024-03-31.csv").exists()


def test_inspect_command(small_orders):
    result = run("inspect", small_orders, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert frame.set_index("column").loc["customer_id", "role"] == "user"
    assert "10 rows" in result.stderr


def test_internal_error_is_one_line(small_orders, monkeypatch):
    def boom(*a, **k):
        raise KeyError("x")

    monkeypatch.setattr("userops.analytics.profile.profile_table", boom)
    result = run("profile", small_orders)
    assert result.exit_code == 1
    assert "internal error" in result.stderr and "--debug" in result.stderr and "Traceback" not in result.stderr
    result = run("profile", small_orders, "--debug")
    assert isinstance(result.exception, KeyError)


def test_demo_command_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run("demo", "--out", a, "--customers", "200", "--visitors", "100").exit_code == 0
    assert run("demo", "--out", b, "--customers", "200", "--visitors", "100").exit_code == 0
    for name in ("orders.csv", "events.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_empty_window_says_so(small_orders):
    result = run("profile", small_orders, "--as-of", "2000-01-01", "--per", "customer")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [result.stdout.splitlines()[0]]  # header only
    assert "no purchases up to 2000-01-01" in result.stderr


def test_progress_only_on_a_terminal(small_orders, monkeypatch):
    from userops.cli.context import RunContext

    ctx = RunContext.from_flags("profile", {})
    assert not ctx.console.is_terminal  # CliRunner / pipes: nothing is drawn
    with ctx.progress("working", after=0):
        pass


def test_command_options_keep_their_declared_names_and_help():
    out = CliRunner().invoke(app, ["segment", "--help"], env={"COLUMNS": "200"}).stdout
    assert "--filter " in out and "--filter-" not in out and "the campaign list" in out
    assert "summary (dataset KPIs)" in CliRunner().invoke(app, ["profile", "--help"], env={"COLUMNS": "200"}).stdout


def test_terminal_table_names_the_columns_that_did_not_fit(examples_dir):
    """On an 80-column terminal the funnel keeps every step and number, wraps its long headers,
    and says which columns it left out (instead of cropping the right edge); 100 fit them all."""
    args = ["funnel", f"{examples_dir}/events.csv", "--steps", "home,product_view,add_to_cart,checkout,purchase", "--format", "table"]
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "conversion_" in result.stdout and "7,359" in result.stdout and "purchase" in result.stdout
    assert "2 columns did not fit the terminal (median_time_from_previous_s, mean_time_from_previous_s)" in result.stderr
    wide = CliRunner(env={"COLUMNS": "100"}).invoke(app, args)
    assert "mean_time_" in wide.stdout and "2h 03m" in wide.stdout and "did not fit" not in wide.stderr
    daily = CliRunner(env={"COLUMNS": "100"}).invoke(app, ["retention", f"{examples_dir}/events.csv", "--period", "day", "--format", "table"])
    note = next(line for line in daily.stderr.splitlines() if "did not fit" in line)
    assert note.startswith("userops: 77 columns did not fit the terminal (period_7, period_8, period_9, period_10, …, period_83)")


def test_brackets_in_data_and_notes_are_text_not_markup(write, tmp_path, monkeypatch):
    """'[promo] banner' in a cell and '[1]' in a file name are shown as written: rich read them
    as markup (a cell '[/]' crashed the table, '[1]' vanished from notes)."""
    import io as _io

    from rich.console import Console

    from userops.cli.context import RunContext
    from userops.render.table import rich_table

    frame = pd.DataFrame({"event": ["[promo] banner", "[/]"], "users": [1, 2]})
    console = Console(width=60, record=True, file=_io.StringIO())
    console.print(rich_table(frame, width=60).table)
    text = console.export_text()
    assert "[promo] banner" in text and "[/]" in text

    path = write("o.csv", "customer_id,order_date,amount\nc1,2024-01-01,5\n")
    out = tmp_path / "out[1].csv"
    result = run("profile", path, "-o", out)
    assert result.exit_code == 0 and f"to {out}" in result.stderr  # a pipe: plain text

    class Terminal(_io.StringIO):
        def isatty(self):
            return True

    fake = Terminal()
    monkeypatch.setattr("sys.stderr", fake)
    RunContext.from_flags("profile", {}).note("set [report] steps in userops.toml")
    assert "userops:\x1b[0m set [report] steps in userops.toml" in fake.getvalue()  # dim prefix, text as written
