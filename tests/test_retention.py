"""Cohort retention worked by hand: classic, rolling, recurring, incomplete cells, revenue, weeks."""

import datetime as dt
import io
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.analytics.retention import long_table, matrix_table, retention
from userops.cli.app import app
from userops.errors import DataError, UsageError
from userops.io.normalise import load_events, load_orders

# A: Jan 5 (10), Feb 10 (20), Apr 1 (30); B: Jan 20 (5), Mar 3 (7);
# C: Feb 2 (8), Feb 20 (2), Apr 15 (4); D: Mar 9 (6)
ORDERS = """customer_id,order_date,amount
A,2024-01-05,10
A,2024-02-10,20
A,2024-04-01,30
B,2024-01-20,5
B,2024-03-03,7
C,2024-02-02,8
C,2024-02-20,2
C,2024-04-15,4
D,2024-03-09,6
"""
JAN, FEB, MAR = dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)


def result_for(write, as_of="2024-04-30", **options):
    loaded = load_orders([write("o.csv", ORDERS)])
    return retention(loaded, loaded.window(as_of), period="month", **options)


def rows(frame):
    return [[None if pd.isna(v) else v for v in row] for row in frame.values.tolist()]


def test_classic_counts_incomplete_and_average(write):
    result = result_for(write)
    # cohorts Jan {A, B}, Feb {C}, Mar {D}; Jan: A back in Feb, B in Mar, A in Apr; Feb: C in Apr
    assert rows(result.counts) == [[2, 1, 1, 1], [1, 0, 1, None], [1, 0, None, None]]
    assert list(result.counts.index) == [JAN, FEB, MAR]
    # May and June had not happened by 2024-04-30: blank, never 0
    assert result.incomplete.values.tolist() == [[False] * 4, [False, False, False, True], [False, False, True, True]]
    # average weights cohorts by size over those observable: k1 (1+0+0)/4, k2 (1+1)/3, k3 1/2
    assert result.curve["rate"].tolist() == [1.0, 0.25, 0.6667, 0.5]
    assert result.curve["cohorts"].tolist() == [3, 3, 2, 1]


def test_rolling(write):
    result = result_for(write, mode="rolling")
    # Jan: A last back in Apr (k3), B in Mar (k2) -> 2, 2, 1; Feb: C in Apr (k2) -> 1, 1
    assert rows(result.counts) == [[2, 2, 2, 1], [1, 1, 1, None], [1, 0, None, None]]
    # "back in k or later" has no one period for its revenue: period 0 only, then blank (was 0)
    assert rows(result.revenue) == [[15.0, None, None, None], [10.0, None, None, None], [6.0, None, None, None]]
    assert any("--mode rolling: revenue is given for period 0 only" in n for n in result.notes)


def test_recurring_cohorts(write):
    result = result_for(write, cohort="recurring")
    # Feb cohort = A (active Feb) and C (first in Feb); both back in April (k2), nobody in March
    feb = result.counts.loc[FEB].tolist()
    assert feb[:3] == [2, 0, 2]
    # April cohort: A and C again (active in April), nothing after it yet
    assert result.sizes.to_dict() == {JAN: 2, FEB: 2, MAR: 2, dt.date(2024, 4, 1): 2}


def test_revenue_and_mid_month_as_of(write):
    result = result_for(write)
    # Jan cohort: k0 15, A's Feb 20, B's Mar 7, A's Apr 30; Feb cohort: C's two Feb orders 10, Apr 4
    assert rows(result.revenue) == [[15.0, 20.0, 7.0, 30.0], [10.0, 0.0, 4.0, None], [6.0, 0.0, None, None]]
    mid = result_for(write, as_of="2024-04-15")
    # April had not ended: every April cell is blank
    assert rows(mid.counts) == [[2, 1, 1, None], [1, 0, None, None], [1, None, None, None]]


def test_tables(write):
    result = result_for(write)
    matrix = matrix_table(result, "count")
    assert list(matrix.columns) == ["cohort", "size", "period_0", "period_1", "period_2", "period_3"]
    # the mean cohort, not totals: size (2+1+1)/3; k0 (2+1+1)/3, k1 (1+0+0)/3, k2 (1+1)/2, k3 1/1
    assert matrix.iloc[-1].tolist() == ["average", 1.3, 1.3, 0.3, 1.0, 1.0]
    assert matrix.iloc[0].tolist() == ["2024-01-01", 2, 2, 1, 1, 1]
    percent = matrix_table(result, "percent")
    assert percent.iloc[0, 2:].tolist() == [1.0, 0.5, 0.5, 0.5]
    long = long_table(result)
    assert list(long.columns) == ["cohort", "period", "users", "rate", "revenue", "complete"]
    feb3 = long[(long["cohort"] == FEB) & (long["period"] == 3)].iloc[0]
    assert pd.isna(feb3["users"]) and not feb3["complete"]
    assert long[(long["cohort"] == JAN) & (long["period"] == 1)]["rate"].iloc[0] == 0.5


def test_weeks_and_week_start(write):
    # Sunday 2024-01-07 then Monday 2024-01-08
    events = "user_id,event,timestamp\nu1,visit,2024-01-07 10:00\nu1,visit,2024-01-08 10:00\n"
    loaded = load_events([write("e.csv", events)])
    window = loaded.window("2024-01-20")
    monday = retention(loaded, window, period="week")
    sunday = retention(loaded, window, period="week", week_start="sunday")
    assert list(monday.counts.index) == [dt.date(2024, 1, 1)] and monday.counts.iloc[0, 1] == 1  # back the next week
    assert list(sunday.counts.index) == [dt.date(2024, 1, 7)] and sunday.counts.iloc[0, 1] == 0  # same week


def test_events_start_and_return_events(write):
    events = (
        "user_id,event,timestamp\n"
        "u1,signup,2024-01-01\nu1,purchase,2024-01-02\nu1,purchase,2024-02-10\n"
        "u2,signup,2024-01-15\nu2,visit,2024-02-01\n"
        "u3,visit,2024-01-03\n"  # never signs up: in no cohort
    )
    loaded = load_events([write("e.csv", events)])
    result = retention(loaded, loaded.window("2024-02-29"), period="month", start_event=("signup",), return_event=("purchase",))
    assert rows(result.counts) == [[2, 1]]  # u1 and u2 signed up in January; only u1 purchased in February
    assert result.revenue is None


def test_days(write):
    loaded = load_orders([write("o.csv", ORDERS)])
    result = retention(loaded, loaded.window("2024-01-06"), period="day")
    # A's cohort 2024-01-05 has one user; Jan 6 saw no return; the as-of day itself is complete
    assert result.counts.loc[dt.date(2024, 1, 5)].tolist() == [1, 0]


def test_errors(write):
    loaded = load_orders([write("o.csv", ORDERS)])
    with pytest.raises(UsageError):
        retention(loaded, loaded.window(), start_event=("signup",))
    with pytest.raises(UsageError):
        retention(loaded, loaded.window(), period="year")
    with pytest.raises(UsageError):
        matrix_table(retention(load_events([write("e.csv", "user_id,event,timestamp\nu,a,2024-01-01\n")]), loaded.window()), "revenue")


def test_cli(write):
    path = write("o.csv", ORDERS)
    result = CliRunner().invoke(app, ["retention", path, "--as-of", "2024-04-30", "--format", "json", "--quiet"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data[0] == {"cohort": "2024-01-01", "size": 2, "period_0": 2, "period_1": 1, "period_2": 1, "period_3": 1}
    assert data[1]["period_3"] is None
    long = CliRunner().invoke(app, ["retention", path, "--as-of", "2024-04-30", "--long", "--format", "csv", "--quiet"])
    frame = pd.read_csv(io.StringIO(long.stdout))
    assert list(frame.columns) == ["cohort", "period", "users", "rate", "revenue", "complete"]
    rev = CliRunner().invoke(app, ["retention", path, "--as-of", "2024-04-30", "--values", "revenue", "--format", "json", "--quiet"])
    assert json.loads(rev.stdout)[0]["period_3"] == 30.0
    events_path = write("e.csv", "user_id,event,timestamp\nu,a,2024-01-01\nu,a,2024-02-01\n")
    events = CliRunner().invoke(app, ["retention", events_path, "--format", "json", "--quiet"])
    # an events file is detected by its event column; as of its last day (Feb 1) February is incomplete
    assert json.loads(events.stdout)[0]["period_1"] is None
    events = CliRunner().invoke(app, ["retention", events_path, "--as-of", "2024-02-29", "--format", "json", "--quiet"])
    assert json.loads(events.stdout)[0]["period_1"] == 1


def test_to_bounds_cohort_starts(write):
    loaded = load_orders([write("o.csv", ORDERS)])
    # cohorts that start up to January only, but their returns follow up to the as-of date
    window = loaded.window("2024-04-30", end=dt.date(2024, 1, 31), end_bounds_starts=True)
    result = retention(loaded, window, period="month")
    assert list(result.counts.index) == [JAN]
    assert rows(result.counts) == [[2, 1, 1, 1]]
    cli = CliRunner().invoke(app, ["retention", write("o2.csv", ORDERS), "--as-of", "2024-04-30", "--to", "2024-01-31", "--format", "json", "--quiet"])
    assert [r["cohort"] for r in json.loads(cli.stdout)] == ["2024-01-01", "average"]


def test_daily_activity_load_gives_the_same_cells(write):
    events = (
        "user_id,event,timestamp\n"
        "u1,signup,2024-01-01 09:00\nu1,purchase,2024-01-02 10:00\nu1,purchase,2024-02-10 11:00\nu1,purchase,2024-02-10 12:00\n"
        "u2,signup,2024-01-15 08:00\nu2,visit,2024-02-01 09:00\n,visit,2024-02-01 09:00\n"
    )
    path = write("e.csv", events)
    full = load_events([path])
    daily = load_events([path], activity=(("signup",), ("purchase",)))
    for loaded in (full, daily):
        result = retention(loaded, loaded.window("2024-02-29"), period="month", start_event=("signup",), return_event=("purchase",))
        assert rows(result.counts) == [[2, 1]]
        assert loaded.drops.rows_read == 7 and loaded.drops.dropped == {"without user id": 1}
        assert loaded.n_events == 6
    with pytest.raises(Exception, match="daily activity"):
        retention(daily, daily.window("2024-02-29"), period="month")


def test_daily_activity_is_exact_when_the_as_of_date_splits_a_period(write):
    events = "user_id,event,timestamp\nu3,visit,2024-01-03\nu3,signup,2024-01-20\nu4,signup,2024-01-05\n"
    path = write("e.csv", events)
    for loaded in (load_events([path]), load_events([path], activity=(("signup",), ()))):
        result = retention(loaded, loaded.window("2024-01-10"), period="month", start_event=("signup",))
        # u3 signed up after the as-of date: only u4 is in January's cohort
        assert result.sizes.to_dict() == {JAN: 1}
        assert loaded.drops_for(loaded.window("2024-01-10")).after_as_of == 1
        assert loaded.drops_for(loaded.window("2024-01-10")).lines() == ["ignored 1 event after the as-of date"]


PERIOD_GRAIN_EVENTS = (
    "user_id,event,timestamp\n"
    # u1: signs up Sat 6 Jan (Monday week of 1 Jan, Sunday week of 31 Dec), buys Sun 7 Jan,
    # Tue 16 Jan and twice on 2 Feb; u2: visits before signing up, signs up 15 Jan, buys 1 Mar
    "u1,signup,2024-01-06 09:00\nu1,purchase,2024-01-07 10:00\nu1,purchase,2024-01-16 10:00\n"
    "u1,purchase,2024-02-02 11:00\nu1,purchase,2024-02-02 12:00\n"
    "u2,visit,2024-01-03 08:00\nu2,signup,2024-01-15 08:00\nu2,purchase,2024-03-01 09:00\n"
    "u3,visit,2024-01-20 09:00\n,visit,2024-02-01 09:00\nu4,visit,not a date\n"
)


@pytest.mark.parametrize("period,week_start", [("day", "monday"), ("week", "monday"), ("week", "sunday"), ("month", "monday")])
@pytest.mark.parametrize("mode,cohort", [("classic", "first"), ("rolling", "first"), ("classic", "recurring")])
def test_activity_per_period_gives_the_same_retention_as_every_event(write, period, week_start, mode, cohort):
    path = write("e.csv", PERIOD_GRAIN_EVENTS)
    events = (("signup",), ("purchase",))
    full = load_events([path])
    whole_periods = load_events([path], activity=events, grain=(period, week_start))
    options = dict(period=period, week_start=week_start, mode=mode, cohort=cohort, start_event=events[0], return_event=events[1])
    expected = retention(full, full.window(), **options)
    got = retention(whole_periods, whole_periods.window(), **options)
    assert got.counts.equals(expected.counts) and got.sizes.equals(expected.sizes)
    assert got.incomplete.equals(expected.incomplete)
    # the bounds, rows and drops are those of the rows, not of the periods
    assert whole_periods.first_ts == full.first_ts and whole_periods.last_ts == full.last_ts == dt.datetime(2024, 3, 1, 9)
    assert whole_periods.drops.rows_read == 11 and whole_periods.drops.dropped == full.drops.dropped
    assert whole_periods.n_events == full.n_events == 9


PADDED_ID_EVENTS = (
    "user_id,event,timestamp\n"
    # u1 written four ways (padded, quoted padding, spreadsheet guard) is one user; '  ' is no user
    "u1,signup,2024-01-06 09:00\n u1,purchase,2024-01-07 10:00\n\"u1  \",purchase,2024-02-02 11:00\n"
    "\"=\"\"u1\"\"\",purchase,2024-03-01 09:00\n'u2,signup,2024-01-15 08:00\nu2 ,purchase,2024-02-20 09:00\n"
    "  ,visit,2024-02-01 09:00\n  ,visit,not a date\n"
)


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_activity_cleans_padded_and_guarded_ids_like_every_event(write, period):
    path = write("e.csv", PADDED_ID_EVENTS)
    events = (("signup",), ("purchase",))
    full = load_events([path])
    grouped = [load_events([path], activity=events), load_events([path], activity=events, grain=(period, "monday"))]
    options = dict(period=period, start_event=events[0], return_event=events[1])
    expected = retention(full, full.window(), **options)
    assert expected.sizes.sum() == 2 and expected.counts.iloc[:, 1:].sum().sum() > 0
    for loaded in grouped:
        got = retention(loaded, loaded.window(), **options)
        assert got.counts.equals(expected.counts) and got.sizes.equals(expected.sizes)
        assert loaded.drops.rows_read == 8 and loaded.drops.dropped == full.drops.dropped == {"without user id": 2}
        assert loaded.n_events == full.n_events == 6
        users = loaded.engine.con.execute("SELECT DISTINCT user_id FROM events WHERE reason IS NULL ORDER BY 1").fetchall()
        assert users == [("u1",), ("u2",)]


def test_activity_per_period_refuses_another_period_or_an_earlier_as_of(write):
    path = write("e.csv", PERIOD_GRAIN_EVENTS)
    weekly = load_events([path], activity=((), ()), grain=("week", "monday"))
    assert rows(retention(weekly, weekly.window(), period="week").counts)[0][0] == 2  # 2 users first seen in week 1
    with pytest.raises(DataError, match="activity per week"):
        retention(weekly, weekly.window(), period="month")
    with pytest.raises(DataError, match="activity per week"):
        retention(weekly, weekly.window("2024-02-29"), period="week")  # the week of 26 Feb runs past it


def test_retention_cli_as_of_last_event_or_earlier(write):
    # as of the last event the CLI keeps whole weeks; an as-of date inside the last week
    # (29 Feb: u2's purchase of 1 Mar is after it) needs days, and must still work
    path = write("e.csv", PERIOD_GRAIN_EVENTS)
    runs = []
    for extra in ([], ["--as-of", "2024-03-01"], ["--as-of", "2024-02-29"]):
        out = CliRunner().invoke(app, ["retention", path, "--period", "week", "--long", "--format", "json", *extra])
        assert out.exit_code == 0, out.output
        runs.append({(r["cohort"], r["period"]): r["users"] for r in json.loads(out.stdout)})
    assert runs[0] == runs[1] == runs[2]
    assert [runs[0][("2024-01-01", k)] for k in range(9)] == [2, 0, 2, 0, 1, 0, 0, 0, None]  # week 8 incomplete


def test_a_period_no_cohort_has_completed_has_a_blank_average(write):
    # one cohort (week of 1 Jan); as of Tue 9 Jan its week 1 is still running
    path = write("e.csv", "user_id,event,timestamp\nu1,visit,2024-01-01\nu1,visit,2024-01-09\nu2,visit,2024-01-02\n")
    loaded = load_events([path])
    result = retention(loaded, loaded.window(), period="week")
    assert result.curve["users"].isna().tolist() == [False, True] and np.isnan(result.curve["rate"][1])
    table = matrix_table(result)
    assert table["period_1"].isna().all()  # blank in the cohort row and in the average, never 0
    assert table["period_0"].tolist() == [2, 2]  # one cohort: its mean is itself


@pytest.mark.parametrize("fmt", ["table", "csv", "tsv", "json", "jsonl", "markdown", "xlsx", "parquet"])
def test_matrix_with_blank_cells_in_every_format(examples_dir, tmp_path, fmt):
    """Incomplete cells are nullable-integer NA: every writer renders them blank."""
    out = tmp_path / f"r.{'md' if fmt == 'markdown' else fmt}"
    args = ["retention", f"{examples_dir}/orders.csv", "--format", fmt, "--quiet"] + ([] if fmt == "table" else ["-o", str(out)])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    if fmt == "xlsx":
        import openpyxl

        rows = [[c.value for c in r] for r in openpyxl.load_workbook(out).active.iter_rows()]
        june = next(r for r in rows if r[0] == dt.datetime(2025, 6, 1))  # a date cell
        assert june[1] == june[2] == 278 and june[3] is None  # a number, then a blank cell
        assert rows[-1][0] == "average" and all(isinstance(v, (int, float)) for v in rows[-1][1:])
        assert rows[-1][1] == pytest.approx(sum(r[1] for r in rows[1:-1]) / len(rows[1:-1]), abs=0.05)  # the mean size


def test_start_or_return_event_that_matches_nothing_is_named(write):
    path = write("e.csv", PERIOD_GRAIN_EVENTS)
    for loaded in (load_events([path]), load_events([path], activity=(("Signup",), ()))):
        none = retention(loaded, loaded.window(), period="month", start_event=("Signup",))
        assert none.sizes.empty and any("no cohort: no user has a start event (Signup)" in n for n in none.notes)
    loaded = load_events([path])
    no_returns = retention(loaded, loaded.window(), period="month", start_event=("signup",), return_event=("Purchase",))
    assert no_returns.sizes.sum() == 2 and any("no returns" in n and "Purchase" in n for n in no_returns.notes)
    fine = retention(loaded, loaded.window(), period="month", start_event=("signup",), return_event=("purchase",))
    assert not [n for n in fine.notes if n.startswith("no ")]


def test_percent_matrix_shows_percentages_on_a_terminal(examples_dir, tmp_path):
    """The rates matrix is 0-1 in machine formats; the terminal shows it as percentages, and
    XLSX formats the 0-1 cells as %."""
    args = ["retention", f"{examples_dir}/events.csv", "--period", "week", "--values", "percent", "--quiet"]
    shown = CliRunner(env={"COLUMNS": "200"}).invoke(app, args + ["--format", "table"])
    assert shown.exit_code == 0, shown.stderr
    first = next(line for line in shown.stdout.splitlines() if "2025-04-07" in line)
    assert "100.0%" in first and "13.7%" in first  # 183 of 1,339 came back in week 1
    csv = CliRunner().invoke(app, args + ["--format", "csv"])
    assert csv.stdout.splitlines()[1].startswith('"2025-04-07",1339,1,0.1367,')
    import openpyxl

    out = tmp_path / "rates.xlsx"
    assert CliRunner().invoke(app, args + ["-o", str(out)]).exit_code == 0
    rows = list(openpyxl.load_workbook(out).active.iter_rows())
    row = rows[1]
    assert row[3].value == 0.1367 and row[3].number_format == "0.0%" and row[1].number_format == "General"
    # the cohort is a date cell, wide as long; the average row keeps its label
    assert row[0].value == dt.datetime(2025, 4, 7) and row[0].number_format == "yyyy-mm-dd"
    assert rows[-1][0].value == "average"
    long_out = tmp_path / "long.xlsx"
    assert CliRunner().invoke(app, args + ["--long", "-o", str(long_out)]).exit_code == 0
    first = list(openpyxl.load_workbook(long_out).active.iter_rows())[1][0]
    assert first.value == dt.datetime(2025, 4, 7) and first.number_format == "yyyy-mm-dd"


def test_retention_statements_borrow_one_thread_and_give_it_back(write):
    """The activity group-by and the cohort query run on one DuckDB thread more than the
    engine's setting (faster on 2 cores); the setting is restored after, even on an error.
    A thread count the user set (--threads) is kept as it is."""
    from userops.scan.engine import Engine

    engine = Engine()
    engine.execute("SET threads = 2")  # the default: every core (2 here)
    setting = lambda: int(engine.con.execute("SELECT current_setting('threads')").fetchone()[0])  # noqa: E731
    with engine.one_thread_more():
        assert setting() == 3
    assert setting() == 2
    with pytest.raises(RuntimeError), engine.one_thread_more():
        raise RuntimeError("boom")
    assert setting() == 2
    pinned = Engine(threads=2)
    with pinned.one_thread_more():
        assert pinned.threads == 2
    path = write("e.csv", "user_id,event,timestamp\nu1,a,2025-01-06 10:00\nu1,a,2025-01-14 10:00\nu2,a,2025-01-27 09:00\n")
    loaded = load_events([path], activity=((), ()), grain=("week", "monday"))
    before = int(loaded.engine.con.execute("SELECT current_setting('threads')").fetchone()[0])
    result = retention(loaded, loaded.window(None, end_bounds_starts=True), period="week")
    assert result.counts.iloc[0].tolist()[:2] == [1, 1] and result.sizes.tolist() == [1, 1]
    assert int(loaded.engine.con.execute("SELECT current_setting('threads')").fetchone()[0]) == before
