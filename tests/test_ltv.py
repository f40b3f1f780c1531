"""Cohort LTV and payback worked by hand: cumulative value per customer, incomplete cells,
the average curve, margin (share and column), CAC from a costs file, payback, and CDNOW."""

import datetime as dt
import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.analytics.ltv import long_table, ltv, matrix_table
from userops.cli.app import app
from userops.io.costs import parse_period, read_costs
from userops.io.normalise import LoadOptions, load_orders
from userops.scan.engine import Engine

# Jan cohort: C1 (web) 100 on Jan 5, 50 in Feb, 30 in Apr; C2 (app) 60 + 40 in Jan.
# Feb cohort: C3 (web) 80 in Feb, 20 in Mar; C4 (app) 10 in Feb.
ORDERS = """order_id,customer_id,order_date,channel,amount
1,C1,2024-01-05,web,100
2,C1,2024-02-10,web,50
3,C1,2024-04-01,app,30
4,C2,2024-01-20,app,60
5,C2,2024-01-25,web,40
6,C3,2024-02-03,web,80
7,C3,2024-03-03,web,20
8,C4,2024-02-28,app,10
"""
AS_OF = "2024-04-15"  # April is not over: every April cell is blank
JAN, FEB = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
COSTS = """month,channel,spend
2024-01,web,60
2024-01,app,60
2024-02,web,30
2024-02,app,20
"""


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


def csv_rows(text):
    return pd.read_csv(io.StringIO(text), dtype={"cohort": str}).astype(object).where(lambda f: f.notna(), None).values.tolist()


@pytest.fixture
def orders(write):
    return write("orders.csv", ORDERS)


def result_for(path, **options):
    loaded = load_orders([path])
    return ltv(loaded, loaded.window(AS_OF), **options)


def test_cumulative_revenue_per_customer_by_hand(orders):
    result = result_for(orders)
    cells = result.cells
    jan = cells[cells["cohort"] == JAN]
    # Jan: 200 in Jan (100 each), 50 in Feb (125), nothing in Mar (125), April incomplete
    assert jan["cumulative_revenue_per_customer"].tolist()[:3] == [100.0, 125.0, 125.0]
    assert pd.isna(jan["cumulative_revenue_per_customer"].iloc[3]) and not jan["complete"].iloc[3]
    assert jan["buyers"].tolist()[:3] == [2, 1, 0] and pd.isna(jan["buyers"].iloc[3])
    assert jan["revenue"].tolist()[:3] == [200.0, 50.0, 0.0]
    feb = cells[cells["cohort"] == FEB]
    assert feb["cumulative_revenue_per_customer"].tolist()[:2] == [45.0, 55.0]
    assert feb["complete"].tolist() == [True, True, False, False]
    # the average over the cohorts complete at k: (200+90)/4, (250+110)/4, Jan alone 250/2
    assert result.curves["cumulative_revenue_per_customer"].tolist()[:3] == [72.5, 90.0, 125.0]
    assert pd.isna(result.curves["cumulative_revenue_per_customer"].iloc[3])
    assert any("cells are incomplete as of 2024-04-15" in n for n in result.notes)


def test_matrix_with_costs_cac_and_payback(orders, write):
    costs = write("spend.csv", COSTS)
    out = run("ltv", orders, "--as-of", AS_OF, "--margin", "0.5", "--costs", costs, "-f", "csv")
    assert out.exit_code == 0, out.output
    header = out.stdout.splitlines()[0]
    assert header == "cohort,customers,spend,cac,payback_period,period_0,period_1,period_2,period_3"
    # blended CAC: Jan 120 / 2 = 60, margin per customer 50, 62.5 -> paid back in period 1;
    # Feb 50 / 2 = 25, margin 22.5, 27.5 -> period 1
    assert csv_rows(out.stdout) == [
        ["2024-01-01", 2, 120.0, 60.0, 1.0, 50.0, 62.5, 62.5, None],
        ["2024-02-01", 2, 50.0, 25.0, 1.0, 22.5, 27.5, None, None],
        # average: 170 / 4 = 42.5 against 36.25, 45 -> period 1
        ["average", 4, 170.0, 42.5, 1.0, 36.25, 45.0, 62.5, None],
    ]


def test_by_channel_uses_the_first_orders_channel(orders, write):
    costs = write("spend.csv", COSTS)
    out = run("ltv", orders, "--as-of", AS_OF, "--margin", "0.5", "--costs", costs, "--by", "channel", "-f", "csv")
    assert out.exit_code == 0, out.output
    # C1 came by web (its April order by app counts in web's cohort); C2 by app
    assert csv_rows(out.stdout) == [
        ["2024-01-01", "app", 1, 60.0, 60.0, None, 50.0, 50.0, 50.0, None],
        ["2024-02-01", "app", 1, 20.0, 20.0, None, 5.0, 5.0, None, None],
        ["average", "app", 2, 80.0, 40.0, 2.0, 27.5, 27.5, 50.0, None],  # period 2: the Jan cohort alone
        ["2024-01-01", "web", 1, 60.0, 60.0, 1.0, 50.0, 75.0, 75.0, None],
        ["2024-02-01", "web", 1, 30.0, 30.0, 0.0, 40.0, 50.0, None, None],
        ["average", "web", 2, 90.0, 45.0, 0.0, 45.0, 62.5, 75.0, None],
    ]


def test_spend_that_fits_no_cohort_is_said(orders, write):
    costs = write("spend.csv", COSTS + "2024-02,tiktok,300\n2024-03,web,40\n")
    out = run("ltv", orders, "--as-of", AS_OF, "--costs", costs, "--by", "channel", "-f", "csv")
    assert out.exit_code == 0, out.output
    assert "spend with no cohort here (2024-02-01 tiktok, 2024-03-01 web: 340.00 in all) counts in no CAC" in out.stderr
    # no margin: payback on revenue, and said
    assert "payback is measured on revenue" in out.stderr


def test_margin_column_summed_per_order(write):
    path = write(
        "lines.csv",
        "order_id,customer_id,order_date,amount,gross profit\n"
        "1,A,2024-01-05,60,20\n1,A,2024-01-05,40,10\n2,A,2024-02-01,30,\"1,000.50\"\n3,B,2024-01-09,10,-2\n",
    )
    out = run("ltv", path, "--as-of", "2024-02-29", "--long", "-f", "csv")
    assert out.exit_code == 0, out.output
    frame = pd.read_csv(io.StringIO(out.stdout))
    assert list(frame.columns) == [
        "cohort", "period", "customers", "buyers", "revenue", "margin", "cumulative_revenue_per_customer",
        "cumulative_margin_per_customer", "complete",
    ]
    # margin: Jan 20 + 10 - 2 = 28 (14 each), Feb 1000.50 -> (28 + 1000.50) / 2
    assert frame["margin"].tolist() == [28.0, 1000.5]
    assert frame["cumulative_margin_per_customer"].tolist() == [14.0, 514.25]
    # the matrix shows margin by default when there is one
    wide = run("ltv", path, "--as-of", "2024-02-29", "-f", "csv")
    assert wide.stdout.splitlines()[1] == '"2024-01-01",2,14,514.25'
    # --margin wins over the column
    share = run("ltv", path, "--as-of", "2024-02-29", "--margin", "0.1", "-f", "csv")
    assert share.stdout.splitlines()[1] == '"2024-01-01",2,5.5,7'


def test_periods_trim_the_table_not_the_payback(orders, write):
    costs = write("spend.csv", "month,spend\n2024-01,260\n")
    # as of April 30 the Jan cohort has 100, 125, 125, 140 per customer: a CAC of 130 pays
    # back in period 3, after the two periods shown
    out = run("ltv", orders, "--as-of", "2024-04-30", "--costs", costs, "--periods", "1", "-f", "csv")
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[:2] == ["cohort,customers,spend,cac,payback_period,period_0,period_1", '"2024-01-01",2,260,130,3,100,125']


def test_weeks_and_quarters(orders):
    weeks = result_for(orders, period="week")
    # Jan 5 is in the week of Monday Jan 1; C2 (Jan 20) in the week of Jan 15
    assert weeks.cohorts["cohort"].tolist()[:2] == [dt.date(2024, 1, 1), dt.date(2024, 1, 15)]
    quarters = result_for(orders, period="quarter")
    # one cohort of four: 100+60+40+50+80+20+10 = 360 in Q1 -> 90 each; Q2 is not over
    assert quarters.cohorts["customers"].tolist() == [4]
    assert quarters.cells["cumulative_revenue_per_customer"].tolist()[0] == 90.0
    assert quarters.cells["complete"].tolist() == [True, False]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-03-05", (dt.date(2024, 3, 5), "day")), ("2024/3/5", (dt.date(2024, 3, 5), "day")),
        ("20240305", (dt.date(2024, 3, 5), "day")), ("2024-03-05 00:00:00", (dt.date(2024, 3, 5), "day")),
        ("2024-03", (dt.date(2024, 3, 1), "month")), ("2024/3", (dt.date(2024, 3, 1), "month")),
        ("202403", (dt.date(2024, 3, 1), "month")), ("2024年3月", (dt.date(2024, 3, 1), "month")),
        ("2024-Q2", (dt.date(2024, 4, 1), "quarter")), ("2024Q4", (dt.date(2024, 10, 1), "quarter")),
        ("2024年第二季度", (dt.date(2024, 4, 1), "quarter")), ("March", None), ("2024-13", None),
    ],
)
def test_cost_periods(text, expected):
    assert parse_period(text) == expected


def test_costs_in_chinese_and_gbk_summed_into_months(write):
    path = write("费用.csv", "日期,渠道,花费\n2024-01-03,抖音,\"¥1,000.50\"\n2024-01-20,抖音,99.5\n,,\n2024-02-01,小红书,10\n", encoding="gb18030")
    costs = read_costs(path, Engine(threads=1), period="month")
    assert costs.has_channel
    assert costs.spend.values.tolist() == [[dt.date(2024, 1, 1), "抖音", 1100.0], [dt.date(2024, 2, 1), "小红书", 10.0]]


@pytest.mark.parametrize(
    "costs, args, code, message",
    [
        ("month,spend\nMarch,10\n", [], 65, "spend.csv, line 2, column 'month': period 'March' is not a date, month or quarter"),
        ("month,spend\n2024-01,ten\n", [], 65, "line 2, column 'spend': spend 'ten' is not an amount"),
        ("month,spend\n2024-01,-5\n", [], 65, "spend '-5' is negative"),
        ("month,channel\n2024-01,web\n", [], 65, "no spend column in the costs (found: month, channel)"),
        ("month,spend\n2024-01,10\n", ["--period", "week"], 65, "spend per month ('2024-01') cannot be split into weeks"),
        ("month,spend\n2024-01,10\n", ["--by", "channel"], 2, "--by channel needs the spend per channel"),
        ("month,spend\n", [], 65, "the costs file has no rows"),
    ],
)
def test_bad_costs_are_one_line_errors(orders, write, costs, args, code, message):
    out = run("ltv", orders, "--costs", write("spend.csv", costs), *args)
    assert out.exit_code == code, out.output
    assert message in out.stderr
    assert "Traceback" not in out.output and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--margin", "1.5"], "--margin is gross margin as a share of revenue"),
        (["--values", "margin"], "--values margin needs a margin"),
        (["--period", "day"], "--period must be one of week, month, quarter"),
        (["--by", "category"], "--by must be one of channel"),
    ],
)
def test_bad_options(orders, args, message):
    out = run("ltv", orders, *args)
    assert out.exit_code == 2, out.output
    assert message in out.stderr


def test_no_amounts_is_a_data_error(write):
    out = run("ltv", write("o.csv", "customer_id,order_date\nA,2024-01-01\n"))
    assert out.exit_code == 65 and "ltv needs order amounts" in out.stderr


def test_costs_file_is_never_the_output(orders, write):
    costs = write("spend.csv", COSTS)
    out = run("ltv", orders, "--costs", costs, "-o", costs)
    assert out.exit_code == 73 and open(costs).read() == COSTS


def test_cdnow_two_cohorts_by_hand(cdnow_path):
    """Per-customer cumulative revenue of the Jan and Mar 1997 cohorts, counted with pandas
    from the raw rows (every row an order; as of the data's end, 1998-06-30)."""
    out = run("ltv", cdnow_path, "--long", "-f", "json")
    assert out.exit_code == 0, out.output
    cells = pd.DataFrame(json.loads(out.stdout))
    raw = pd.read_csv(cdnow_path, dtype={"customer_id": str}, parse_dates=["order_date"])
    first = raw.groupby("customer_id")["order_date"].transform("min")
    raw["cohort"] = first.dt.to_period("M")
    raw["k"] = (raw["order_date"].dt.to_period("M") - raw["cohort"]).apply(lambda d: d.n)
    for cohort in ("1997-01", "1997-03"):
        mine = raw[raw["cohort"] == pd.Period(cohort)]
        size = mine["customer_id"].nunique()
        expected = (mine.groupby("k")["amount"].sum().reindex(range(18), fill_value=0).cumsum() / size).round(2)
        got = cells[cells["cohort"] == f"{cohort}-01"].set_index("period")
        assert got["customers"].iloc[0] == size
        # months to June 1998 are complete: Jan cohort 0..17, Mar cohort 0..15
        last = 17 if cohort == "1997-01" else 15
        assert got["complete"].tolist() == [True] * (last + 1) + [False] * (17 - last)
        assert got["cumulative_revenue_per_customer"].tolist()[: last + 1] == expected.iloc[: last + 1].tolist()


def test_rerun_is_byte_identical(cdnow_path):
    first = run("ltv", cdnow_path, "--period", "quarter", "-f", "csv")
    second = run("ltv", cdnow_path, "--period", "quarter", "-f", "csv")
    assert first.exit_code == 0 and first.stdout == second.stdout


def test_long_and_matrix_from_the_library(orders):
    result = result_for(orders, margin_share=0.5)
    assert matrix_table(result, "margin").iloc[-1]["cohort"] == "average"
    assert list(long_table(result).columns)[-1] == "complete"
    assert LoadOptions().margin is False  # the margin column is read only when asked


def test_report_draws_cohorts_when_there_are_no_channels(cdnow_path):
    from userops.report.model import build_report_model

    loaded = load_orders([cdnow_path])
    model = build_report_model(loaded, loaded.window(), period="month")
    section = next(s for s in model.sections if s.key == "ltv")
    # CDNOW's customers all came in Jan-Mar 1997: one line per cohort
    assert [name for name, _ in section.charts[0].series] == ["1997-01", "1997-02", "1997-03"]
    matrix = {r["cohort"]: r for r in json.loads(run("ltv", cdnow_path, "-f", "json").stdout)}
    for row in section.tables[0].rows:
        cohort = matrix[f"{row[0]}-01"]
        assert float(row[1].replace(",", "")) == cohort["customers"]
        assert [float(v.replace(",", "")) for v in row[2:]] == [cohort[f"period_{m - 1}"] for m in (1, 3, 6, 12)]
