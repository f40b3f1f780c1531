"""Reading real-world exports: encodings, delimiters, compressions, headers, ids, money, dates."""

import bz2
import datetime as dt
import gzip
import io
import lzma
import zipfile

import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.cli.app import app
from userops.errors import DataError, InputError, UsageError
from userops.io.normalise import LoadOptions, inspect_input, load_orders
from userops.io.readers import detect_encoding, open_source, sniff_delimiter
from userops.scan.customers import customer_aggregates
from userops.scan.load import REASON_BAD_AMOUNT, REASON_EXCLUDED_STATUS, REASON_NO_CUSTOMER, orders_frame


def orders_of(path_or_paths, **options):
    paths = path_or_paths if isinstance(path_or_paths, list) else [path_or_paths]
    loaded = load_orders(paths, LoadOptions(**options))
    return loaded, orders_frame(loaded.engine, loaded.window())


def test_gbk_chinese_export(write):
    text = (
        "订单编号,买家会员名,订单付款时间,买家实际支付金额,订单状态,宝贝数量\n"
        "100000000000000001,张三,2024-03-05 10:00:00,\"￥1,234.50\",交易成功,2\n"
        "100000000000000002,李四,2024年3月6日,88.00,交易成功,1\n"
        "100000000000000003,张三,2024-03-07 11:00:00,50.00,交易关闭,1\n"
    )
    path = write("淘宝订单.csv", text, encoding="gbk")
    loaded, orders = orders_of(path)
    assert loaded.infos[0].encoding == "gb18030"
    assert loaded.mappings[0].columns["user"] == "买家会员名"
    assert loaded.mappings[0].columns["amount"] == "买家实际支付金额"
    assert loaded.drops.excluded == {REASON_EXCLUDED_STATUS: 1}  # 交易关闭
    assert orders["order_id"].tolist() == ["100000000000000001", "100000000000000002"]  # exact, 18 digits
    assert orders["customer_id"].tolist() == ["张三", "李四"]
    assert orders["amount"].tolist() == [1234.5, 88.0]
    assert orders["order_ts"].tolist() == [pd.Timestamp("2024-03-05 10:00"), pd.Timestamp("2024-03-06")]


def test_semicolon_and_decimal_comma(write):
    path = write("eu.csv", "Kunde;customer_id;order_date;amount\nx;001;25.03.2024;1.234,50\ny;002;26.03.2024;12,5\n")
    loaded, orders = orders_of(path)
    assert loaded.infos[0].delimiter == ";"
    assert orders["amount"].tolist() == [1234.5, 12.5]  # decimal comma detected
    assert orders["order_ts"].dt.date.tolist() == [dt.date(2024, 3, 25), dt.date(2024, 3, 26)]
    # and forced with --decimal ,
    _, forced = orders_of(path, decimal=",")
    assert forced["amount"].tolist() == [1234.5, 12.5]


def test_shopify_export(write):
    text = (
        "Name,Email,Financial Status,Paid at,Created at,Total,Lineitem quantity,Lineitem price,Lineitem name,Id\n"
        "#1001,a@example.com,paid,2024-03-01 10:00:00 +0100,2024-03-01 10:00:00 +0100,59.00,1,29.00,Shirt,5001\n"
        "#1001,a@example.com,,,2024-03-01 10:00:00 +0100,,1,30.00,Pants,5001\n"
        "#1002,b@example.com,refunded,2024-03-02 10:00:00 +0100,2024-03-02 10:00:00 +0100,20.00,1,20.00,Hat,5002\n"
        "#1002,b@example.com,,,2024-03-02 10:00:00 +0100,,1,5.00,Socks,5002\n"
        "#1003,a@example.com,paid,2024-03-03 23:30:00 -0500,2024-03-03 23:30:00 -0500,10.00,1,10.00,Pin,5003\n"
    )
    loaded, orders = orders_of(write("orders_export.csv", text))
    m = loaded.mappings[0].columns
    assert (m["user"], m["order"], m["time"], m["amount"], m["status"]) == ("Email", "Name", "Created at", "Total", "Financial Status")
    # the order total is on the first line only: the order amount is that total, not a sum
    assert orders["amount"].tolist() == [59.0, 10.0]
    # by default the shop's own wall-clock time, as written; converted with --tz
    assert orders["order_ts"].tolist() == [pd.Timestamp("2024-03-01 10:00"), pd.Timestamp("2024-03-03 23:30")]
    assert loaded.notes == ("timestamps carry UTC offsets (+0100, -0500); they are read as the export's own local time (--tz ZONE converts them)",)
    _, in_utc = orders_of(write("orders_export.csv", text), tz="UTC")
    assert in_utc["order_ts"].tolist() == [pd.Timestamp("2024-03-01 09:00"), pd.Timestamp("2024-03-04 04:30")]
    # the refund status on #1002's first line excludes its second line too
    assert loaded.drops.excluded == {REASON_EXCLUDED_STATUS: 2}
    assert loaded.drops.dropped == {}


def test_timezone_flag(write):
    path = write("tz.csv", "customer_id,order_date,amount\n1,2024-03-05T12:00:00Z,1\n2,2024-03-05 12:00:00,1\n")
    _, orders = orders_of(path, tz="Asia/Shanghai")
    # aware -> converted to Shanghai wall clock; naive stays as written
    assert orders["order_ts"].tolist() == [pd.Timestamp("2024-03-05 20:00"), pd.Timestamp("2024-03-05 12:00")]


def test_online_retail_layout(write):
    text = (
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
        "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom\n"
        "C536379,D,Discount,-1,12/1/2010 9:41,27.50,14527,United Kingdom\n"
        "536370,22728,ALARM CLOCK,24,12/1/2010 8:45,3.75,12583,France\n"
        "536414,22139,,56,12/1/2010 11:52,0,,United Kingdom\n"
    )
    loaded, orders = orders_of(write("Online Retail.csv", text))
    assert orders[["customer_id", "order_id", "amount", "lines"]].to_dict("records") == [
        {"customer_id": "12583", "order_id": "536370", "amount": 90.0, "lines": 1},  # 24 x 3.75
        {"customer_id": "17850", "order_id": "536365", "amount": pytest.approx(35.64), "lines": 2},  # 6x2.55 + 6x3.39
    ]
    assert orders["order_ts"].tolist() == [pd.Timestamp("2010-12-01 08:45"), pd.Timestamp("2010-12-01 08:26")]
    assert loaded.drops.excluded == {REASON_EXCLUDED_STATUS: 1}  # invoice C536379
    assert loaded.drops.dropped == {REASON_NO_CUSTOMER: 1}


def test_utf8_bom_and_leading_zero_ids(write):
    text = "\ufeffcustomer_id,order_id,order_date,amount\n00042,=\"000123\",2024-01-01,10\n'00043,1234567890123456789,2024-01-02,20\n"
    loaded, orders = orders_of(write("bom.csv", text))
    assert loaded.infos[0].encoding == "utf-8-sig"
    assert loaded.mappings[0].columns["user"] == "customer_id"  # the BOM is not part of the header
    assert orders["customer_id"].tolist() == ["00042", "00043"]
    assert orders["order_id"].tolist() == ["000123", "1234567890123456789"]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("$1,234.50", 1234.5),
        ("¥88", 88.0),
        ("(12.50)", None),  # a negative total: excluded as a refund
        ("USD 7.25", 7.25),
        ("1 000.00", 1000.0),
    ],
)
def test_money_strings(write, raw, expected):
    path = write("m.csv", f'customer_id,order_date,amount\n1,2024-01-01,"{raw}"\n2,2024-01-01,1\n')
    loaded, orders = orders_of(path)
    got = orders.loc[orders["customer_id"] == "1", "amount"].tolist()
    assert got == ([] if expected is None else [expected])


def test_unparseable_amount_is_counted(write):
    loaded, orders = orders_of(write("m.csv", "customer_id,order_date,amount\n1,2024-01-01,abc\n2,2024-01-01,5\n3,2024-01-02,\n"))
    assert loaded.drops.dropped[REASON_BAD_AMOUNT] == 1
    # a blank amount is not "unparseable": the order has no amount
    assert loaded.drops.dropped["orders without an amount"] == 1
    assert orders["customer_id"].tolist() == ["2"]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2024-03-05", "2024-03-05 00:00"),
        ("2024-03-05 14:30:00", "2024-03-05 14:30"),
        ("2024/03/05 14:30", "2024-03-05 14:30"),
        ("20240305", "2024-03-05 00:00"),
        ("2024年3月5日", "2024-03-05 00:00"),
        ("2024年3月5日 08:15:00", "2024-03-05 08:15"),
        ("1709632800", "2024-03-05 10:00"),  # epoch seconds
        ("1709632800000", "2024-03-05 10:00"),  # epoch milliseconds
        ("3/5/2024", "2024-03-05 00:00"),  # month first by default
        ("5 Mar 2024", "2024-03-05 00:00"),
    ],
)
def test_date_formats(write, raw, expected):
    _, orders = orders_of(write("d.csv", f"customer_id,order_date,amount\n1,{raw},1\n"))
    assert orders["order_ts"].tolist() == [pd.Timestamp(expected)]


def test_mixed_layouts_in_one_column(write):
    """Rows the first layout cannot read fall through to the others (padded, slashed, epoch, CJK)."""
    raw = "2024-03-05 10:00:00,1\n2,  2024/03/06 08:00 ,1\n3,1709632800,1\n4,2024年3月7日,1\n5, 3/8/2024,1\n6,not a date,1\n"
    loaded, orders = orders_of(write("m.csv", f"customer_id,order_date,amount\n1,{raw}"))
    assert orders.sort_values("customer_id")["order_ts"].tolist() == [
        pd.Timestamp(t) for t in ("2024-03-05 10:00", "2024-03-06 08:00", "2024-03-05 10:00", "2024-03-07", "2024-03-08")
    ]
    assert loaded.drops.dropped["unparseable dates"] == 1


def test_fallback_layouts_do_not_trim_every_value():
    """DuckDB hoists a sub-expression used twice (the fallbacks' trim()) and computes it for
    every row; the fallbacks sit in a CASE so that only rows the first layout misses pay."""
    import json

    import duckdb

    from userops.scan.sql import timestamp_expr

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('2024-03-05'), (' 3/5/2024 ')) v(d)")
    expr = timestamp_expr("d", "VARCHAR", order=["iso", "mdy", "other", "epoch"])
    plan = json.loads(con.execute(f"EXPLAIN (FORMAT JSON) SELECT max({expr}) FROM t").fetchall()[0][1])

    def projections(node):
        yield from node.get("extra_info", {}).get("Projections", []) if node.get("name") == "PROJECTION" else []
        for child in node.get("children", []):
            yield from projections(child)

    assert not [p for node in plan for p in projections(node) if "trim" in p]
    assert con.execute(f"SELECT {expr} FROM t ORDER BY 1").fetchall() == [(dt.datetime(2024, 3, 5),)] * 2


def test_dayfirst_detected_and_forced(write):
    detected = write("d1.csv", "customer_id,order_date,amount\n1,25/03/2024,1\n2,03/04/2024,1\n")
    _, orders = orders_of(detected)
    assert orders["order_ts"].dt.date.tolist() == [dt.date(2024, 3, 25), dt.date(2024, 4, 3)]
    ambiguous = write("d2.csv", "customer_id,order_date,amount\n1,03/04/2024,1\n")
    _, us = orders_of(ambiguous)
    _, eu = orders_of(ambiguous, dayfirst=True)
    assert us["order_ts"].dt.date.tolist() == [dt.date(2024, 3, 4)]
    assert eu["order_ts"].dt.date.tolist() == [dt.date(2024, 4, 3)]


def test_compressed_inputs(tmp_path):
    text = b"customer_id,order_date,amount\n1,2024-01-01,5\n2,2024-01-02,7\n"
    files = {
        "o.csv.gz": gzip.compress(text),
        "o.csv.bz2": bz2.compress(text),
        "o.csv.xz": lzma.compress(text),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("export/orders.csv", text)
    files["o.zip"] = buf.getvalue()
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        _, orders = orders_of(str(path))
        assert orders["amount"].tolist() == [5.0, 7.0], name


def test_stdin_parquet_xlsx_jsonl(tmp_path):
    frame = pd.DataFrame({"customer_id": ["007", "008"], "order_date": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 00:00"]), "amount": [5.0, 7.5]})
    pq = tmp_path / "o.parquet"
    frame.to_parquet(pq)
    _, orders = orders_of(str(pq))
    assert orders["customer_id"].tolist() == ["007", "008"] and orders["amount"].tolist() == [5.0, 7.5]

    xlsx = tmp_path / "o.xlsx"
    frame.assign(customer_id=["007", "008"]).to_excel(xlsx, index=False)
    _, orders = orders_of(str(xlsx))
    assert orders["customer_id"].tolist() == ["007", "008"]
    assert orders["order_ts"].tolist() == [pd.Timestamp("2024-01-01 10:00"), pd.Timestamp("2024-01-02")]

    jsonl = tmp_path / "o.jsonl"
    jsonl.write_text('{"customer_id": "007", "order_date": "2024-01-01", "amount": 5}\n{"customer_id": "008", "order_date": "2024-01-02", "amount": 7.5}\n')
    _, orders = orders_of(str(jsonl))
    assert orders["amount"].tolist() == [5.0, 7.5]

    loaded = load_orders(["-"], stdin=io.BytesIO(b"customer_id,order_date,amount\n1,2024-01-01,5\n"))
    assert loaded.n_orders == 1
    loaded = load_orders(["-"], stdin=io.BytesIO(gzip.compress(b"customer_id\tdate\tamount\n1\t2024-01-01\t5\n")))
    assert loaded.n_orders == 1 and loaded.infos[0].delimiter == "\t"


def test_multiple_inputs_are_combined(write):
    a = write("a.csv", "customer_id,order_date,amount\n1,2024-01-01,5\n")
    b = write("b.csv", "user_id;date;total\n1;2024-02-01;7\n")
    _, orders = orders_of([a, b])
    assert orders["amount"].tolist() == [5.0, 7.0]


def test_no_order_id_each_row_is_an_order(cdnow_path):
    loaded, orders = orders_of(cdnow_path)
    # CDNOW: 6,919 rows, no order id: every row is a purchase; ids keep their leading zeros
    assert len(orders) == 6919
    assert orders["customer_id"].nunique() == 2357
    assert orders["customer_id"].iloc[0] == "00004"
    assert orders["amount"].sum() == pytest.approx(pd.read_csv(cdnow_path)["amount"].sum())


def test_sniffers():
    assert detect_encoding("a,b\n中文".encode("gbk")) == "gb18030"
    assert detect_encoding("a,b\n中文".encode("utf-8")[:-1]) == "utf-8"  # cut mid-character
    assert detect_encoding(b"\xef\xbb\xbfa,b") == "utf-8-sig"
    assert sniff_delimiter("a|b|c\n1|2|3\n") == "|"
    assert sniff_delimiter("a;b\n1,5;2\n3,5;4\n") == ";"
    assert sniff_delimiter("a\tb\tc,d\n1\t2\t3,4\n") == "\t"


def test_errors(write, tmp_path):
    with pytest.raises(InputError):
        open_source(str(tmp_path / "missing.csv"))
    with pytest.raises(DataError, match="empty"):
        load_orders([write("e.csv", "")])
    with pytest.raises(DataError, match="no data rows|no usable"):
        load_orders([write("h.csv", "customer_id,order_date,amount\n")])
    with pytest.raises(DataError, match=r"no customer column \(found: Total, When\).*--user-col"):
        load_orders([write("n.csv", "Total,When\n5,2024-01-01\n")])
    with pytest.raises(DataError, match="several columns could be the user column: customer_id, user_id"):
        load_orders([write("amb.csv", "customer_id,user_id,order_date\n1,2,2024-01-01\n")])
    with pytest.raises(UsageError, match="--amount-col names 'Price'"):
        load_orders([write("o.csv", "customer_id,order_date\n1,2024-01-01\n")], LoadOptions(columns={"amount": "Price"}))
    with pytest.raises(DataError, match="no usable purchases"):
        load_orders([write("bad.csv", "customer_id,order_date,amount\n1,nope,5\n")])
    # not text (a binary, or UTF-16 without its BOM), and a header the csv module cannot split
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\n" * 50)
    with pytest.raises(DataError, match="not a text file"):
        load_orders([str(binary)])
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes("customer_id,order_date,amount\n1,2024-01-01,5\n".encode("utf-16-le"))
    with pytest.raises(DataError, match="not a text file.*utf-16le"):
        load_orders([str(utf16)])
    assert load_orders([str(utf16)], LoadOptions(encoding="utf-16le")).n_orders == 1
    with pytest.raises(DataError, match="cannot read the header row"):
        load_orders([write("cr.csv", "customer_id,order\rdate,amount\n1,2024-01-01,5\n")])


def test_override_wins_over_alias(write):
    path = write("o.csv", "customer_id,buyer,order_date,amount\n1,x,2024-01-01,5\n")
    _, orders = orders_of(path, columns={"user": "buyer"})
    assert orders["customer_id"].tolist() == ["x"]


def test_strict_names_line_and_column(write):
    path = write("s.csv", "customer_id,order_date,amount\n1,2024-01-01,5\n2,2024-13-45,5\n3,2024-01-03,5\n")
    with pytest.raises(DataError) as info:
        load_orders([path], LoadOptions(strict=True))
    err = info.value
    assert (err.row, err.column) == (3, "order_date")
    assert "'2024-13-45'" in str(err) and "--strict" in str(err)


def test_inspect(write):
    result = inspect_input(write("o.csv", "customer_id,order_date,amount,notes\n1,2024-01-01,5,x\n2,2024-02-01,,\n"))
    assert result.rows == 2
    assert result.first_ts == dt.datetime(2024, 1, 1) and result.last_ts == dt.datetime(2024, 2, 1)
    cols = result.columns.set_index("column")
    assert cols.loc["customer_id", "role"] == "user"
    assert cols.loc["amount", "non_blank"] == 1
    assert cols.loc["notes", "role"] is None


def test_inspect_says_what_the_values_read_as(write):
    """Each column's type from what its values read as (not the CSV's VARCHAR): numbers with
    a leading zero are ids (text), money needs a currency sign or separators somewhere, the
    timestamp layout is the one most values take (day first here), and one bad value in 20
    (95% read) keeps the type."""
    header = "order_id,customer_id,placed,qty,price,total,paid,flag,note,empty\n"
    rows = [
        f"{1000 + i},{i:05d},{(i % 28) + 1:02d}/03/2024 10:{i:02d},{i % 4 + 1},{i}.25,\"$1,{i:03d}.50\",{1700000000 + i},{'true' if i % 2 else 'false'},hello {i},\n"
        for i in range(19)
    ]
    rows.append("1019,00019,31/03/2024 11:00,n/a,19.25,\"$1,019.50\",1700000019,false,x,\n")
    result = inspect_input(write("typed.csv", header + "".join(rows)), LoadOptions(dayfirst=True))
    cols = result.columns.set_index("column")
    assert cols["type"].to_dict() == {
        "order_id": "integer", "customer_id": "text", "placed": "timestamp %d/%m/%Y %H:%M", "qty": "integer",
        "price": "decimal", "total": "money", "paid": "integer", "flag": "boolean", "note": "text", "empty": "empty",
    }
    assert (cols["stored_as"] == "VARCHAR").all()
    assert (cols["distinct_approx"] <= cols["non_blank"]).all()
    assert cols.loc["empty", "non_blank"] == 0


def test_id_fast_path_equals_full_cleaning():
    """The fast path (first/last character by code point) gives what unwrapping and trimming
    every id gives, on padded, guarded, CR LF, combining-mark and CJK ids."""
    import duckdb

    from userops.scan.sql import id_expr

    values = ["C1", " C1", "C1 ", "C1\t", "\tC1", "C1\r\n", '="012"', "'012", "", "  ", "e\u0301 ", "e\u0301", "客户1", "客户1 ", None, "a b", "x\n"]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
    full = "NULLIF(trim(CASE WHEN starts_with(v, '=\"') AND ends_with(v, '\"') THEN v[3:-2] WHEN starts_with(v, '''') THEN v[2:] ELSE v END), '')"
    rows = con.execute(f"SELECT v, {id_expr('v', 'VARCHAR')} AS fast, {full} AS slow FROM t").fetchall()
    assert len(rows) == len(values) and all(fast == slow for _, fast, slow in rows)
    assert dict((v, fast) for v, fast, _ in rows)['="012"'] == "012"


def test_ids_grouped_as_written_are_cleaned_when_one_past_the_sample_needs_it(write):
    """Ids are grouped as written when a sample shows them clean; a padded or Excel-guarded id
    after the sample makes the build run again on cleaned ids: the same orders as if every id
    had been cleaned from the start (the padded line joins its order, a blank id is dropped)."""
    rows = ["order_id,customer_id,order_date,amount"]
    rows += [f"o{i},c{i % 50},2024-01-{1 + i % 28:02d},10" for i in range(2500)]
    rows += ["o7,  c7 ,2024-01-08,5", '="o9",c9,2024-01-10,1', "o9999,   ,2024-02-01,3"]
    loaded = load_orders([write("late_padding.csv", "\n".join(rows) + "\n")])
    window = loaded.window("2024-03-01")
    customers = customer_aggregates(loaded, window, period=None, detail=False).set_index("customer_id")
    assert len(customers) == 50 and not any(c != c.strip() for c in customers.index)
    assert (customers.loc["c7", "orders"], customers.loc["c7", "revenue"]) == (50, 505.0)  # o7 is one order of 10 + 5
    assert (customers.loc["c9", "orders"], customers.loc["c9", "revenue"]) == (50, 501.0)
    assert loaded.drops_for(window).dropped == {"without customer id": 1}


def test_csv_columns_are_declared_whatever_their_names(write):
    """CSV views declare every column (no sniffing on each query): names with quotes, spaces
    and CJK characters read and carry through as written."""
    path = write("odd.csv", "customer_id,order_date,amount,it's,客户 备注\nA1,2024-01-02,10,x,甲\nA2,2024-01-03,20,y,乙\n")
    result = CliRunner().invoke(app, ["segment", path, "--keep", "it's,客户 备注", "--format", "csv"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout), dtype=str)
    assert table[["customer_id", "it's", "客户 备注"]].values.tolist() == [["A1", "x", "甲"], ["A2", "y", "乙"]]
