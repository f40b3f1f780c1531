"""report: one self-contained file whose numbers are the commands' numbers; hostile names stay
text; absent data leaves a section out with a reason; a real browser loads it cleanly."""

import json
import os
import re

import pytest
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from userops.cli.app import app
from userops.io.normalise import load_orders
from userops.report.model import last_complete_period

AS_OF = "2025-06-30"  # a Monday: the last complete week is 2025-06-23 .. 06-29


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def as_json(*args):
    result = run(*args, "--format", "json", "--quiet")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def number(text):
    return float(re.sub(r"[^0-9.\-]", "", text))


@pytest.fixture(scope="module")
def example_report(examples_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "weekly-{as_of}.html"
    orders, events = f"{examples_dir}/orders.csv", f"{examples_dir}/events.csv"
    result = run("report", orders, "--events", events, "-o", str(out), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    path = str(out).replace("{as_of}", AS_OF)
    with open(path, encoding="utf-8") as fh:
        html = fh.read()
    return orders, events, path, html, BeautifulSoup(html, "html.parser")


def test_last_complete_period():
    import datetime as dt

    assert last_complete_period(dt.date(2025, 6, 30), "week") == (dt.date(2025, 6, 23), dt.date(2025, 6, 29))
    assert last_complete_period(dt.date(2025, 6, 29), "week") == (dt.date(2025, 6, 23), dt.date(2025, 6, 29))
    assert last_complete_period(dt.date(2025, 6, 30), "month") == (dt.date(2025, 6, 1), dt.date(2025, 6, 30))
    assert last_complete_period(dt.date(2025, 6, 15), "month") == (dt.date(2025, 5, 1), dt.date(2025, 5, 31))


def test_one_self_contained_file(example_report):
    *_, path, html, soup = example_report
    assert os.path.getsize(path) < 5_000_000
    assert "http://" not in html and "https://" not in html  # nothing to fetch, not even a namespace
    for tag in soup.find_all(src=True) + soup.find_all(href=True):
        pytest.fail(f"external reference in {tag}")
    assert "@import" not in html and not soup.find_all("script") and not soup.find_all("link")
    assert len(soup.select("svg.chart")) >= 6  # trends x2, segments, funnel x2, survival
    assert {s["id"] for s in soup.select("section")} >= {"kpis", "trends", "segments", "retention", "funnel", "churn", "quality"}


def kpi(soup, key):
    return soup.select_one(f'div.card[data-kpi="{key}"] .value').get_text(strip=True)


def test_kpis_equal_profile(example_report):
    orders, _, _, _, soup = example_report
    week = as_json("profile", orders, "--as-of", "2025-06-29", "--from", "2025-06-23")[0]
    to_date = as_json("profile", orders, "--as-of", "2025-06-29")[0]
    assert number(kpi(soup, "active_customers")) == week["customers"]
    assert number(kpi(soup, "orders")) == week["orders"]
    assert number(kpi(soup, "revenue")) == pytest.approx(week["revenue"])
    assert number(kpi(soup, "aov")) == pytest.approx(week["aov"])
    assert number(kpi(soup, "customers")) == to_date["customers"]
    assert number(kpi(soup, "repeat_rate")) == pytest.approx(to_date["repeat_rate"] * 100, abs=0.05)
    previous = as_json("profile", orders, "--as-of", "2025-06-22", "--from", "2025-06-16")[0]
    change = soup.select_one('div.card[data-kpi="orders"] .change').get_text(strip=True)
    assert f"{(week['orders'] - previous['orders']) / previous['orders'] * 100:+.1f}%" in change


def rows(section):
    return [[td.get_text(strip=True) for td in tr.find_all("td")] for tr in section.select("tbody tr")]


def test_sections_equal_segment_funnel_retention_churn(example_report):
    orders, events, _, _, soup = example_report
    summary = {r["segment"]: r for r in as_json("segment", orders, "--summary", "--as-of", AS_OF)}
    shown = rows(soup.select_one("#segments table"))
    assert shown and all(number(r[1]) == summary[r[0]]["customers"] for r in shown)

    steps = [r[1] for r in rows(soup.select_one("#funnel table"))]
    assert steps == ["home", "product_view", "add_to_cart", "checkout", "purchase"]  # inferred: most widespread first
    funnel = as_json("funnel", events, "--steps", ",".join(steps), "--as-of", AS_OF)
    assert [number(r[2]) for r in rows(soup.select_one("#funnel table"))] == [s["users"] for s in funnel]

    matrix = {r["cohort"]: r for r in as_json("retention", orders, "--values", "percent", "--as-of", AS_OF)}
    for r in rows(soup.select_one("#retention table")):
        cohort = matrix[f"{r[0]}-01"]
        assert number(r[1]) == cohort["size"]
        for k, cell in enumerate(r[2:]):
            value = cohort.get(f"period_{k}")
            assert (cell == "") == (value is None)
            if cell:
                assert number(cell) == pytest.approx(value * 100, abs=0.5)

    # LTV by acquisition channel: the average rows of `ltv --by channel`, after 1, 3, 6, 12 months
    averages = {r["channel"]: r for r in as_json("ltv", orders, "--by", "channel", "--as-of", AS_OF) if r["cohort"] == "average"}
    shown = rows(soup.select_one("#ltv table"))
    assert [r[0] for r in shown] == sorted(averages, key=lambda c: -averages[c]["customers"])
    for r in shown:
        assert number(r[1]) == averages[r[0]]["customers"]
        assert [number(v) for v in r[2:]] == pytest.approx([averages[r[0]][f"period_{m - 1}"] for m in (1, 3, 6, 12)])

    # the customers at risk: high tier, then medium, each by value at risk (not the low-risk
    # big spenders that lead the whole list)
    churn = (as_json("churn", orders, "--tier", "high", "--as-of", AS_OF) + as_json("churn", orders, "--tier", "medium", "--as-of", AS_OF))[:15]
    assert {c["risk_tier"] for c in churn} <= {"high", "medium"}
    top = rows(soup.select("#churn table")[-1])
    assert [r[0] for r in top] == [c["customer_id"] for c in churn]
    assert [number(r[5]) for r in top] == pytest.approx([c["value_at_risk"] for c in churn])


def test_churn_section_draws_the_back_test_that_chose_the_model(examples_dir):
    """The default --model auto back-tests the models; the report draws what
    `churn --calibration frequency|weekly` writes."""
    import dataclasses

    from userops.report.model import build_report_model

    loaded = load_orders([f"{examples_dir}/orders.csv"])
    model = build_report_model(loaded, loaded.window(AS_OF))
    churn = next(s for s in model.sections if s.key == "churn")
    assert "BG/NBD was chosen on a back-test" in churn.intro
    frequency, weekly = (dataclasses.asdict(c) for c in churn.charts[1:3])
    table = as_json("churn", f"{examples_dir}/orders.csv", "--calibration", "frequency", "--as-of", AS_OF)
    assert frequency["x_labels"] == [r["calibration_frequency"] for r in table]
    assert dict(frequency["series"])["Actual"] == [r["actual_mean_purchases"] for r in table]
    assert dict(frequency["series"])["Pareto/NBD"] == [r["pareto_mean_purchases"] for r in table]
    tracking = as_json("churn", f"{examples_dir}/orders.csv", "--calibration", "weekly", "--as-of", AS_OF)
    assert dict(weekly["series"])["MBG/NBD"] == [r["mbgnbd_cumulative_purchases"] for r in tracking]


def test_report_model_option_skips_the_back_test(examples_dir, tmp_path):
    out = tmp_path / "r.html"
    result = run("report", f"{examples_dir}/orders.csv", "--model", "mbgnbd", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    churn = BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser").select_one("#churn")
    assert "(MBG/NBD + Gamma–Gamma)" in churn.get_text() and "back-test" not in churn.get_text()
    assert len(churn.select("figure")) == 1  # the survival curves only
    assert run("report", f"{examples_dir}/orders.csv", "--model", "gamma", "-o", out).exit_code == 2


def test_bridge_section_is_the_last_complete_weeks_row(examples_dir):
    import dataclasses

    from userops.report.model import build_report_model

    loaded = load_orders([f"{examples_dir}/orders.csv"])
    model = build_report_model(loaded, loaded.window(AS_OF))
    bridge = next(s for s in model.sections if s.key == "bridge")
    chart = dataclasses.asdict(bridge.charts[0])
    rows = {r["period"]: r for r in as_json("profile", f"{examples_dir}/orders.csv", "--bridge", "--period", "week", "--as-of", AS_OF)}
    row = rows["2025-06-23"]  # the week that ended on the as-of date, a Monday-to-Sunday week
    parts = [row[k] for k in ("new", "reactivated", "expansion", "contraction", "lost")]
    assert chart["kind"] == "waterfall" and chart["values"] == [row["previous_revenue"], *parts, row["revenue"]]
    assert round(chart["values"][0] + sum(parts), 2) == chart["values"][-1]
    assert "2025-06-23" in bridge.intro and f"{row['new_customers']} customers" in bridge.intro


def test_migration_section_is_the_weeks_migration_table(examples_dir):
    from userops.report.model import build_report_model

    loaded = load_orders([f"{examples_dir}/orders.csv"])
    model = build_report_model(loaded, loaded.window(AS_OF))
    section = next(s for s in model.sections if s.key == "migration")
    view = section.tables[0]
    # the last complete week ended on 2025-06-29; the one before on 2025-06-22
    table = as_json("segment", f"{examples_dir}/orders.csv", "--since", "2025-06-22", "--as-of", "2025-06-29")
    cells = {(r["from_segment"], r["to_segment"]): r["customers"] for r in table}
    targets = view.columns[2:]
    for row in view.rows:
        for target, cell in zip(targets, row[2:]):
            assert (number(cell) if cell else None) == cells.get((row[0], target))
    moves = sorted(((n, a, b) for (a, b), n in cells.items() if a != b and a != "(new)"), key=lambda m: (-m[0], m[1], m[2]))[:3]
    assert all(f"{n} from {a} to {b}" in section.intro for n, a, b in moves)


def test_quality_note_says_what_was_dropped_and_chosen(example_report):
    *_, soup = example_report
    text = soup.select_one("#quality").get_text(" ", strip=True)
    assert "140 without customer id" in text and "754 cancelled/refunded/unpaid status" in text
    assert AS_OF in text and "churn threshold: 127 days" in text and "user = customer_id" in text


HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>']


def test_hostile_names_are_text(write, tmp_path):
    lines = ["order_id,customer_id,order_date,amount,category,channel"]
    for i in range(60):
        who = HOSTILE[i % 2] + str(i % 7)
        lines.append(f'O{i},"{who.replace(chr(34), chr(34) * 2)}",2024-{1 + i % 12:02d}-{1 + i % 27:02d},{10 + i},"{HOSTILE[i % 2].replace(chr(34), chr(34) * 2)}","{HOSTILE[1 - i % 2].replace(chr(34), chr(34) * 2)}"')
    orders = write("orders.csv", "\n".join(lines) + "\n")
    ev = ["user_id,event,timestamp"]
    for i in range(40):
        ev.append(f'u{i},"{HOSTILE[0]}",2024-03-{1 + i % 20:02d} 10:00:00')
        ev.append(f'u{i},"{HOSTILE[1].replace(chr(34), chr(34) * 2)}",2024-03-{1 + i % 20:02d} 10:05:00')
    events = write("events.csv", "\n".join(ev) + "\n")
    (tmp_path / "userops.toml").write_text('[playbook]\n"Hibernating" = "<script>alert(2)</script>"\n', encoding="utf-8")
    out = tmp_path / "r.html"
    result = run("report", orders, "--events", events, "-o", out)
    assert result.exit_code == 0, result.output
    soup = BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")
    assert not soup.find_all("script") and not soup.find_all("img")
    assert not [t for t in soup.find_all(True) if any(a.startswith("on") for a in t.attrs)]
    text = soup.get_text(" ")
    assert "<script>alert(1)</script>" in text  # shown as text (an event name in the funnel)
    assert '"><img src=x onerror=alert(1)>' in text


def test_absent_data_leaves_sections_out_with_a_reason(small_orders, tmp_path):
    out = tmp_path / "r.html"
    result = run("report", small_orders, "-o", out)
    assert result.exit_code == 0, result.output
    soup = BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")
    skipped = soup.select_one("ul.skipped").get_text(" ", strip=True)
    assert "No events file" in skipped
    assert "left out: Conversion funnel" in result.stderr
    assert soup.select_one("#kpis") is not None


def test_chinese_labels(examples_dir, tmp_path):
    out = tmp_path / "zh.html"
    result = run("report", f"{examples_dir}/orders.csv", "-o", out, "--lang", "zh", "--period", "month", "--quiet")
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert 'lang="zh-CN"' in html and "核心指标" in html and "重要价值客户" in html  # cn8 segments in Chinese


def test_errors(examples_dir, tmp_path):
    orders = f"{examples_dir}/orders.csv"
    assert run("report", orders).exit_code == 2  # no -o
    assert run("report", orders, "-o", tmp_path / "r.html", "--format", "csv").exit_code == 2
    assert run("report", orders, "-o", tmp_path / "r.html", "--lang", "fr").exit_code == 2
    assert run("report", orders, "-o", tmp_path / "missing" / "r.html").exit_code == 73
    assert run("report", orders, "-o", orders).exit_code == 73  # never over an input
    assert not list(tmp_path.glob(".userops-*"))  # no half-written file left behind


@pytest.mark.browser
def test_browser_loads_it_offline_without_errors(example_report, tmp_path):
    from playwright.sync_api import sync_playwright

    *_, path, _, _ = example_report
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("USEROPS_CHROMIUM", "/usr/bin/chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        errors, outside = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else (outside.append(route.request.url), route.abort()))
        page.goto(f"file://{path}")
        sizes = page.eval_on_selector_all("svg.chart", "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })")
        page.emulate_media(media="print")
        printed = page.eval_on_selector_all("svg.chart", "els => els.filter(e => e.getBoundingClientRect().width > 0).length")
        browser.close()
    assert errors == [] and outside == []
    assert len(sizes) >= 6 and all(w > 100 and h > 50 for w, h in sizes)
    assert printed == len(sizes)


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_reads_on_a_screen_a_phone_and_paper(examples_dir, tmp_path, lang):
    """In Chromium: at 1280 px and at 390 px no element is wider than the page (tables and
    charts scroll inside their box), chart text is drawn at 11 px or more and no two chart
    labels overlap; printed on A4 the example report takes at most 4 pages, and the first
    page is not left half empty by a block pushed to the next."""
    from report_layout import chromium, look

    out = tmp_path / "r.html"
    result = run("report", f"{examples_dir}/orders.csv", "--events", f"{examples_dir}/events.csv", "-o", out, "--as-of", AS_OF, "--lang", lang, "-q")
    assert result.exit_code == 0, result.output
    playwright, browser = chromium()
    try:
        seen = look(browser, str(out), str(tmp_path))
    finally:
        browser.close()
        playwright.stop()
    for measured in (seen.screen, seen.phone):
        assert measured["scrollWidth"] <= measured["viewport"] and measured["wide"] == []
        assert measured["fonts"] and min(measured["fonts"]) >= 11
        assert measured["overlaps"] == []
    assert 1 <= seen.pages <= 4
    assert seen.first_page_filled > 0.5
    assert (tmp_path / "report_390.png").stat().st_size > 50_000


def test_shipped_config_example_applies(examples_dir, tmp_path):
    out = tmp_path / "weekly-{as_of}.html"
    result = run("report", f"{examples_dir}/orders.csv", "--events", f"{examples_dir}/events.csv", "--config", f"{examples_dir}/userops.toml", "-o", out, "--quiet")
    assert result.exit_code == 0, result.output
    html = (tmp_path / f"weekly-{AS_OF}.html").read_text(encoding="utf-8")
    assert "Weekly user operations" in html and "within 7d" in html


def test_view_model_golden(examples_dir, update_golden):
    """The report's view-model (every string and chart value it shows) as golden JSON."""
    import dataclasses
    import pathlib

    from userops.io.normalise import load_events, load_orders
    from userops.report.model import build_report_model

    loaded = load_orders([f"{examples_dir}/orders.csv"])
    events = load_events([f"{examples_dir}/events.csv"])
    model = build_report_model(loaded, loaded.window(AS_OF), events=events, inputs=["orders.csv", "events.csv"])
    text = json.dumps(dataclasses.asdict(model), ensure_ascii=False, indent=1, default=str) + "\n"
    golden = pathlib.Path(__file__).parent / "golden" / "report_model_examples.json"
    if update_golden:
        golden.write_text(text, encoding="utf-8")
    assert golden.read_text(encoding="utf-8") == text


def test_stale_data_is_called_out(examples_dir, tmp_path):
    out = tmp_path / "r.html"
    result = run("report", f"{examples_dir}/orders.csv", "-o", out, "--as-of", "2025-09-30", "--quiet")
    assert result.exit_code == 0, result.output
    soup = BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")
    assert "The data ends on 2025-06-30, 92 days before the as-of date" in soup.select_one("#kpis .intro").get_text()
    assert kpi(soup, "orders") == "0" and kpi(soup, "revenue") == "—"


def test_report_to_stdout(small_orders):
    result = run("report", small_orders, "-o", "-", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!DOCTYPE html>") and result.stdout.rstrip().endswith("</html>")


def test_period_start():
    import datetime as dt

    from userops.analytics.periods import period_start

    day = dt.date(2025, 8, 14)  # a Thursday
    assert [period_start(day, p) for p in ("day", "week", "month", "quarter", "year")] == [
        day, dt.date(2025, 8, 11), dt.date(2025, 8, 1), dt.date(2025, 7, 1), dt.date(2025, 1, 1)
    ]


def test_misspelt_funnel_step_is_noted_in_the_report(examples_dir, tmp_path):
    out = tmp_path / "r.html"
    result = run("report", f"{examples_dir}/orders.csv", "--events", f"{examples_dir}/events.csv", "--steps", "home,Nope", "-o", out)
    assert result.exit_code == 0, result.stderr
    text = BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser").get_text(" ")
    assert "no event named 'Nope' in the data" in text
    assert "userops: warning: no event named 'Nope' in the data" in result.stderr  # cron mails it


def test_churn_failing_on_its_model_thread_leaves_only_churn_out(write, tmp_path):
    """The churn models run on threads beside the other sections: a model's DataError there
    leaves the churn section out with its reason, after the other sections, like before."""
    rows = "customer_id,order_id,order_date,amount\n" + "".join(f"C1,O{i},2025-0{m}-1{i},{10 + i}.00\n" for i, m in enumerate([1, 2, 3, 4, 5, 6]))
    path = write("one_customer.csv", rows)
    out = tmp_path / "r.html"
    result = run("report", path, "-o", out, "--as-of", "2025-06-30")
    assert result.exit_code == 0, result.output
    soup = BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")
    skipped = soup.select_one("ul.skipped").get_text(" ", strip=True)
    assert "too little history to fit the purchase models: 1 customer (needs 100); 1 repeat buyer (needs 20)" in skipped
    assert skipped.index("Conversion funnel") < skipped.index("purchase models")  # churn's reason comes last
    assert soup.select_one("#churn") is None and soup.select_one("#kpis") is not None


def test_without_amounts_no_flat_revenue_chart_and_chinese_rfm10(write, tmp_path):
    """Orders without amounts: the trends leave out the revenue line (it would be flat at 0),
    and the Chinese report shows the R×F grid in Chinese where the 8 classes need amounts."""
    rows = "customer_id,order_date\n" + "".join(
        f"C{c:03d},2025-{1 + (c * k) % 6:02d}-{1 + (c + k) % 27:02d}\n" for c in range(60) for k in range(1 + c % 4)
    )
    path = write("no_amounts.csv", rows)
    out = tmp_path / "r.html"
    result = run("report", path, "-o", out, "--lang", "zh", "-q")
    assert result.exit_code == 0, result.output
    soup = BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")
    assert [f.get_text(strip=True) for f in soup.select("#trends figcaption")] == ["每周活跃客户数"]
    from userops.analytics.rfm import RFM10_ORDER
    from userops.glossary import name

    segments = [row.find("td").get_text(strip=True) for row in soup.select("#segments tbody tr")]
    assert segments and set(segments) <= {name(segment, "zh") for segment in RFM10_ORDER}


#: Latin words a Chinese report may show: product and model names, units, flags and files.
ZH_ALLOWED = {
    "userops", "RFM", "R", "F", "M", "ROC-AUC", "PR-AUC", "BG/NBD", "MBG/NBD", "Pareto/NBD", "Gamma", "cn8", "VIP", "pp", "d", "h", "m", "s", "k", "MB", "ID",
    "--steps", "--include-refunds", "--events", "userops.toml", "report", "steps", "orders.csv", "events.csv",
}


def test_the_chinese_report_has_no_english_words(examples_dir, tmp_path):
    """Every visible word of the zh report is Chinese, or a name from the data (events,
    channels, column headers, customer ids), a product or model name, a unit or a flag."""
    import csv
    import re

    out = tmp_path / "r.html"
    result = run("report", f"{examples_dir}/orders.csv", "--events", f"{examples_dir}/events.csv", "-o", out, "--as-of", AS_OF, "--lang", "zh", "-q")
    assert result.exit_code == 0, result.output
    data: set[str] = set()
    for name in ("orders.csv", "events.csv"):
        with open(f"{examples_dir}/{name}", newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            data.update(next(reader))
            for row in reader:
                data.update(row)
    soup = BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")
    for tag in soup(["style", "script"]):
        tag.decompose()
    words = set(re.findall(r"-{0,2}[A-Za-z][A-Za-z0-9_\-./]*", soup.get_text(" ")))
    english = sorted(w for w in words if w not in ZH_ALLOWED and w.strip("-.") not in data and w.rstrip(".") not in ZH_ALLOWED)
    assert english == []


def test_chart_axes_are_round_and_labels_never_overlap():
    from userops.render import charts

    assert charts.nice_ticks(16_762.83, most=5, whole=True) == [0, 5000, 10000, 15000, 20000]
    assert charts.nice_ticks(1.0, most=5) == [0, 0.25, 0.5, 0.75, 1.0]  # 0/25/50/75/100 %
    # a count axis with no data, or tiny counts: whole steps, never 0, 0, 1, 1
    assert charts.nice_ticks(0.0, most=5, whole=True) == [0, 1]
    assert charts.nice_ticks(3, most=5, whole=True) == [0, 1, 2, 3]
    assert charts.day_ticks(540) == [0, 90, 180, 270, 360, 450, 540]
    assert charts.day_ticks(30) == [0, 5, 10, 15, 20, 25, 30]
    # 26 weekly dates 20 units apart: every 5th fits, the first is left- and the last
    # right-aligned, so their neighbours give way
    positions = [58 + 17.9 * i for i in range(26)]
    labels = [f"2025-{1 + i // 4:02d}-{1 + 7 * (i % 4):02d}" for i in range(26)]
    kept = charts.thinned(positions, labels)
    assert kept[0] == 0 and kept[-1] == 25
    widest = max(charts.text_width(label) for label in labels)
    assert all(positions[b] - positions[a] >= widest for a, b in zip(kept, kept[1:]))
    assert positions[kept[1]] - positions[0] >= 1.5 * widest and positions[25] - positions[kept[-2]] >= 1.5 * widest


def test_order_status_section_is_the_order_status_funnel(examples_dir):
    from userops.report.model import build_report_model

    loaded = load_orders([f"{examples_dir}/orders.csv"])
    model = build_report_model(loaded, loaded.window(AS_OF))
    section = next(s for s in model.sections if s.key == "order_status")
    rows = as_json("funnel", f"{examples_dir}/orders.csv", "--order-status", "--as-of", AS_OF)
    table = section.tables[0]
    assert [r[2] for r in table.rows] == [f"{r['orders']:,}" for r in rows]
    assert section.charts[0].values == [float(r["orders"]) for r in rows]
    weekly = {(r["period"], r["step"]): r for r in as_json("funnel", f"{examples_dir}/orders.csv", "--order-status", "--trend", "week", "--as-of", AS_OF)}
    trend = section.charts[1]
    shipped = dict(trend.series)["Time to ship"]
    assert shipped == [weekly[(p, 3)]["median_hours"] for p in trend.x_labels]
    assert all(weekly[(p, 3)]["complete"] for p in trend.x_labels)


def test_promotions_shade_the_trends_and_review_the_last_one(examples_dir):
    from userops.analytics.promotions import promo_calendar, windows_for
    from userops.report.model import build_report_model

    loaded = load_orders([f"{examples_dir}/orders.csv"])
    windows = windows_for(promo_calendar("cn"), loaded)
    model = build_report_model(loaded, loaded.window(AS_OF), promotions=windows)
    trends = next(s for s in model.sections if s.key == "trends")
    assert ("618" in [name for *_, name in trends.charts[0].bands])
    review = next(s for s in model.sections if s.key == "promo_review")
    assert review.title == "Promotion review: 618 2025"
    assert model.summary[1] == review.intro  # the review's sentence is among the report's first
    plain = build_report_model(loaded, loaded.window(AS_OF))
    assert not any(s.key == "promo_review" for s in plain.sections)
    assert not any(line.startswith("Promotion review") for line in plain.skipped)  # not asked for


def test_durations_in_each_language():
    from userops.render import formats as fmt

    assert [fmt.duration(s) for s in (45, 302, 3 * 3600 + 600, 1.5 * 86400, None)] == ["45s", "5m 02s", "3h 10m", "1.5d", ""]
    assert [fmt.duration(s, "zh") for s in (45, 302, 3 * 3600 + 600, 1.5 * 86400)] == ["45 秒", "5 分 02 秒", "3 小时 10 分", "1.5 天"]
