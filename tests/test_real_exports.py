"""Real exports read right: the defects a new analyst hits in the first week (issue 13), each
pinned with a hand-worked answer, on files laid out as Shopify and Taobao export them."""

import csv
import io

import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.cli.app import app
from userops.errors import DataError, UseropsError
from userops.scan.engine import Engine
from userops.scan.load import orders_frame


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


# --- 1. valid CSV that DuckDB's fast scanner refuses ------------------------------------

NOTE = "gift\nplease wrap"


def test_line_break_inside_a_quoted_cell(write):
    path = write("o.csv", f'customer_id,order_date,amount,note\nA1,2024-01-02,10.00,"{NOTE}"\nA2,2024-01-03,20.00,ok\n')
    result = run("segment", path, "--keep", "note", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = csv_rows(result.stdout)
    assert [(r["customer_id"], r["monetary"], r["note"]) for r in rows] == [("A1", "10", NOTE), ("A2", "20", "ok")]


def test_line_break_past_the_sample_is_read_on_a_second_try(write):
    """The sample (256 KB) has no quoted line break, so the fast scanner starts, refuses the
    record at the end, and the careful one reads the file: every row, as Python's csv reads it."""
    lines = [f"C{i:06d},2024-01-02,10.00,ok" for i in range(20_000)]
    text = "customer_id,order_date,amount,note\n" + "\n".join(lines) + f'\nLAST,2024-01-03,5.00,"{NOTE}"\n'
    path = write("late.csv", text)
    result = run("profile", path, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    (kpis,) = csv_rows(result.stdout)
    assert kpis["customers"] == "20001" and kpis["revenue"] == "200005"


def test_a_cell_of_several_megabytes(write):
    html = "<p>" + "x" * 5_000_000 + "</p>"
    path = write("big.csv", f'customer_id,order_date,amount,description\nA1,2024-01-02,10.00,"{html}"\nA2,2024-01-03,20.00,ok\n')
    result = run("profile", path, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert csv_rows(result.stdout)[0]["orders"] == "2"


# --- 2. every command on every input kind that becomes an Arrow table ------------------

ORDERS = (
    "customer_id,order_date,amount,收货地址\n"
    "A1,2024-01-02,10.00,北京市\n"
    "A1,2024-02-02,30.00,北京市\n"
    "A2,2024-01-03,20.00,上海市\n"
    "A3,2024-03-01,15.00,广州市\n"
)
# churn fits a purchase model only on enough history (100 customers, 20 repeat buyers, 8
# weeks): the shop above plus 120 customers with two orders each, without an address
MANY_ORDERS = ORDERS + "".join(f"B{i:03d},2024-0{1 + i % 3}-1{i % 10},{10 + i}.00,\n" f"B{i:03d},2024-04-2{i % 10},5.00,\n" for i in range(120))
EVENTS = "user_id,event,timestamp\nu1,view,2024-01-01 10:00\nu1,buy,2024-01-01 10:05\nu2,view,2024-01-02 11:00\n"


def _as(kind, text, write, name):
    if kind == "gbk":
        return write(f"{name}.csv", text, encoding="gbk")
    frame = pd.read_csv(io.StringIO(text), dtype=str)
    path = write(f"{name}.{kind}", b"")
    if kind == "xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("kind", ["gbk", "xlsx", "parquet"])
@pytest.mark.parametrize(
    "args",
    [
        ["profile", "--per", "customer"],
        ["profile", "--per", "period"],
        ["segment", "--keep", "收货地址"],
        ["segment", "--summary"],
        ["retention"],
        ["churn", "--keep", "收货地址"],
        ["inspect"],
    ],
)
def test_every_order_command_on_every_input_kind(kind, args, write):
    path = _as(kind, MANY_ORDERS if args[0] == "churn" else ORDERS, write, "orders")
    result = run(args[0], path, *args[1:], "--format", "csv")
    assert result.exit_code == 0, result.stderr
    if "--keep" in args:
        kept = {r["customer_id"]: r["收货地址"] for r in csv_rows(result.stdout) if r["customer_id"].startswith("A")}
        assert kept == {"A1": "北京市", "A2": "上海市", "A3": "广州市"}


@pytest.mark.parametrize("kind", ["gbk", "xlsx", "parquet"])
def test_event_commands_and_report_on_every_input_kind(kind, write, tmp_path):
    orders = _as(kind, ORDERS, write, "orders")
    events = _as(kind, EVENTS, write, "events")
    funnel = run("funnel", events, "--steps", "view,buy", "--format", "csv", "--users", "--dropped-at", "buy")
    assert funnel.exit_code == 0, funnel.stderr
    assert [r["user_id"] for r in csv_rows(funnel.stdout)] == ["u1"]
    assert run("retention", events, "--format", "csv").exit_code == 0
    report = run("report", orders, "--events", events, "-o", tmp_path / "r.html")
    assert report.exit_code == 0, report.stderr


# --- 7. engine failures that are not the file's fault ----------------------------------


def test_engine_errors_blame_the_file_only_when_it_is_the_file():
    engine = Engine()
    with pytest.raises(UseropsError) as bug:
        engine.execute("SELEC 1", file="orders.csv")
    assert not isinstance(bug.value, DataError) and bug.value.exit_code == 1
    assert "orders.csv" not in str(bug.value) and "cannot read the data" not in str(bug.value)
    assert "Parser" in str(bug.value)
    with pytest.raises(UseropsError) as wrong_type:
        engine.execute("SELECT CAST('x' AS INTEGER)", file="orders.csv")
    assert wrong_type.value.exit_code == 1 and "orders.csv" not in str(wrong_type.value)


def test_a_broken_csv_still_blames_the_file(write):
    path = write("bad.csv", 'customer_id,order_date,amount\nA1,2024-01-02,"10.00\n')
    result = run("profile", path)
    assert result.exit_code == 65 and "bad.csv, line 2" in result.stderr and "quote" in result.stderr


# --- 4. time zones ------------------------------------------------------------------------


def test_offset_timestamps_keep_the_shops_own_day(write):
    """Shopify writes the shop's local time with its offset: 03:47 on 1 January +0800 is a
    January order, not a bogus December cohort (it was 2023-12-31 19:47 in UTC)."""
    path = write("o.csv", "customer_id,order_date,amount\nA1,2024-01-01 03:47:01 +0800,10\nA1,2024-02-01 09:00:00 +0800,20\n")
    result = run("retention", path, "--period", "month", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert [r["cohort"] for r in csv_rows(result.stdout)][0] == "2024-01-01"
    assert "UTC offsets (+0800)" in result.stderr and "own local time" in result.stderr
    converted = run("profile", path, "--per", "customer", "--tz", "UTC", "--format", "csv")
    assert csv_rows(converted.stdout)[0]["first_order"] == "2023-12-31 19:47:01"
    assert "converted to UTC" in converted.stderr


@pytest.mark.parametrize("data", ["A1,2024-01-01 03:47:01 +0800,10", "A1,2024-01-01 03:47:01,10"])
def test_an_unknown_time_zone_is_a_usage_error(data, write):
    path = write("o.csv", f"customer_id,order_date,amount\n{data}\n")
    result = run("profile", path, "--tz", "Mars/Olympus")
    assert result.exit_code == 2 and "--tz 'Mars/Olympus' is not a time zone" in result.stderr
    assert "o.csv" not in result.stderr


def test_tz_on_plain_timestamps_says_it_changes_nothing(write):
    path = write("o.csv", "customer_id,order_date,amount\nA1,2024-01-01 03:47:01,10\n")
    result = run("profile", path, "--tz", "asia/shanghai", "--per", "customer", "--format", "csv")
    assert result.exit_code == 0 and csv_rows(result.stdout)[0]["first_order"] == "2024-01-01 03:47:01"
    assert "--tz Asia/Shanghai: the timestamps carry no UTC offset" in result.stderr


# --- the Shopify and Taobao layouts, with known answers ----------------------------------

SHOPIFY = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Currency,Subtotal,Total,Refunded Amount,"
    "Lineitem quantity,Lineitem name,Lineitem price,Notes,Phone,Created at,Id\n"
    '#1001,a@example.com,paid,2024-01-01 03:47:01 +0800,fulfilled,CNY,100.00,100.00,0.00,1,Shirt,60.00,"gift\nplease wrap",'
    "'13800138000,2024-01-01 03:47:01 +0800,5001\n"
    "#1001,a@example.com,,,,CNY,,,,1,Socks,40.00,,,2024-01-01 03:47:01 +0800,5001\n"
    "#1002,b@example.com,partially_refunded,2024-01-05 10:00:00 +0800,fulfilled,CNY,200.00,200.00,50.00,"
    "2,Pants,100.00,,'13900139000,2024-01-05 10:00:00 +0800,5002\n"
    "#1003,a@example.com,refunded,2024-01-20 12:00:00 +0800,,CNY,80.00,80.00,80.00,1,Hat,80.00,,,2024-01-20 12:00:00 +0800,5003\n"
    "#1004,c@example.com,paid,2024-02-10 23:30:00 +0800,fulfilled,CNY,60.00,60.00,0.00,1,Pin,60.00,,,2024-02-10 23:30:00 +0800,5004\n"
    "#1005,d@example.com,paid,2024-02-11 08:00:00 -0500,fulfilled,USD,30.00,30.00,0.00,1,Pin,30.00,,,2024-02-11 08:00:00 -0500,5005\n"
)


@pytest.fixture
def shopify(write):
    return write("orders_export.csv", SHOPIFY)


def test_shopify_mixed_currencies_are_refused_then_kept_one(shopify):
    mixed = run("profile", shopify)
    assert mixed.exit_code == 65 and "2 currencies (3 in CNY, 1 in USD)" in mixed.stderr and "--currency CNY" in mixed.stderr
    result = run("profile", shopify, "--currency", "cny", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    (kpis,) = csv_rows(result.stdout)
    # #1001 100 + #1002 200 less 50 refunded + #1004 60; #1003 refunded, #1005 in USD
    assert (kpis["customers"], kpis["orders"], kpis["revenue"]) == ("3", "3", "310")
    assert kpis["first_date"] == "2024-01-01"  # the shop's own day, not 2023-12-31 in UTC
    assert "net of refunds: 1 order less 50.00 refunded (column 'Refunded Amount'" in result.stderr
    assert "1 in another currency (--currency)" in result.stderr
    gross = run("profile", shopify, "--currency", "CNY", "--include-refunds", "--format", "csv")
    assert csv_rows(gross.stdout)[0]["revenue"] == "440"  # 100 + 200 + 80 + 60, as exported


def test_shopify_campaign_list_carries_clean_contacts(shopify):
    result = run("segment", shopify, "--currency", "CNY", "--keep", "Phone,Notes", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = {r["customer_id"]: r for r in csv_rows(result.stdout)}
    assert rows["a@example.com"]["Phone"] == "13800138000"  # the Excel guard ' is gone
    assert rows["a@example.com"]["Notes"] == "gift\nplease wrap"
    assert rows["b@example.com"]["monetary"] == "150"


TAOBAO = (
    "订单编号,买家会员名,买家应付货款,总金额,买家实际支付金额,订单状态,买家留言,收货人姓名,收货地址,联系手机,"
    "订单创建时间,订单付款时间,宝贝总数量,退款金额\n"
    '="2362884076109014719",张三,199.00,199.00,199.00,交易成功,"请尽快发货\n谢谢",张三,北京市朝阳区,'
    "'13800138000,2024-03-05 09:58:00,2024-03-05 10:00:00,1,0.00\n"
    '="2362884076109014720",李四,88.00,88.00,88.00,交易成功,,李四,上海市,="13900139000",2024-03-06 10:59:00,2024-03-06 11:00:00,2,20.00\n'
    '="2362884076109014721",张三,50.00,50.00,50.00,交易关闭,,张三,北京市,,2024-03-07 10:00:00,2024-03-07 10:01:00,1,50.00\n'
    '="2362884076109014722",王五,66.00,66.00,66.00,等待买家付款,,王五,广州市,,2024-03-08 10:00:00,,1,0.00\n'
    '="2362884076109014723",李四,120.00,120.00,120.00,交易成功,,李四,上海市,,2024-04-01 09:29:00,2024-04-01 09:30:00,1,0.00\n'
)


@pytest.fixture
def taobao(write):
    return write("ExportOrderList.csv", TAOBAO, encoding="gbk")


def test_taobao_gbk_export(taobao):
    result = run("profile", taobao, "--per", "customer", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = {r["customer_id"]: r for r in csv_rows(result.stdout)}
    # 张三: 199; 李四: 88 less 20 refunded + 120; 交易关闭 and 等待买家付款 are not purchases
    assert set(rows) == {"张三", "李四"}
    assert (rows["张三"]["orders"], rows["张三"]["revenue"]) == ("1", "199")
    assert (rows["李四"]["orders"], rows["李四"]["revenue"]) == ("2", "188")
    assert rows["李四"]["first_order"] == "2024-03-06 11:00:00"  # 订单付款时间
    assert "column '退款金额'" in result.stderr and "excluded 2 rows as not purchases" in result.stderr


def test_taobao_campaign_list(taobao):
    result = run("segment", taobao, "--keep", "联系手机,买家留言,收货地址", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = {r["customer_id"]: r for r in csv_rows(result.stdout)}
    assert rows["张三"]["联系手机"] == "13800138000" and rows["李四"]["联系手机"] == "13900139000"
    assert rows["张三"]["买家留言"] == "请尽快发货\n谢谢"
    assert rows["李四"]["收货地址"] == "上海市"


def test_taobao_order_ids_stay_exact(taobao):
    from userops.io.normalise import LoadOptions, load_orders

    loaded = load_orders([taobao], LoadOptions())
    orders = orders_frame(loaded.engine, loaded.window())
    assert orders["order_id"].tolist() == ["2362884076109014719", "2362884076109014720", "2362884076109014723"]
    assert orders["amount"].tolist() == [199.0, 68.0, 120.0]


# --- 16. stale data -------------------------------------------------------------------------


def test_stale_export_warns_even_when_quiet(write):
    path = write("o.csv", "customer_id,order_date,amount\nA1,2024-01-02,10\nA2,2024-01-03,20\n")
    result = run("segment", path, "--as-of", "2024-03-01", "-q", "--format", "csv")
    assert result.exit_code == 0
    assert result.stderr.strip() == (
        "userops: warning: the latest purchase in the data is 2024-01-03, 58 days before the as-of date 2024-03-01: "
        "the export looks stale, and every recency counts those 58 days; export fresh data, or set --as-of to the export's date"
    )
    assert run("segment", path, "--as-of", "2024-01-10", "--format", "csv").stderr.count("warning") == 0  # a week is not stale
    strict = run("segment", path, "--as-of", "2024-03-01", "--strict")
    assert strict.exit_code == 65 and "stale" in strict.stderr and strict.stdout == ""


def test_stale_events_warn_too(write):
    path = write("e.csv", EVENTS)
    result = run("funnel", path, "--steps", "view,buy", "--as-of", "2024-02-01", "--format", "csv")
    assert "the latest event in the data is 2024-01-02, 30 days before" in result.stderr


# --- 3. a clickstream given to an orders command ------------------------------------------

CLICKS = (
    "user_id,event,timestamp,price\n"
    "u1,view,2024-01-01 10:00,\nu1,purchase,2024-01-01 10:05,19.90\nu2,view,2024-01-02 11:00,\n"
    'u2,purchase,2024-01-03 11:00,5.10\nu1,purchase,2024-01-04 11:00,"1,000.00"\nu3,view,2024-01-04 12:00,\n'
)


@pytest.mark.parametrize("command", ["profile", "segment", "churn", "report"])
def test_a_clickstream_is_not_taken_as_orders(command, write, tmp_path):
    path = write("events.csv", CLICKS)
    result = run(command, path, "-o", tmp_path / ("r.html" if command == "report" else "out.csv"))
    assert result.exit_code == 65 and not (tmp_path / "out.csv").exists()
    assert "this looks like a clickstream, not orders (column 'event': purchase, view)" in result.stderr
    assert "--purchase-event" in result.stderr


def test_orders_from_purchase_events(write):
    path = write("events.csv", CLICKS)
    result = run("profile", path, "--purchase-event", "purchase", "--per", "customer", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = {r["customer_id"]: (r["orders"], r["revenue"]) for r in csv_rows(result.stdout)}
    assert rows == {"u1": ("2", "1019.9"), "u2": ("1", "5.1")}  # u3 never bought
    assert "orders are the clickstream's 'purchase' events, amounts from 'price'" in result.stderr
    typo = run("profile", path, "--purchase-event", "buy")
    assert typo.exit_code == 65 and "no event named 'buy'" in typo.stderr and "include purchase, view" in typo.stderr
    orders = write("orders.csv", ORDERS)
    assert run("profile", orders, "--purchase-event", "purchase").exit_code == 2


# --- 8-10. churn numbers that must not mislead -------------------------------------------


def _auc_against_next(path, customers, start, days):
    from sklearn.metrics import roc_auc_score

    from userops.io.normalise import LoadOptions, load_orders

    loaded = load_orders([path], LoadOptions())
    orders = loaded.engine.frame("SELECT customer_id, order_ts FROM orders WHERE reason IS NULL")
    begin = pd.Timestamp(start)
    later = orders[(orders["order_ts"] >= begin) & (orders["order_ts"] < begin + pd.Timedelta(days=days))]
    lost = ~customers["customer_id"].isin(set(later["customer_id"]))
    return roc_auc_score(lost, customers["churn_probability"]), roc_auc_score(lost, customers["recency_days"])


def test_cdnow_fallback_ranks_at_least_as_well_as_recency(cdnow_path):
    """With 39 weeks of history there is no snapshot to train the risk model on. 1 − p_alive
    gave every one-time buyer 0 (ROC-AUC 0.32 against who really bought nothing in the next
    273 days); the fallback ranks by recency on BG/NBD's P(no purchase) scale."""
    result = run("churn", cdnow_path, "--as-of", "1997-09-30", "--horizon", "39w", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    customers = pd.read_csv(io.StringIO(result.stdout), dtype={"customer_id": str})
    ours, recency = _auc_against_next(cdnow_path, customers, "1997-10-01", 273)
    assert ours >= recency > 0.76
    assert "churn_probability: recency ranking, on the scale of BG/NBD's probability of no purchase within 273 days" in result.stderr
    one_timers = customers[(customers["frequency"] == 1) & (customers["risk_tier"] == "churned")]
    assert len(one_timers) > 1000 and (one_timers["churn_probability"] > 0.5).all() and (one_timers["value_at_risk"] > 0).all()
    report = run("churn", cdnow_path, "--as-of", "1997-09-30", "--horizon", "39w", "--model-report", "--format", "csv")
    rows = {(r["section"], r["metric"]): r for r in csv_rows(report.stdout)}
    assert rows[("risk_model", "churn_probability")]["detail"].startswith("recency ranking")


def test_cdnow_back_test_counts_only_customers_known_at_the_as_of_date(cdnow_path):
    result = run("churn", cdnow_path, "--as-of", "1997-02-28", "--horizon", "39w", "--model-report", "--format", "csv")
    rows = {(r["section"], r["metric"]): r for r in csv_rows(result.stdout)}
    assert rows[("bg_nbd", "actual_purchases")]["value"] == "1729"  # not the 3,266 of every customer


def test_probability_of_no_purchase_by_hand():
    """r = α = a = 1, b = 2. x = 0, T = 10, t = 5: alive for sure, P(0) = (11/16)^1.
    x = 2, t_x = 5, T = 10: d = a/(b+x−1)·((α+T)/(α+t_x))^(r+x) = (1/3)(11/6)^3;
    P(alive) = 1/(1+d); P(0) = 1 − P(alive) + P(alive)(11/16)^3."""
    from userops.analytics.clv import BetaGeoModel

    model = BetaGeoModel()
    model.params_ = {"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 2.0}
    summary = pd.DataFrame({"frequency": [0, 2], "recency": [0.0, 5.0], "T": [10.0, 10.0]})
    d = (1 / 3) * (11 / 6) ** 3
    alive = 1 / (1 + d)
    expected = [11 / 16, 1 - alive + alive * (11 / 16) ** 3]
    assert model.conditional_probability_of_no_purchase(5.0, summary).tolist() == pytest.approx(expected, rel=1e-12)
    assert not model.finds_no_dropout()
    model.params_ = {"r": 1.0, "alpha": 1.0, "a": 1e-6, "b": 2.0}
    assert model.finds_no_dropout()


def test_degenerate_fit_is_called_out(write):
    """300 customers who each buy every week up to the as-of date: nobody drops out, BG/NBD's
    a goes to 0, and the list says the model cannot tell who is leaving."""
    lines = ["customer_id,order_date,amount"]
    for c in range(300):
        first = c % 20
        lines += [f"C{c:03d},{(pd.Timestamp('2024-01-01') + pd.Timedelta(days=first + 7 * k)).date()},10" for k in range(30) if first + 7 * k <= 230]
    result = run("churn", write("steady.csv", "\n".join(lines) + "\n"), "--format", "csv", "--model", "bgnbd")
    assert result.exit_code == 0, result.stderr
    assert "warning: BG/NBD finds no dropout on this data" in result.stderr


def test_the_verdict_is_on_every_metric():
    from userops.analytics.churn_risk import compare_with_baseline

    base = {"roc_auc": 0.76, "pr_auc": 0.89, "precision_top_decile": 0.974}
    beats, text = compare_with_baseline({"roc_auc": 0.80, "pr_auc": 0.90, "precision_top_decile": 0.972}, base)
    assert not beats
    assert text == (
        "the model beats recency alone on ROC-AUC and PR-AUC but NOT on top-decile precision "
        "(ROC-AUC 0.800 vs 0.760; PR-AUC 0.900 vs 0.890; top-decile precision 97.2% vs 97.4%)"
    )
    beats, text = compare_with_baseline({"roc_auc": 0.80, "pr_auc": 0.90, "precision_top_decile": 0.98}, base)
    assert beats and text.startswith("the model beats recency alone on every metric")
    beats, text = compare_with_baseline({"roc_auc": 0.70, "pr_auc": 0.80, "precision_top_decile": 0.90}, base)
    assert not beats and text.endswith("it does not help here")


def test_recency_ranked_keeps_the_scale_and_recencys_order():
    import numpy as np

    from userops.analytics.churn import recency_ranked

    got = recency_ranked(np.array([5, 1, 5, 10]), np.array([0.2, 0.9, 0.4, 0.6]))
    assert got.tolist() == pytest.approx([0.5, 0.2, 0.5, 0.9])  # the two at 5 days share 0.4 and 0.6


# --- 11. the funnel trend's last periods are not final --------------------------------------


def test_funnel_trend_flags_periods_whose_window_has_not_elapsed(write):
    """As of Wed 2025-01-15 with a 2-day window: the week of 6 January is final (its last
    attempt's window closed on 14 January); the week of 13 January is not — u3's attempt on the
    14th may still convert until the 16th, and counted as a failure it reads as a drop."""
    path = write(
        "e.csv",
        "user_id,event,timestamp\n"
        "u1,a,2025-01-06 10:00\nu1,b,2025-01-06 11:00\nu2,a,2025-01-12 09:00\nu2,b,2025-01-13 09:00\n"
        "u3,a,2025-01-14 10:00\nu4,a,2025-01-15 08:00\nu4,b,2025-01-15 09:00\n",
    )
    result = run("funnel", path, "--steps", "a,b", "--window", "2d", "--trend", "week", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = [(r["period"], r["complete"], r["step"], r["users"]) for r in csv_rows(result.stdout)]
    assert rows == [
        ("2025-01-06", "true", "1", "2"), ("2025-01-06", "true", "2", "2"),
        ("2025-01-13", "false", "1", "2"), ("2025-01-13", "false", "2", "1"),
    ]


# --- 13. survival that starts at 1, p-values that are not 0 ----------------------------------


def test_cdnow_survival_starts_at_one_and_has_a_real_median(cdnow_path):
    result = run("churn", cdnow_path, "--as-of", "1997-09-30", "--survival", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    curve = pd.read_csv(io.StringIO(result.stdout))
    # churn threshold 124 days: nobody is lost before it (one-time buyers died at day 0, the
    # curve started at 0.40 and the median lifetime read "0 days")
    assert curve["survival"].iloc[0] == 1.0 and (curve.loc[curve["days"] < 124, "survival"] == 1.0).all()
    assert "median lifetime (all): 124 days (2,357 customers, 1,812 churned)" in result.stderr


def test_p_values_keep_their_size():
    from userops.analytics.survival import _significant
    from userops.render import formats

    assert _significant([2.2081e-8, 0.123456, 0.0]).tolist() == [2.208e-8, 0.1235, 0.0]
    assert formats.formatter_for("p_value", "float")(2.208e-8) == "2.2e-08"
    assert formats.formatter_for("ph_test_p", "float")(0.0312) == "0.0312"


# --- 14. the report shows people at risk and a funnel that makes sense -----------------------


def _clicks_without_steps():
    """Browsing is the most widespread (catalog, search, filter_results by everyone); the
    purchasers u1..u4 went home -> product_view -> cart -> purchase, in that order."""
    lines = ["user_id,event,timestamp"]
    for u in range(1, 11):
        lines += [f"v{u},catalog,2024-03-0{1 + u % 5} 09:00", f"v{u},search,2024-03-0{1 + u % 5} 09:01", f"v{u},filter_results,2024-03-0{1 + u % 5} 09:02"]
    for u in range(1, 5):
        day = f"2024-03-0{u}"
        lines += [f"u{u},catalog,{day} 08:00", f"u{u},home,{day} 10:00", f"u{u},product_view,{day} 10:05", f"u{u},cart,{day} 10:20", f"u{u},purchase,{day} 10:30"]
    return "\n".join(lines) + "\n"


def test_inferred_funnel_ends_at_a_purchase_in_the_order_users_move(write):
    from userops.analytics.funnel import infer_steps
    from userops.io.normalise import load_events

    loaded = load_events([write("e.csv", _clicks_without_steps())])
    steps, note = infer_steps(loaded, loaded.window(), max_steps=5)
    # catalog is done by every purchaser too, earliest: it leads; search/filter never precede a purchase
    assert steps == (("catalog",), ("home",), ("product_view",), ("cart",), ("purchase",))
    assert "the 4 purchasers did before 'purchase'" in note


def test_report_leaves_out_a_funnel_with_no_purchase_and_says_why(write, tmp_path):
    orders = write("o.csv", ORDERS)
    browsing = write("e.csv", "user_id,event,timestamp\nu1,catalog,2024-01-02 10:00\nu1,search,2024-01-02 10:01\nu2,catalog,2024-01-03 10:00\n")
    result = run("report", orders, "--events", browsing, "-o", tmp_path / "r.html")
    assert result.exit_code == 0, result.stderr
    assert "left out: Conversion funnel: no purchase-like event to end a funnel at (events: catalog, search)" in result.stderr


def test_report_says_when_events_and_orders_do_not_overlap(write, tmp_path):
    orders = write("o.csv", ORDERS)  # January to March 2024
    later = write("e.csv", "user_id,event,timestamp\nu1,view,2025-01-02 10:00\nu1,purchase,2025-01-02 10:05\n")
    result = run("report", orders, "--events", later, "-o", tmp_path / "r.html")
    assert result.exit_code == 0, result.stderr
    assert "the two files do not overlap in time" in result.stderr and "fewer than two kinds" not in result.stderr


def test_report_at_risk_table_lists_people_at_risk(examples_dir, tmp_path):
    from bs4 import BeautifulSoup

    out = tmp_path / "r.html"
    assert run("report", f"{examples_dir}/orders.csv", "-o", out, "-q").exit_code == 0
    soup = BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")
    tiers = [cells[-1].get_text(strip=True) for cells in (tr.find_all("td") for tr in soup.select("#churn table")[-1].select("tbody tr"))]
    assert tiers and set(tiers) <= {"high", "medium"} and tiers == sorted(tiers, key=["high", "medium"].index)
    # each tier's action once, under the list (not repeated on every row)
    notes = [li.get_text(strip=True) for li in soup.select("#churn ul.notes li")]
    assert [n.split(":")[0] for n in notes if n.split(":")[0] in tiers] == list(dict.fromkeys(tiers))


# --- 15. funnel semantics as PostHog's --------------------------------------------------------


def _funnel_rows(write, text, steps, *, window="1h", order="ordered", exclude=None, by=None, tz=None):
    from userops.analytics.funnel import FunnelSpec, funnel_table, parse_exclusions, parse_steps, parse_window
    from userops.io.normalise import LoadOptions, load_events

    loaded = load_events([write("f.csv", text)], LoadOptions(tz=tz), properties=(by,) if by else ())
    parsed = parse_steps(steps)
    spec = FunnelSpec(parsed, parse_window(window), order, parse_exclusions(exclude, len(parsed)))
    return funnel_table(loaded, loaded.window(), spec, by=by)


def test_conversion_window_is_an_absolute_duration_across_dst(write):
    """US/Pacific moved to daylight time on 10 March 2024. 10:00 PST on 1 March to 10:17 PDT on
    15 March is 14 days and 17 minutes on the wall clock but 13 days 23 h 17 min in real time:
    inside a 14-day window. 11:01 PDT is 14 days and 1 minute: outside."""
    text = (
        "user_id,event,timestamp\n"
        "u1,a,2024-03-01T18:00:00Z\nu1,b,2024-03-15T17:17:00Z\n"
        "u2,a,2024-03-01T18:00:00Z\nu2,b,2024-03-15T18:01:00Z\n"
    )
    assert _funnel_rows(write, text, "a,b", window="14d", tz="US/Pacific")["users"].tolist() == [2, 1]


def test_a_person_whose_furthest_attempt_is_excluded_leaves_the_funnel(write):
    """u1's furthest attempt (a, b, x, c: three steps) has x between steps 2 and 3: u1 is out
    entirely, though a later clean attempt reached step 2. u2's attempts both reach step 2, one
    with x before its window ended, one clean: the clean one counts."""
    text = (
        "user_id,event,timestamp\n"
        "u1,a,2025-01-01 10:00\nu1,b,2025-01-01 10:01\nu1,x,2025-01-01 10:02\nu1,c,2025-01-01 10:03\n"
        "u1,a,2025-01-01 12:00\nu1,b,2025-01-01 12:01\n"
        "u2,a,2025-01-01 10:00\nu2,b,2025-01-01 10:01\nu2,x,2025-01-01 10:02\n"
        "u2,a,2025-01-01 12:00\nu2,b,2025-01-01 12:01\n"
    )
    assert _funnel_rows(write, text, "a,b,c", exclude="x:2-3")["users"].tolist() == [1, 1, 0]


def test_first_touch_breakdown_is_the_first_non_empty_value(write):
    """u1's step-1 event has no channel, its step-2 event 'email': first touch is email (was
    '(none)'). u2's best attempt is its second, from 'ads'; its first event, 'web', is the touch."""
    text = (
        "user_id,event,timestamp,channel\n"
        "u1,a,2025-01-01 10:00,\nu1,b,2025-01-01 10:10,email\n"
        "u2,a,2025-01-01 09:00,web\nu2,a,2025-01-01 11:00,ads\nu2,b,2025-01-01 11:10,ads\n"
    )
    table = _funnel_rows(write, text, "a,b", by="channel")
    assert table[["channel", "step", "users"]].values.tolist() == [["email", 1, 1], ["email", 2, 1], ["web", 1, 1], ["web", 2, 1]]


def test_unordered_exclusion_resets_progress_and_later_steps_count(write):
    """Unordered a,b excluding x over the whole funnel. u1: b, x, a — the attempt from b is cut
    by x; a after x starts afresh (step 1). u2: a, b, x — complete before x. u3: a, x — its only
    attempt is cut short: not in the funnel."""
    text = (
        "user_id,event,timestamp\n"
        "u1,b,2025-01-01 10:00\nu1,x,2025-01-01 10:01\nu1,a,2025-01-01 10:02\n"
        "u2,a,2025-01-01 10:00\nu2,b,2025-01-01 10:01\nu2,x,2025-01-01 10:02\n"
        "u3,a,2025-01-01 10:00\nu3,x,2025-01-01 10:01\n"
    )
    assert _funnel_rows(write, text, "a,b", order="unordered", exclude="x")["users"].tolist() == [2, 1]
    assert _funnel_rows(write, text, "a,b", order="unordered")["users"].tolist() == [3, 2]
    with pytest.raises(UseropsError):
        _funnel_rows(write, text, "a,b,c", order="unordered", exclude="x:1-2")


def test_report_data_quality_says_how_the_export_was_read(shopify, tmp_path):
    out = tmp_path / "r.html"
    result = run("report", shopify, "--currency", "CNY", "-o", out)
    assert result.exit_code == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    for said in ("UTC offsets (+0800, -0500)", "net of refunds: 1 order less 50.00 refunded", "amounts in CNY only"):
        assert said in html
