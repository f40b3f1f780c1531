"""The revenue bridge worked by hand: new, reactivated, expansion, contraction and lost add up
to each period's change, to the cent."""

import io

import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.cli.app import app

# Jan: A 100 (new), B 50 (new), C 30 (new)
# Feb: A 120 (+20 expansion), B 20 (−30 contraction), C nothing (lost −30), D 40 (new)
# Mar: A nothing (lost −120), C 25 (reactivated), D 40 (flat: returning, 0), B 20.50 (+0.50)
ORDERS = """order_id,customer_id,order_date,amount,channel
1,A,2024-01-03,100,web
2,B,2024-01-10,50,web
3,C,2024-01-20,30,app
4,A,2024-02-01,70,web
5,A,2024-02-25,50,app
6,B,2024-02-14,20,web
7,D,2024-02-09,40,app
8,C,2024-03-02,25,app
9,D,2024-03-05,40,app
10,B,2024-03-30,20.50,web
"""


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def table(result):
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout), dtype={"period": str})


def test_one_shop_by_hand(write):
    out = table(run("profile", write("o.csv", ORDERS), "--bridge", "--as-of", "2024-03-31", "-f", "csv"))
    rows = out.set_index("period")
    feb, mar = rows.loc["2024-02-01"], rows.loc["2024-03-01"]
    assert (feb["revenue"], feb["previous_revenue"], feb["change"]) == (180.0, 180.0, 0.0)
    assert (feb["new"], feb["reactivated"], feb["expansion"], feb["contraction"], feb["lost"]) == (40.0, 0.0, 20.0, -30.0, -30.0)
    assert (feb["new_customers"], feb["returning_customers"], feb["lost_customers"]) == (1, 2, 1)
    assert (mar["revenue"], mar["change"]) == (85.5, -94.5)
    assert (mar["new"], mar["reactivated"], mar["expansion"], mar["contraction"], mar["lost"]) == (0.0, 25.0, 0.5, 0.0, -120.0)
    assert (mar["reactivated_customers"], mar["returning_customers"], mar["lost_customers"]) == (1, 2, 1)
    jan = rows.loc["2024-01-01"]
    assert (jan["new"], jan["new_customers"], jan["previous_revenue"]) == (180.0, 3, 0.0)
    assert rows["complete"].all()


def test_by_channel_moves_a_customer_between_channels(write):
    out = table(run("profile", write("o.csv", ORDERS), "--bridge", "--by", "channel", "--as-of", "2024-03-31", "-f", "csv"))
    rows = out.set_index(["channel", "period"])
    # A bought on the web in Jan and Feb, and on the app in Feb too: app's A is a known
    # customer new to the channel (reactivated there), web's A expands from 100 to 70 (-30)
    app_feb = rows.loc[("app", "2024-02-01")]
    assert (app_feb["new"], app_feb["reactivated"], app_feb["lost"]) == (40.0, 50.0, -30.0)
    web_feb = rows.loc[("web", "2024-02-01")]
    assert (web_feb["contraction"], web_feb["expansion"]) == (-60.0, 0.0)
    # the channels add up to the shop
    whole = table(run("profile", write("o2.csv", ORDERS), "--bridge", "--as-of", "2024-03-31", "-f", "csv")).set_index("period")
    summed = out.groupby("period")[["revenue", "change"]].sum()
    assert summed["revenue"].tolist() == whole["revenue"].tolist() and summed["change"].round(2).tolist() == whole["change"].tolist()


def test_the_parts_add_up_on_the_examples(examples_dir):
    for period in ("week", "month", "quarter"):
        out = table(run("profile", f"{examples_dir}/orders.csv", "--bridge", "--period", period, "-f", "csv", "-q"))
        parts = out[["new", "reactivated", "expansion", "contraction", "lost"]].sum(axis=1).round(2)
        assert (parts == out["change"]).all(), period
        assert (out["revenue"].iloc[:-1].to_numpy() == out["previous_revenue"].iloc[1:].to_numpy()).all()
        # revenue per period is profile --per period's
        per = table(run("profile", f"{examples_dir}/orders.csv", "--per", "period", "--period", period, "-f", "csv", "-q"))
        assert out.set_index("period")["revenue"].to_dict() == per.set_index("period")["revenue"].to_dict()
        assert out["complete"].tolist() == per["complete"].tolist()


def test_a_month_of_the_examples_by_hand(examples_dir):
    """May 2025 counted with pandas from the order lines (paid lines only, per customer)."""
    out = table(run("profile", f"{examples_dir}/orders.csv", "--bridge", "-f", "csv", "-q")).set_index("period")
    lines = pd.read_csv(f"{examples_dir}/orders.csv", dtype={"customer_id": str}, parse_dates=["order_date"])
    lines = lines[(lines["status"] == "paid") & lines["customer_id"].notna()]
    lines["month"] = lines["order_date"].dt.to_period("M")
    per = lines.groupby(["customer_id", "month"])["line_total"].sum().unstack(fill_value=0.0)
    first = lines.groupby("customer_id")["month"].min()
    may, april = pd.Period("2025-05"), pd.Period("2025-04")
    now, before = per[may], per[april]
    earlier = per.loc[:, per.columns < april].gt(0).any(axis=1)
    new = now[(first == may)].sum()
    returning = (now > 0) & (before > 0)
    reactivated = now[(now > 0) & (before == 0) & (first < may) & earlier].sum()
    change = (now - before)[returning]
    row = out.loc["2025-05-01"]
    assert row["new"] == pytest.approx(new, abs=0.005)
    assert row["reactivated"] == pytest.approx(reactivated, abs=0.005)
    assert row["expansion"] == pytest.approx(change[change > 0].sum(), abs=0.005)
    assert row["contraction"] == pytest.approx(change[change < 0].sum(), abs=0.005)
    assert row["lost"] == pytest.approx(-before[(before > 0) & (now == 0)].sum(), abs=0.005)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--bridge", "--period", "day"], "--bridge needs --period week, month or quarter"),
        (["--bridge", "--by", "weather"], "--by must be one of channel"),
        (["--by", "channel"], "--by goes with --bridge"),
    ],
)
def test_bad_options(examples_dir, args, message):
    result = run("profile", f"{examples_dir}/orders.csv", *args)
    assert result.exit_code == 2 and message in result.stderr


def test_by_category_splits_orders_by_their_lines(write):
    # order 1: A's first, a book 30 and a toy 20; order 2 (Feb): A, a book 10 only;
    # order 3 (Feb): B's first, a toy 5; order 4 (Feb) is refunded: its lines count nowhere
    lines = """order_id,customer_id,order_date,category,line_total,status
1,A,2024-01-05,Books,30,paid
1,A,2024-01-05,Toys,20,paid
2,A,2024-02-05,Books,10,paid
3,B,2024-02-07,Toys,5,paid
4,B,2024-02-08,Toys,99,refunded
"""
    out = table(run("profile", write("lines.csv", lines), "--bridge", "--by", "category", "--as-of", "2024-02-29", "-f", "csv"))
    rows = out.set_index(["category", "period"])
    books, toys = rows.loc[("Books", "2024-02-01")], rows.loc[("Toys", "2024-02-01")]
    assert (books["revenue"], books["contraction"], books["lost"]) == (10.0, -20.0, 0.0)
    assert (toys["revenue"], toys["new"], toys["lost"], toys["new_customers"], toys["lost_customers"]) == (5.0, 5.0, -20.0, 1, 1)
    assert list(out.columns[:2]) == ["period", "category"]


def test_categories_add_up_to_the_shop_on_the_examples(examples_dir):
    out = table(run("profile", f"{examples_dir}/orders.csv", "--bridge", "--by", "category", "-f", "csv", "-q"))
    whole = table(run("profile", f"{examples_dir}/orders.csv", "--bridge", "-f", "csv", "-q")).set_index("period")
    summed = out.groupby("period")[["revenue", "change"]].sum().round(2)
    assert summed["revenue"].tolist() == whole["revenue"].tolist() and summed["change"].tolist() == whole["change"].tolist()
    parts = out[["new", "reactivated", "expansion", "contraction", "lost"]].sum(axis=1).round(2)
    assert (parts == out["change"]).all()


def test_by_category_needs_line_amounts(write):
    shopify = "Name,Email,Created at,Total,Lineitem name,Product Type\n#1,a@x.com,2024-01-01 10:00:00,50,Book,Books\n#1,a@x.com,2024-01-01 10:00:00,50,Toy,Toys\n"
    result = run("profile", write("shopify.csv", shopify), "--bridge", "--by", "category")
    assert result.exit_code == 65 and "--by category needs line amounts" in result.stderr
