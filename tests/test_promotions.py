"""Promotion calendars: the built-in windows, a shop's own in userops.toml, and their uses —
promo revenue per period, the deal hunters per customer, and promotion cohorts' retention."""

import datetime as dt
import io

import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.analytics.promotions import PromoCalendar, Promotion, promo_calendar
from userops.cli.app import app
from userops.errors import UsageError


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def table(result, **kw):
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout), **kw)


def test_built_in_calendars():
    cn = {(w.name, w.start.year): w for w in promo_calendar("cn").windows}
    assert (cn["双11", 2024].start, cn["双11", 2024].main_start, cn["双11", 2024].end) == (dt.date(2024, 10, 20), dt.date(2024, 11, 1), dt.date(2024, 11, 11))
    assert (cn["618", 2025].start, cn["618", 2025].end) == (dt.date(2025, 5, 20), dt.date(2025, 6, 18))
    assert cn["年货节", 2025].end == dt.date(2025, 1, 21)  # 8 days before 29 January, the Spring Festival
    us = {(w.name, w.start.year): w for w in promo_calendar("us").windows}
    bfcm = us["Black Friday–Cyber Monday", 2024]
    assert (bfcm.start, bfcm.end) == (dt.date(2024, 11, 29), dt.date(2024, 12, 2))  # Thanksgiving was 28 November
    assert (us["Black Friday–Cyber Monday", 2025].start) == dt.date(2025, 11, 28)
    assert (us["Prime Day", 2025].start, us["Prime Day", 2025].end, us["Prime Day", 2025].estimated) == (dt.date(2025, 7, 8), dt.date(2025, 7, 11), False)
    assert us["Prime Day", 2026].estimated and us["Prime Day", 2026].start == dt.date(2026, 7, 14)  # the second Tuesday
    assert promo_calendar("none") is None and promo_calendar(None) is None


def test_a_date_in_two_windows_belongs_to_the_shortest():
    calendar = promo_calendar("us")
    assert calendar is not None
    windows = calendar.between(dt.date(2024, 11, 1), dt.date(2024, 12, 31))
    assert [w.name for w in windows] == ["Black Friday–Cyber Monday", "Holiday season"]


def test_shop_windows_and_their_errors():
    calendar = promo_calendar(None, {"calendar": "none", "会员日": [["2025-03-15", "2025-03-17"], ["2026-03-14", "2026-03-16"]], "Summer": ["2025-07-01", "2025-07-14"]})
    assert isinstance(calendar, PromoCalendar)
    assert [(w.name, w.start, w.end) for w in calendar.windows] == [
        ("会员日", dt.date(2025, 3, 15), dt.date(2025, 3, 17)), ("会员日", dt.date(2026, 3, 14), dt.date(2026, 3, 16)),
        ("Summer", dt.date(2025, 7, 1), dt.date(2025, 7, 14)),
    ]
    for bad, message in (({"x": ["2025-03-15"]}, "pair of dates"), ({"x": ["2025-03-15", "soon"]}, "is not a date"),
                         ({"x": ["2025-03-17", "2025-03-15"]}, "before it starts"), ({"calendar": "eu"}, "must be one of")):
        with pytest.raises(UsageError, match=message):
            promo_calendar(None, bad)


def small_shop(write):
    """Four customers, every order 100.00 except where said; the shop's own window is
    1–3 March 2025 (and 双11 from the cn calendar does not touch these dates).
    A: both orders in the window (a deal hunter); B: one in, one out; C: never in;
    D: one order, in the window, for 50.00."""
    lines = ["customer_id,order_date,amount",
             "A,2025-03-01 10:00,100.00", "A,2025-03-03 23:59,100.00",
             "B,2025-03-02 09:00,100.00", "B,2025-03-20 09:00,100.00",
             "C,2025-02-27 12:00,100.00", "C,2025-03-04 00:00,100.00",
             "D,2025-03-02 12:00,50.00"]
    config = write("shop.toml", '[promotions]\ncalendar = "none"\n"会员日" = ["2025-03-01", "2025-03-03"]\n')
    return write("orders.csv", "\n".join(lines) + "\n"), config


def test_promo_only_customers_and_promo_revenue_share_by_hand(write):
    orders, config = small_shop(write)
    customers = table(run("segment", orders, "--config", config, "-f", "csv", "-q"), dtype={"customer_id": str}).set_index("customer_id")
    assert customers["promo_only"].to_dict() == {"A": True, "B": False, "C": False, "D": True}
    assert customers["promo_order_share"].to_dict() == {"A": 1.0, "B": 0.5, "C": 0.0, "D": 1.0}
    assert customers["promo_orders"].to_dict() == {"A": 2, "B": 1, "C": 0, "D": 1}
    # per segment: the share of its orders in promotions, and of its customers who are deal hunters
    summary = table(run("segment", orders, "--config", config, "--summary", "-f", "csv", "-q")).set_index("segment")
    for segment, members in customers.groupby("segment"):
        assert summary.loc[segment, "promo_order_share"] == round(members["promo_orders"].sum() / members["frequency"].sum(), 4)
        assert summary.loc[segment, "promo_only_share"] == round(members["promo_only"].mean(), 4)
    periods = table(run("profile", orders, "--per", "period", "--config", config, "-f", "csv", "-q"))
    march = periods[periods["period"] == "2025-03-01"].iloc[0]
    # in the window: A 2 x 100, B 100, D 50 = 350 of March's 550 (C's 4 March is outside)
    assert (march["promo"], march["promo_orders"], march["promo_revenue"]) == ("会员日", 4, 350.0)
    assert march["promo_revenue_share"] == round(350 / 550, 4)
    february = periods[periods["period"] == "2025-02-01"].iloc[0]
    assert pd.isna(february["promo"]) and february["promo_revenue"] == 0
    # without a calendar the outputs are as before
    plain = table(run("profile", orders, "--per", "period", "-f", "csv", "-q"))
    assert "promo" not in plain.columns


def test_retention_by_promo_shows_that_11_11_cohorts_come_back_less(write):
    """November 2024: 40 customers first bought in 双11 (1–11 Nov), 10 of them again in
    December; 40 first bought later in November, 24 of them again in December."""
    lines = ["customer_id,order_date,amount"]
    for i in range(40):
        lines.append(f"P{i:02d},2024-11-{1 + i % 11:02d} 10:00,80.00")
        if i < 10:
            lines.append(f"P{i:02d},2024-12-05 10:00,60.00")
        lines.append(f"O{i:02d},2024-11-{15 + i % 14:02d} 10:00,80.00")
        if i < 24:
            lines.append(f"O{i:02d},2024-12-06 10:00,60.00")
    lines.append("Z,2025-01-31 10:00,10.00")  # the as-of date: December is complete
    path = write("orders.csv", "\n".join(lines) + "\n")
    out = table(run("retention", path, "--by-promo", "--promos", "cn", "--values", "percent", "-f", "csv", "-q"))
    november = out[out["cohort"] == "2024-11-01"].set_index("acquired")
    assert november["size"].to_dict() == {"双11": 40, "organic": 40}
    assert november.loc["双11", "period_1"] == 0.25 and november.loc["organic", "period_1"] == 0.6
    averages = out[out["cohort"] == "average"].set_index("acquired")
    assert averages.loc["双11", "period_1"] < averages.loc["organic", "period_1"]
    zh = table(run("retention", path, "--by-promo", "--promos", "cn", "--lang", "zh", "-f", "csv", "-q"))
    assert set(zh["acquired"]) == {"双11", "非大促"}
    assert (zh["cohort"] == "平均").sum() == 2  # each group's average row, named in Chinese


def test_by_promo_needs_a_calendar(write):
    path = write("o.csv", "customer_id,order_date\nA,2025-01-01\n")
    result = run("retention", path, "--by-promo")
    assert result.exit_code == 2 and "--promos cn" in result.stderr
    assert run("retention", path, "--by-promo", "--promos", "cn", "--long").exit_code == 2
    assert run("segment", path, "--promos", "cn", "--lifecycle").exit_code == 2
    assert run("profile", path, "--per", "period", "--promos", "eu").exit_code == 2


def test_estimated_windows_are_said(write):
    path = write("o.csv", "customer_id,order_date\nA,2026-07-01\nB,2026-07-20\n")
    result = run("profile", path, "--per", "period", "--promos", "us", "-f", "csv")
    assert "Prime Day 2026 is estimated as 2026-07-14 – 2026-07-15" in result.stderr


def test_promotion_dataclass_days():
    assert Promotion("x", dt.date(2025, 1, 1), dt.date(2025, 1, 3)).days == 3


def test_promotion_review_by_hand(write):
    """A 7-day sale (10–16 March 2025) against the 28 days before it. Before: one 10.00 order
    a day by old customers, and 7 new customers (one a week, 10.00 each). In the sale: 14
    orders of 20.00 by 14 new customers, 7 of whom buy again within 30 days; four organic
    new customers after the sale, one of whom buys again within 30 days."""
    from userops.analytics.promotions import promo_review
    from userops.io.normalise import load_orders

    lines = ["customer_id,order_date,amount"] + [f"OLD{i},2025-01-02 10:00,10.00" for i in range(5)]
    day = dt.date(2025, 2, 10)
    for i in range(28):
        lines.append(f"OLD{i % 5},{day + dt.timedelta(days=i)} 09:00,10.00")
    for i in range(7):
        lines.append(f"NEW{i},{day + dt.timedelta(days=4 * i)} 15:00,10.00")
    for i in range(14):
        lines.append(f"S{i:02d},2025-03-{10 + i % 7:02d} 12:00,20.00")
        if i < 7:
            lines.append(f"S{i:02d},2025-04-01 12:00,30.00")
    for i in range(4):
        lines.append(f"M{i},2025-03-{20 + i:02d} 12:00,15.00")
    lines.append("M0,2025-04-10 12:00,15.00")
    lines.append("OLD1,2025-06-30 12:00,10.00")  # the as-of date: 30 days observed for everyone
    loaded = load_orders([write("orders.csv", "\n".join(lines) + "\n")])
    sale = Promotion("Sale", dt.date(2025, 3, 10), dt.date(2025, 3, 16))
    review = promo_review(loaded, loaded.window(), (sale,), sale)
    figures = review.figures.set_index("metric")
    # before: 28 old orders + 7 new ones = 35 orders, 350.00 over 28 days
    assert figures.loc["revenue_per_day", "before"] == pytest.approx(350 / 28)
    assert figures.loc["revenue_per_day", "promotion"] == pytest.approx(14 * 20 / 7)
    assert figures.loc["orders_per_day", "before"] == pytest.approx(35 / 28)
    assert figures.loc["new_customers_per_day", "promotion"] == pytest.approx(2.0)
    assert figures.loc["new_customers_per_day", "before"] == pytest.approx(7 / 28)
    assert figures.loc["revenue_per_day", "change"] == pytest.approx(40 / 12.5 - 1)
    repurchase = review.repurchase.set_index("acquired")
    assert repurchase.loc["Sale", "customers"] == 14 and repurchase.loc["Sale", "repurchase_30d"] == 0.5
    # organic: first purchases in March outside the sale, NEW5 (2 March), NEW6 (6 March), M0..M3
    assert repurchase.loc["organic", "customers"] == 6 and repurchase.loc["organic", "repurchase_30d"] == pytest.approx(1 / 6)
