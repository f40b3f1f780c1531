"""The order-status funnel on exports built with known answers: a Shopify layout (English
headers, order fields on the first line of each order only) and a Taobao layout (GBK, Chinese
headers and statuses, a closed order after payment, a virtual good never shipped)."""

import datetime as dt
import io

import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.cli.app import app


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def table(result):
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout))


T0 = dt.datetime(2025, 3, 3, 9, 0)


def at(hours):
    return (T0 + dt.timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S") + " +0800"


#: Shopify orders: (name, email, financial status, hours created after T0, paid after created,
#: fulfilled after paid, lines, shipping province)
SHOPIFY = [
    ("#1001", "a@x.com", "paid", 0, 1, 24, 2, "Ontario"),
    ("#1002", "b@x.com", "paid", 5, 0.5, 30, 1, "Ontario"),
    ("#1003", "c@x.com", "paid", 10, 2, 36, 1, "Quebec"),
    ("#1004", "d@x.com", "paid", 20, 1, 48, 3, "Quebec"),
    ("#1005", "e@x.com", "partially_refunded", 30, 3, 60, 1, "Ontario"),
    ("#1006", "f@x.com", "paid", 40, 4, 72, 1, "Quebec"),
    ("#1007", "g@x.com", "paid", 50, 1, None, 1, "Ontario"),
    ("#1008", "h@x.com", "authorized", 60, 2, None, 2, "Quebec"),
    ("#1009", "i@x.com", "pending", 70, None, None, 1, "Ontario"),
    ("#1010", "j@x.com", "voided", 80, None, None, 1, "Quebec"),
]


def shopify_export(write):
    header = "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Currency,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price,Shipping Province"
    lines = [header]
    for name, email, status, created, paid, shipped, n_lines, province in SHOPIFY:
        paid_at = at(created + paid) if paid is not None else ""
        fulfilled_at = at(created + paid + shipped) if shipped is not None else ""
        fulfilment = "fulfilled" if shipped is not None else "unfulfilled"
        for line in range(n_lines):
            if line == 0:  # Shopify writes the order's fields on its first line only
                lines.append(f"{name},{email},{status},{paid_at},{fulfilment},{fulfilled_at},CAD,{20 * n_lines}.00,{at(created)},1,Item {line},20.00,{province}")
            else:
                lines.append(f"{name},{email},,,,,,,{at(created)},1,Item {line},20.00,{province}")
    return write("orders_export.csv", "\n".join(lines) + "\n")


def test_shopify_layout_counts_and_step_times(write):
    out = table(run("funnel", shopify_export(write), "--order-status", "-f", "csv", "-q"))
    assert list(out["status"]) == ["created", "paid", "shipped"]  # Shopify has no delivery time
    assert list(out["orders"]) == [10, 8, 6]
    assert list(out["conversion_from_previous"].fillna(-1)) == [-1, 0.8, 0.75]
    assert out["conversion_from_start"].iloc[-1] == 0.6
    paid_hours = sorted(r[4] for r in SHOPIFY if r[4] is not None)  # 0.5, 1, 1, 1, 2, 2, 3, 4
    assert out["median_hours"].iloc[1] == pytest.approx(pd.Series(paid_hours).median())
    assert out["p90_hours"].iloc[1] == pytest.approx(pd.Series(paid_hours).quantile(0.9), abs=0.005)
    # paid -> fulfilled: 24, 30, 36, 48, 60, 72 hours
    assert out["median_hours"].iloc[2] == 42.0
    assert out["p90_hours"].iloc[2] == 66.0
    assert list(out["timed_orders"].fillna(-1)) == [-1, 8, 6]
    assert list(out["inferred"]) == [0, 0, 0]
    assert list(out["closed_here"]) == [1, 0, 0]  # the voided order stopped at created


def test_by_province_and_trend(write):
    path = shopify_export(write)
    by = table(run("funnel", path, "--order-status", "--by", "province", "-f", "csv", "-q"))
    ontario = by[by["province"] == "Ontario"]
    assert list(ontario["orders"]) == [5, 4, 3]  # #1001 1002 1005 1007 1009
    assert by.groupby("status", sort=False)["orders"].sum().tolist() == [10, 8, 6]
    trend = table(run("funnel", path, "--order-status", "--trend", "day", "-f", "csv", "-q"))
    assert trend[trend["step"] == 1]["orders"].sum() == 10
    assert set(trend.columns[:2]) == {"period", "complete"}


def taobao_export(write):
    """12 orders created 2025-03-01 10:00 onward, one per hour; times in hours after creation."""
    rows = [
        # 订单状态, paid after, shipped after paid, delivered after shipped, lines
        ("等待买家付款", None, None, None, 1),
        ("等待买家付款", None, None, None, 1),
        ("交易关闭", None, None, None, 1),  # closed unpaid
        ("交易关闭", 1, None, None, 1),  # paid, refunded before shipping: closed at paid
        ("买家已付款，等待卖家发货", 2, None, None, 2),
        ("买家已付款，等待卖家发货", 1, None, None, 1),
        ("卖家已发货，等待买家确认", 1, 20, None, 1),
        ("卖家已发货，等待买家确认", 3, 30, None, 1),
        ("交易成功", 1, 24, 48, 2),
        ("交易成功", 1, 40, 72, 1),
        ("交易成功", 2, 12, 60, 1),
        ("交易成功", 1, None, None, 1),  # a virtual good: never shipped, confirmed 5 hours after paying
    ]
    start = dt.datetime(2025, 3, 1, 10, 0)
    fmt = "%Y-%m-%d %H:%M:%S"
    lines = ["订单编号,买家会员名,买家实际支付金额,订单状态,订单创建时间,订单付款时间,发货时间,确认收货时间,收货地址"]
    for i, (status, paid, shipped, delivered, n_lines) in enumerate(rows):
        created = start + dt.timedelta(hours=i)
        paid_at = created + dt.timedelta(hours=paid) if paid is not None else None
        shipped_at = paid_at + dt.timedelta(hours=shipped) if shipped is not None else None
        if delivered is not None:
            delivered_at = shipped_at + dt.timedelta(hours=delivered)
        elif status == "交易成功":
            delivered_at = paid_at + dt.timedelta(hours=5)
        else:
            delivered_at = None
        cells = [c.strftime(fmt) if c else "" for c in (created, paid_at, shipped_at, delivered_at)]
        province = "浙江省" if i % 2 == 0 else "广东省"
        for _ in range(n_lines):
            lines.append(f"{5000 + i},买家{i},99.00,{status},{','.join(cells)},{province} 杭州市 西湖区")
    return write("淘宝订单.csv", "\n".join(lines) + "\n", encoding="gbk")


def test_taobao_layout_gbk_chinese_statuses(write):
    out = table(run("funnel", taobao_export(write), "--order-status", "--lang", "zh", "-f", "csv", "-q"))
    assert list(out["status"]) == ["下单", "付款", "发货", "收货"]
    assert list(out["orders"]) == [12, 9, 6, 4]
    assert list(out["closed_here"]) == [1, 1, 0, 0]  # 交易关闭 before and after payment
    assert list(out["inferred"]) == [0, 0, 1, 0]  # the virtual good counts as shipped
    # created -> paid: 1, 2, 1, 1, 3, 1, 1, 2, 1 hours
    assert out["median_hours"].iloc[1] == 1.0
    # paid -> shipped over the five shipped with a time: 12, 20, 24, 30, 40
    assert out["median_hours"].iloc[2] == 24.0
    assert out["timed_orders"].iloc[2] == 5
    # shipped -> delivered: 48, 60, 72 (the virtual good has no shipping time)
    assert out["median_hours"].iloc[3] == 60.0
    assert out["timed_orders"].iloc[3] == 3
    by = table(run("funnel", taobao_export(write), "--order-status", "--by", "province", "-f", "csv", "-q"))
    assert set(by["province"]) == {"浙江省", "广东省"}
    assert by[by["step"] == 1]["orders"].sum() == 12


def test_cash_on_delivery_is_out_of_order(write):
    lines = ["order_id,customer_id,created_at,paid_at,shipped_at,delivered_at,status"]
    lines += ["1,A,2025-01-01 10:00,2025-01-01 11:00,2025-01-02 10:00,2025-01-04 10:00,delivered"]
    lines += ["2,B,2025-01-01 12:00,2025-01-04 12:00,2025-01-02 12:00,2025-01-04 12:00,delivered"]  # paid on delivery
    out = table(run("funnel", write("own.csv", "\n".join(lines) + "\n"), "--order-status", "-f", "csv", "-q"))
    assert list(out["orders"]) == [2, 2, 2, 2]
    assert list(out["out_of_order"]) == [0, 0, 1, 0]
    assert out["timed_orders"].iloc[2] == 1  # only order 1's paid -> shipped is a time
    assert out["median_hours"].iloc[2] == 23.0


def test_no_status_information_is_refused(write):
    path = write("plain.csv", "customer_id,order_date,amount\nA,2025-01-01,10\n")
    result = run("funnel", path, "--order-status")
    assert result.exit_code == 65
    assert "no status column" in result.stderr and "--paid-at-col" in result.stderr


def test_status_time_columns_can_be_named(write):
    lines = ["order_id,customer_id,order_date,money_in,out_of_door"]
    lines += ["1,A,2025-01-01 10:00,2025-01-01 12:00,2025-01-02 10:00", "2,B,2025-01-01 11:00,,"]
    path = write("own.csv", "\n".join(lines) + "\n")
    out = table(run("funnel", path, "--order-status", "--paid-at-col", "money_in", "--shipped-at-col", "out_of_door", "-f", "csv", "-q"))
    assert list(out["orders"]) == [2, 1, 1]
    assert out["median_hours"].iloc[1] == 2.0


def test_a_step_without_a_time_is_timed_from_the_nearest_step_with_one(examples_dir):
    """The examples record creation, shipping and delivery times but no payment time: the
    shipping hours run from creation, and the paid step has none."""
    out = table(run("funnel", f"{examples_dir}/orders.csv", "--order-status", "-f", "csv", "-q"))
    assert list(out["status"]) == ["created", "paid", "shipped", "delivered"]
    assert list(out["measured_from"].fillna("")) == ["", "", "created", "shipped"]
    lines = pd.read_csv(f"{examples_dir}/orders.csv", dtype=str, keep_default_na=False)
    orders = lines.groupby("order_id").first()
    shipped = orders[orders["shipped_at"] != ""]
    hours = (pd.to_datetime(shipped["shipped_at"]) - pd.to_datetime(shipped["order_date"])).dt.total_seconds() / 3600
    assert out["timed_orders"].iloc[2] == len(shipped)
    assert out["median_hours"].iloc[2] == round(hours.median(), 2)
    assert out["orders"].iloc[0] == len(orders)
    assert out["closed_here"].iloc[0] == (orders["status"] == "cancelled").sum()


def test_rows_without_an_order_id(write):
    lines = ["order_id,customer_id,created_at,paid_at", "1,A,2025-01-01 10:00,2025-01-01 11:00", ",B,2025-01-01 10:00,", ",C,2025-01-01 10:00,"]
    result = run("funnel", write("o.csv", "\n".join(lines) + "\n"), "--order-status", "-f", "csv")
    assert list(table(result)["orders"]) == [1, 1]
    assert "2 rows without an order id are left out" in result.stderr
    no_ids = ["customer_id,created_at,paid_at", "A,2025-01-01 10:00,2025-01-01 11:00", "B,2025-01-01 10:00,"]
    assert list(table(run("funnel", write("p.csv", "\n".join(no_ids) + "\n"), "--order-status", "-f", "csv", "-q"))["orders"]) == [2, 1]


def test_first_order_experience_by_hand(write):
    from userops.analytics.order_status import first_order_experience
    from userops.analytics.promotions import Promotion
    from userops.io.normalise import load_orders

    lines = ["订单编号,买家会员名,买家实际支付金额,优惠金额,订单状态,订单创建时间,订单付款时间,发货时间,确认收货时间"]
    lines += [
        "1,A,50.00,0,交易关闭,2025-01-01 10:00,2025-01-01 10:05,,",  # A's first order closed after payment
        "2,A,80.00,0,交易成功,2025-03-01 10:00,2025-03-01 10:05,2025-03-02 10:05,2025-03-04 10:05",  # the as-of date: 1 March
        "3,B,90.00,10.00,交易成功,2025-01-02 10:00,2025-01-02 12:00,2025-01-04 12:00,2025-01-07 12:00",  # ships in 2 days, delivered in 5
        "4,C,75.00,25.00,卖家已发货，等待买家确认,2025-02-19 10:00,2025-02-19 10:00,2025-03-01 08:00,",  # ships after 10 days
        "5,D,40.00,0,等待买家付款,2025-01-04 10:00,,,",  # unpaid: not refunded, never shipped
        "6,D,40.00,0,交易成功,2025-01-05 10:00,2025-01-05 10:00,2025-01-05 20:00,2025-01-07 10:00",
    ]
    loaded = load_orders([write("淘宝.csv", "\n".join(lines) + "\n", encoding="gbk")])
    sale = Promotion("sale", dt.date(2025, 1, 2), dt.date(2025, 1, 3))
    out = first_order_experience(loaded, loaded.window(), promotions=(sale,)).set_index("customer_id")
    assert out["first_order_refunded"].to_dict() == {"A": True, "B": False, "C": False, "D": False}
    # D's unpaid order is still open but two months old by the as-of date: stalled, never
    # shipped; C's is on its way (shipped on the as-of date, open, created 19 February)
    assert out["days_to_ship"].to_dict() == {"A": "not shipped", "B": "1–3 days", "C": ">7 days", "D": "not shipped"}
    assert out["days_to_deliver"].to_dict() == {"A": "not delivered", "B": "3–7 days", "C": "not delivered yet", "D": "not delivered"}
    assert out["pending"].to_dict() == {"A": False, "B": False, "C": True, "D": False}
    assert out["first_order_promo"].to_dict() == {"A": False, "B": True, "C": False, "D": False}
    assert out["first_discount_share"].to_dict() == {"A": 0.0, "B": 0.1, "C": 0.25, "D": 0.0}


def test_a_refunded_first_order_shows_in_survival_and_cox(write):
    """60 customers whose first order was cancelled buy once more and never again; 60 whose
    first order went well buy every month until the as-of date: the first group churns."""
    lines = ["order_id,customer_id,order_date,status,amount"]
    n = 0
    for i in range(60):
        n += 1
        lines.append(f"{n},R{i:02d},2024-01-{1 + i % 28:02d} 10:00,cancelled,30.00")
        n += 1
        lines.append(f"{n},R{i:02d},2024-01-{1 + i % 28:02d} 12:00,paid,30.00")
        if i % 6 == 0:  # a few stay a while
            n += 1
            lines.append(f"{n},R{i:02d},2024-05-{1 + i % 28:02d} 12:00,paid,30.00")
    for i in range(60):
        for month in range(1, 13 if i % 5 else 4):
            n += 1
            lines.append(f"{n},G{i:02d},2024-{month:02d}-{1 + i % 28:02d} 10:00,paid,30.00")
    path = write("orders.csv", "\n".join(lines) + "\n")
    curves = pd.read_csv(io.StringIO(run("churn", path, "--by", "refund", "-f", "csv", "-q").stdout))
    at = curves[curves["days"] <= 200].groupby("group")["survival"].last()
    assert at["refunded or cancelled"] < at["not refunded"]
    cox = table(run("churn", path, "--cox", "-f", "csv", "-q")).set_index("covariate")
    assert cox.loc["first_order_refunded", "hazard_ratio"] > 2 and cox.loc["first_order_refunded", "p_value"] < 0.05
    missing = run("churn", path, "--by", "ship_days")
    assert missing.exit_code == 65 and "does not say" in missing.stderr


def test_inspect_shows_the_status_time_columns(write):
    result = run("inspect", shopify_export(write), "-f", "csv", "-q")
    roles = table(result).set_index("column")["role"]
    assert (roles["Created at"], roles["Paid at"], roles["Fulfilled at"], roles["Shipping Province"]) == ("time", "paid_at", "shipped_at", "province")


def test_step_times_that_are_not_times_are_said(write):
    lines = ["order_id,customer_id,created_at,paid_at", "1,A,2025-01-01 10:00,2025-01-01 11:00", "2,B,2025-01-01 10:00,soon", "3,C,2025-01-01 10:00,1900-01-01"]
    result = run("funnel", write("o.csv", "\n".join(lines) + "\n"), "--order-status", "-f", "csv")
    assert list(table(result)["orders"]) == [3, 1]
    assert "2 values of 'paid_at' are not times" in result.stderr
