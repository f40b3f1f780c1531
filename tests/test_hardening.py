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


# --- 4-6. outputs that replaced the wrong thing --------------------------------------------

ORDERS = "customer_id,order_date,amount\nA1,2024-01-02,10\nA2,2024-01-03,20\n"


def test_dev_stdout_and_fifos_are_written_through(write, tmp_path):
    import os
    import stat
    import threading

    from userops.io.writers import OutputSpec, write_table

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = {}
    reader = threading.Thread(target=lambda: got.setdefault("data", fifo.read_bytes()))
    reader.start()
    result = run("profile", write("o.csv", ORDERS), "-o", fifo, "-q")  # no extension: CSV, as a pipe gets
    reader.join(5)
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and got["data"].startswith(b"customers,orders")
    import pandas as pd

    write_table(pd.DataFrame({"a": [1]}), OutputSpec("csv", "/dev/null"))  # a character device stays one
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_symlink_is_followed_and_its_target_replaced(write, tmp_path):
    import os

    target = tmp_path / "real.csv"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert run("profile", write("o.csv", ORDERS), "-o", link, "-q").exit_code == 0
    assert link.is_symlink() and target.read_text().startswith("customers,orders")
    assert oct(os.stat(target).st_mode & 0o777) == "0o640"  # the replaced file keeps its mode (was 0600)


def test_stdin_redirected_from_the_output_file_is_refused(tmp_path):
    import subprocess
    import sys

    data = tmp_path / "x.csv"
    data.write_text(ORDERS)
    with open(data, "rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "userops", "profile", "-", "-o", str(data)], stdin=stdin, capture_output=True, text=True)
    assert done.returncode == 73 and "the file on standard input" in done.stderr
    assert data.read_text() == ORDERS


def test_closed_or_full_stdout_is_an_output_error(write):
    import subprocess
    import sys

    path = write("o.csv", ORDERS)
    closed = subprocess.run(f"{sys.executable} -m userops profile {path} -q >&-", shell=True, capture_output=True, text=True)
    assert closed.returncode == 73 and "standard output is closed" in closed.stderr
    full = subprocess.run(f"{sys.executable} -m userops profile {path} -q > /dev/full", shell=True, capture_output=True, text=True)
    assert full.returncode == 73 and "No space left on device" in full.stderr


def test_sigterm_mid_write_leaves_no_temp_file_and_stale_ones_are_removed(tmp_path):
    import os
    import subprocess
    import sys

    script = (
        "import os, signal, sys, time\n"
        "from userops.cli.app import _terminate, Terminated\n"
        "from userops.io.writers import write_atomic\n"
        "signal.signal(signal.SIGTERM, _terminate)\n"
        "def slow(fh):\n"
        "    fh.write(b'half'); fh.flush(); os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)\n"
        "try:\n"
        f"    write_atomic({str(tmp_path / 'out.csv')!r}, slow)\n"
        "except Terminated:\n"
        "    sys.exit(143)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 143, done.stderr
    assert os.listdir(tmp_path) == []
    stale = tmp_path / ".userops-999999999-abc.tmp"  # a killed process's (no such pid)
    stale.write_text("x")
    live = tmp_path / f".userops-{os.getpid()}-abc.tmp"  # this one is still writing
    live.write_text("x")
    from userops.io.writers import write_atomic

    write_atomic(str(tmp_path / "out.csv"), b"data")
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, "out.csv"])


@pytest.mark.parametrize("signal_name,code,said", [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted")])
def test_a_signal_during_a_query_ends_with_its_own_code(write, signal_name, code, said):
    """A signal that arrives during a query ends the command as terminated (143) or
    interrupted (130), not as an internal error — whether DuckDB stops the query with its own
    "Query interrupted" error or finishes it first (the query here lasts about a second)."""
    import subprocess
    import sys

    path = write("o.csv", ORDERS)
    script = (
        "import os, signal, sys, threading\n"
        "import duckdb\n"
        "import userops.analytics.profile as profile\n"
        "from userops.cli.app import main\n"
        "def endless(*args, **kwargs):\n"
        f"    threading.Timer(0.1, os.kill, (os.getpid(), signal.{signal_name})).start()\n"
        "    con = duckdb.connect()\n"
        "    con.execute('SET enable_progress_bar = false')\n"
        "    con.execute('SELECT sum(i) FROM range(1000000000) t(i)').fetchall()\n"
        "profile.profile_kpis = endless\n"
        f"sys.argv = ['userops', 'profile', {path!r}, '-q']\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stderr
    assert said in done.stderr and "internal error" not in done.stderr


def test_xlsx_refuses_more_rows_than_a_sheet_holds(monkeypatch):
    import pandas as pd

    from userops.errors import OutputError
    from userops.io import writers

    monkeypatch.setattr(writers, "XLSX_MAX_ROWS", 3)
    with pytest.raises(OutputError, match="3 rows do not fit an Excel sheet"):
        writers.xlsx_bytes({"data": pd.DataFrame({"a": [1, 2, 3]})})
    assert writers.xlsx_bytes({"data": pd.DataFrame({"a": [1, 2]})})[:2] == b"PK"


# --- 11. bounded options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, said",
    [
        (["funnel", "--repeat", "1000000"], "1000000 is not in the range"),
        (["churn", "--horizon", "99999999999d"], "must be between 1 day and 3,650 days"),
        (["churn", "--threshold", "4000d"], "must be between 1 day and 3,650 days"),
        (["funnel", "--steps", "a,b", "--window", "99999w"], "longer than 3,650 days"),
        (["funnel", "--steps", ",".join(f"s{i}" for i in range(21))], "21 steps: a funnel takes at most 20"),
        (["funnel", "--steps", ",".join(f"s{i}" for i in range(9)), "--order", "unordered"], "9 steps: an unordered funnel takes at most 8"),
        (["segment", "--bins", "1000"], "1000 is not in the range"),
    ],
)
def test_unbounded_options_are_refused_before_reading(args, said, tmp_path):
    result = run(args[0], tmp_path / "missing.csv", *args[1:])
    assert result.exit_code == 2 and said in result.stderr, result.stderr


def test_config_values_are_bounded_too(write, tmp_path):
    config = write("userops.toml", "[segment]\nbins = 1000\n[churn]\nhorizon = 999999\n")
    assert "--bins must be between 2 and 10" in run("segment", tmp_path / "missing.csv", "--config", config).stderr
    assert "--horizon 999999 must be between" in run("churn", tmp_path / "missing.csv", "--config", config).stderr


def test_a_breakdown_by_a_near_unique_property_pools_small_groups(write):
    lines = ["user_id,event,timestamp,channel"]
    for u in range(120):
        channel = "web" if u < 10 else f"c{u:03d}"  # 'web' has 10 users, 110 channels have one each
        lines += [f"u{u},a,2025-01-01 10:00,{channel}", f"u{u},b,2025-01-01 10:05,{channel}"]
    result = run("funnel", write("e.csv", "\n".join(lines) + "\n"), "--steps", "a,b", "--by", "channel", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    groups = {r["channel"]: int(r["users"]) for r in rows if r["step"] == "1"}
    assert len(groups) == 51 and groups["web"] == 10 and groups["(other)"] == 61  # 110 singles: the first 49 by name kept
    assert "61 groups beyond the 50 with the most users are pooled into (other)" in result.stderr


# --- 8. config values have their option's type ----------------------------------------------


@pytest.mark.parametrize(
    "toml, said",
    [
        ('strict = "false"\n', "strict = 'false' in the config must be true or false"),
        ("stirct = true\n", "unknown option 'stirct' in the config"),
        ("[segment]\nbins = 2.5\n", "bins = 2.5 in the config must be a whole number"),
        ("[churn]\ndiscount = true\n", "discount = True in the config must be a number"),
        ('[segment]\nkeep = ["email", 3]\n', "keep = ['email', 3] in the config must be text"),
    ],
)
def test_config_values_are_type_checked(toml, said, write, tmp_path):
    config = write("userops.toml", toml)
    command = "churn" if "churn" in toml else "segment"
    result = run(command, write("o.csv", ORDERS), "--config", config)
    assert result.exit_code == 2 and said in result.stderr and result.stdout == "", result.stderr


def test_config_that_fits_is_taken(write):
    config = write("userops.toml", 'as_of = 2024-01-03\nexcel = false\n[segment]\nbins = 5\nkeep = ["customer_id"]\n[churn]\nhorizon = 30\n')
    assert run("segment", write("o.csv", ORDERS), "--config", config, "--format", "csv").exit_code == 0


def test_keeping_a_column_named_like_an_output_column(write):
    result = run("segment", write("o.csv", "customer_id,order_date,amount,segment\nA1,2024-01-02,10,vip\n"), "--keep", "customer_id,segment", "--format", "csv")
    assert result.exit_code == 0, result.stderr  # was an internal error (duplicate column label)
    (row,) = csv.DictReader(io.StringIO(result.stdout))
    assert (row["customer_id (input)"], row["segment (input)"]) == ("A1", "vip")


# --- 9. escape sequences in data do not reach the terminal ----------------------------------


def test_control_characters_are_not_sent_to_the_terminal(write):
    path = write("esc.csv", 'customer_id,order_date,amount,note\n"A1\x1b]0;pwned\x07",2024-01-02,10,"\x1b[2Jcleared"\n')
    table = run("segment", path, "--keep", "note", "--format", "table")
    assert table.exit_code == 0, table.stderr
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout and "\ufffd]0;pwned" in table.stdout
    error = run("segment", path.replace("esc.csv", "no\x1b[2Jsuch.csv"))  # a path is shown as given
    assert error.exit_code == 66 and "\x1b" not in error.stderr and "no\ufffd[2Jsuch.csv" in error.stderr
    machine = run("segment", path, "--keep", "note", "--format", "json")
    assert "\\u001b[2Jcleared" in machine.stdout  # machine formats keep the data as it is


# --- 10. phones and signed numbers are not formulas ------------------------------------------


def test_phone_numbers_keep_their_plus_in_campaign_csvs():
    import pandas as pd

    from userops.io.writers import OutputSpec, to_bytes

    frame = pd.DataFrame({"phone": ["+8613800138000", "-12.5", "+86-138-0013-8000", "+86 138", "=1+1", "-1+2", "+1e5"]})
    lines = to_bytes(frame, OutputSpec("csv")).decode().splitlines()[1:]
    assert lines == ['"+8613800138000"', '"-12.5"', "\"'+86-138-0013-8000\"", "\"'+86 138\"", "\"'=1+1\"", "\"'-1+2\"", "\"'+1e5\""]


# --- 7. inputs that should work --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["stdin", "xlsx", "parquet", "jsonl", "bz2"])
def test_keep_works_on_every_input_kind(kind, write, tmp_path):
    import bz2

    import pandas as pd

    text = "customer_id,order_date,amount,email\nA1,2024-01-02,10,a@x.com\nA2,2024-01-03,20,b@x.com\n"
    frame = pd.read_csv(io.StringIO(text), dtype=str)
    path, stdin = tmp_path / f"o.{kind}", None
    if kind == "stdin":
        path, stdin = "-", text
    elif kind == "xlsx":
        frame.to_excel(path, index=False)
    elif kind == "parquet":
        frame.to_parquet(path, index=False)
    elif kind == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        path = tmp_path / "o.csv.bz2"
        path.write_bytes(bz2.compress(text.encode()))
    result = run("segment", path, "--keep", "email", "--format", "csv", input=stdin)
    assert {r["customer_id"]: r["email"] for r in csv.DictReader(io.StringIO(per_customer_text(result)))} == {"A1": "a@x.com", "A2": "b@x.com"}


def per_customer_text(result):
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_a_pipe_given_as_a_path_is_read_whole(write):
    import subprocess
    import sys

    path = write("o.csv", ORDERS)
    done = subprocess.run(f"{sys.executable} -m userops profile <(cat {path}) -q", shell=True, executable="/bin/bash", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr  # was: 'no customer column (found: 6 16:33:56, ...)'
    assert done.stdout.splitlines()[1].startswith("2,2,30")


def test_mixed_line_endings_are_read(write):
    path = write("crlf.csv", "customer_id,order_date,amount\r\nA1,2024-01-02,10\nA2,2024-01-03,20\r\nA3,2024-01-04,5\n")
    assert set(per_customer(run("profile", path, "--per", "customer", "--format", "csv"))) == {"A1", "A2", "A3"}


def test_an_unclosed_quote_names_its_line(write):
    path = write("q.csv", 'customer_id,order_date,amount\nA1,2024-01-02,10\nA2,2024-01-03,"20\n')
    result = run("profile", path)
    assert result.exit_code == 65 and "q.csv, line 3: cannot read the CSV" in result.stderr and "quote" in result.stderr


def test_strict_on_blank_nan_and_infinite_amounts_names_the_row(write):
    nan = write("nan.csv", "customer_id,order_date,amount\nA1,2024-01-02,5\nA2,2024-01-03,NaN\nA3,2024-01-03,Infinity\n")
    result = run("profile", nan, "--strict")
    assert result.exit_code == 65 and "line 3, column 'amount'" in result.stderr and "'NaN'" in result.stderr  # was a KeyError
    assert "2 unparseable amounts" in run("profile", nan).stderr  # NaN and Infinity are no amounts
    blank = write("blank.csv", "customer_id,order_date,amount\nA1,2024-01-02,\nA2,2024-01-03,5\n")
    result = run("profile", blank, "--strict")
    assert result.exit_code == 65 and "line 2, column 'amount': 1 row orders without an amount" in result.stderr


def test_trailing_nul_bytes_are_said(write):
    rows = "customer_id,order_date,amount\n" + "".join(f"A{i},2024-01-02,10\n" for i in range(20_000))
    path = write("nul.csv", rows.encode() + b"\x00" * 100_000)
    result = run("profile", path, "--format", "csv")
    assert result.exit_code == 0 and "ends in at least 65,536 NUL bytes after its rows" in result.stderr


def test_an_encoding_that_changes_after_the_sample_is_re_read(write):
    rows = "customer_id,order_date,amount,city\n" + "".join(f"A{i},2024-01-02,10,x\n" for i in range(20_000))
    path = write("late.csv", rows.encode() + "B1,2024-01-03,20,北京\n".encode("gbk"))
    result = run("segment", path, "--keep", "city", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert per_customer(result)["B1"]["city"] == "北京"
    assert "is not UTF-8 from line 20,002 on: read as GB18030" in result.stderr
