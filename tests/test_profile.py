"""profile KPIs and columns on a hand-worked shop (tests/conftest.py: SMALL_ORDERS).

Purchases after the rules are applied (as-of = date of the latest purchase = 2024-03-31):
  O1  001  2024-01-10 09:00  lines Home 2x10 + Toys 1x5  = 25   web
  O2  001  2024-02-20 15:00  Toys 1x15                  = 15   app
  O4  002  2024-02-01 10:00  Home 3x10                  = 30   app
  O7  003  2024-03-31 18:00  Beauty 1x50                = 50   web
Not purchases: O3 refunded, O5 cancelled (status); O8 total -20 (negative total);
dropped: O6 (no customer id), O9 (date "not a date").
"""

import datetime as dt

import pandas as pd
import pytest

from userops.analytics.profile import customer_profile, dataset_kpis, period_activity, profile_table
from userops.io.normalise import LoadOptions, load_orders
from userops.scan.load import REASON_BAD_AMOUNT, REASON_BAD_TIME, REASON_EXCLUDED_STATUS, REASON_NEGATIVE, REASON_NO_CUSTOMER, REASON_TIME_RANGE, orders_frame

AS_OF = dt.date(2024, 3, 31)


def test_drop_report(small_orders):
    loaded = load_orders([small_orders])
    assert loaded.drops.rows_read == 10
    assert loaded.drops.dropped == {REASON_NO_CUSTOMER: 1, REASON_BAD_TIME: 1}
    assert loaded.drops.excluded == {REASON_EXCLUDED_STATUS: 2, REASON_NEGATIVE: 1}
    assert loaded.drops.lines() == [
        "dropped 2 rows: 1 unparseable dates, 1 without customer id",
        "excluded 3 rows as not purchases: 2 cancelled/refunded/unpaid status, 1 refunds (negative order total) (--include-refunds keeps them)",
    ]


def test_drop_counts_when_one_order_mixes_reasons(write):
    """Every row-level reason, several in one order: each row counted once, under its own
    reason, and the order's kept line still a purchase (the counts are packed per order)."""
    path = write(
        "mixed.csv",
        "order_id,customer_id,order_date,status,amount\n"
        "A,C1,2024-01-10,paid,10\n"  # kept
        "A,C1,not a date,paid,5\n"  # unparseable date
        "A,C1,1985-01-01,paid,5\n"  # before 1990
        "A,C1,2024-01-10,paid,abc\n"  # unparseable amount, twice
        "A,C1,2024-01-10,paid,n/a\n"
        "B,C1,2024-01-12,cancelled,3\n"  # the status excludes order B: this row and the next
        "B,C1,2024-01-12,paid,7\n"
        "C,,2024-01-13,paid,4\n"  # no customer id, twice
        "C,,2024-01-13,paid,4\n",
    )
    loaded = load_orders([path])
    drops = loaded.drops
    assert drops.rows_read == 9
    assert drops.dropped == {REASON_NO_CUSTOMER: 2, REASON_BAD_AMOUNT: 2, REASON_BAD_TIME: 1, REASON_TIME_RANGE: 1}
    assert drops.excluded == {REASON_EXCLUDED_STATUS: 2}
    orders = orders_frame(loaded.engine, loaded.window())
    assert orders[["order_id", "amount", "lines"]].values.tolist() == [["A", 10.0, 1]]


def test_summary_kpis(small_orders):
    loaded = load_orders([small_orders])
    window = loaded.window()
    assert window.as_of == AS_OF
    table = profile_table(loaded, window, per="summary").table
    row = table.iloc[0].to_dict()
    assert list(table.columns) == [
        "customers", "orders", "revenue", "aov", "orders_per_customer", "repeat_rate",
        "first_date", "last_date", "median_days_between_orders", "as_of",
    ]
    assert row["customers"] == 3
    assert row["orders"] == 4
    assert row["revenue"] == 120.0  # 25 + 15 + 30 + 50
    assert row["aov"] == 30.0  # 120 / 4
    assert row["orders_per_customer"] == pytest.approx(1.3333)  # 4 / 3
    assert row["repeat_rate"] == pytest.approx(0.3333)  # only 001 has 2 orders
    assert row["first_date"] == dt.date(2024, 1, 10)
    assert row["last_date"] == dt.date(2024, 3, 31)
    # the only gap: 2024-02-20 15:00 - 2024-01-10 09:00 = 41 days 6 hours
    assert row["median_days_between_orders"] == 41.25
    assert row["as_of"] == AS_OF


def test_customer_profile(small_orders):
    loaded = load_orders([small_orders])
    table = profile_table(loaded, loaded.window(), per="customer").table
    expected = pd.DataFrame(
        {
            "customer_id": ["001", "002", "003"],
            "first_order": pd.to_datetime(["2024-01-10 09:00", "2024-02-01 10:00", "2024-03-31 18:00"]),
            "last_order": pd.to_datetime(["2024-02-20 15:00", "2024-02-01 10:00", "2024-03-31 18:00"]),
            "orders": [2, 1, 1],
            "revenue": [40.0, 30.0, 50.0],
            "aov": [20.0, 30.0, 50.0],
            "mean_days_between_orders": [41.25, None, None],
            # 2024 is a leap year: Jan 10 -> Mar 31 = 21 + 29 + 31 days
            "tenure_days": [81, 59, 0],
            "recency_days": [40, 59, 0],
            # 001: Toys has 2 lines (O1, O2), Home 1 (the refunded O3 does not count)
            "top_category": ["Toys", "Home", "Beauty"],
            # 001: web 1 order, app 1 order: a tie goes to the alphabetically first
            "top_channel": ["app", "app", "web"],
            "active_periods": [2, 1, 1],
            # churn threshold = ceil(90th pct of gaps = 41.25) = 42 days
            # 001: recency 40 <= 42 and <= usual gap 41.25 -> active; 002: 59 > 42 -> churned;
            # 003: first order within the last 30 days -> new
            "lifecycle_status": ["active", "churned", "new"],
        }
    )
    expected["mean_days_between_orders"] = expected["mean_days_between_orders"].astype("float64")
    assert list(table["lifecycle_status"].cat.categories) == ["new", "active", "at risk", "churned"]
    table["lifecycle_status"] = table["lifecycle_status"].astype(str)
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_period_activity(small_orders):
    loaded = load_orders([small_orders])
    table = profile_table(loaded, loaded.window(), per="period", period="month").table
    assert table.to_dict("records") == [
        {"period": dt.date(2024, 1, 1), "new_customers": 1, "active_customers": 1, "orders": 1, "revenue": 25.0, "aov": 25.0, "complete": True},
        {"period": dt.date(2024, 2, 1), "new_customers": 1, "active_customers": 2, "orders": 2, "revenue": 45.0, "aov": 22.5, "complete": True},
        {"period": dt.date(2024, 3, 1), "new_customers": 1, "active_customers": 1, "orders": 1, "revenue": 50.0, "aov": 50.0, "complete": True},
    ]


def test_as_of_ignores_later_rows_and_marks_incomplete_period(small_orders):
    loaded = load_orders([small_orders])
    window = loaded.window("2024-03-30")
    assert loaded.drops_for(window).after_as_of == 1  # O7
    table = profile_table(loaded, window, per="period").table
    assert [r["period"] for r in table.to_dict("records")] == [dt.date(2024, 1, 1), dt.date(2024, 2, 1)]
    summary = profile_table(loaded, window, per="summary").table.iloc[0]
    assert (summary["customers"], summary["orders"], summary["revenue"]) == (2, 3, 70.0)
    # a week table as of a Saturday: the last week (Mon 2024-02-19) is complete, but
    # as of 2024-02-21 it is not
    weeks = profile_table(loaded, loaded.window("2024-02-21"), per="period", period="week").table
    assert weeks.iloc[-1]["period"] == dt.date(2024, 2, 19)
    assert not weeks.iloc[-1]["complete"]
    assert weeks.iloc[0]["complete"]


def test_from_restricts_window_but_new_means_first_ever(small_orders):
    loaded = load_orders([small_orders])
    window = loaded.window(start=dt.date(2024, 2, 15))
    table = profile_table(loaded, window, per="period").table
    # February keeps only O2 (001, not new: first bought in January)
    feb = table.iloc[0]
    assert (feb["period"], feb["new_customers"], feb["orders"], feb["revenue"]) == (dt.date(2024, 2, 1), 0, 1, 15.0)


def test_include_refunds(small_orders):
    loaded = load_orders([small_orders], LoadOptions(include_refunds=True))
    assert loaded.drops.excluded == {}
    summary = profile_table(loaded, loaded.window(), per="summary").table.iloc[0]
    # + O3 (99), O5 (10), O8 (-20): 7 orders, 5 purchasers... 004 counts as a customer
    assert summary["orders"] == 7
    assert summary["customers"] == 4
    assert summary["revenue"] == 120 + 99 + 10 - 20


def test_pure_functions_on_frames():
    customers = pd.DataFrame(
        {
            "customer_id": ["b", "a"],
            "first_order": pd.to_datetime(["2024-01-01 00:00", "2024-01-01 12:00"]),
            "last_order": pd.to_datetime(["2024-01-21 00:00", "2024-01-01 12:00"]),
            "orders": [3, 1],
            "revenue": [100.0, 10.0],
            "active_periods": [1, 1],
        }
    )
    kpis = dataset_kpis(customers, as_of=dt.date(2024, 2, 1), median_gap_days=10.0)
    assert (kpis.customers, kpis.orders, kpis.revenue, kpis.aov, kpis.repeat_rate) == (2, 4, 110.0, 27.5, 0.5)
    prof = customer_profile(customers, as_of=dt.date(2024, 2, 1), period="month", churn_threshold_days=60, median_gap_days=10.0)
    assert list(prof["customer_id"]) == ["a", "b"]  # sorted by id
    assert list(prof["mean_days_between_orders"].fillna(-1)) == [-1, 10.0]  # 20 days / 2 gaps
    # a: recency 31 > median gap 10 -> at risk; b: recency 11 > own gap 10 -> at risk
    assert list(prof["lifecycle_status"]) == ["at risk", "at risk"]
    assert list(prof["top_category"].isna()) == [True, True]
    periods = pd.DataFrame({"period": pd.to_datetime(["2024-01-01"]), "new_customers": [2], "active_customers": [2], "orders": [4], "revenue": [110.0]})
    out = period_activity(periods, as_of=dt.date(2024, 1, 30), period="month")
    assert out.iloc[0]["aov"] == 27.5 and not out.iloc[0]["complete"]


def test_kpis_of_several_windows_from_one_pass(examples_dir):
    """The report's cards (a period, the one before, each also from the start) come from one
    pass: the same KPIs as profile's for each window, an empty window included."""
    from userops.analytics.profile import profile_kpis, window_kpis

    loaded = load_orders([f"{examples_dir}/orders.csv"])
    windows = [
        loaded.window("2025-06-29", start=dt.date(2025, 6, 23)), loaded.window("2025-06-29"),
        loaded.window("2025-03-31", start=dt.date(2025, 3, 1)), loaded.window("2023-01-01"),
    ]
    assert window_kpis(loaded, windows) == [profile_kpis(loaded, w, gaps=False) for w in windows]
    assert window_kpis(loaded, windows)[3].customers == 0
