"""userops check: [[check]] rules on the examples — a rule set that holds exits 0, the
checkout incident week breaches its funnel rule (exit 3, named), a malformed rule exits 2."""

import io

import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.analytics.checks import Rule, evaluate, parse_rules
from userops.cli.app import app

RULES = """
[[check]]
name = "repeat rate holds"
metric = "repeat_rate"
when = "drop"
threshold = "2pp"

[[check]]
name = "active customers near their 4-week average"
metric = "active_customers"
when = "below"
threshold = "0.8x"
against = "average 4"

[[check]]
name = "checkout converts"
metric = "funnel"
steps = "checkout,purchase"
window = "7d"
when = "drop"
threshold = "20%"

[[check]]
name = "month-1 retention"
metric = "retention"
k = 1
when = "below"
threshold = 0.05
"""


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def rules(write):
    return write("checks.toml", RULES)


def test_rules_that_hold_exit_0(examples_dir, rules):
    result = run("check", f"{examples_dir}/orders.csv", "--events", f"{examples_dir}/events.csv", "--rules", rules, "-f", "csv")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert table["status"].tolist() == ["ok"] * 4
    assert "ok: repeat rate holds" in result.stderr


def test_the_checkout_incident_week_breaches(examples_dir, rules):
    # as of 2025-05-25 the week of 2025-05-12 is the latest whose people had their 7 days
    result = run("check", f"{examples_dir}/orders.csv", "--events", f"{examples_dir}/events.csv", "--rules", rules, "--as-of", "2025-05-25", "-f", "csv")
    assert result.exit_code == 3, result.output
    table = pd.read_csv(io.StringIO(result.stdout)).set_index("rule")
    assert table.loc["checkout converts", "status"] == "breached"
    assert (table.drop(index="checkout converts")["status"] == "ok").all()
    # the funnel's own numbers: purchase / checkout of the week 2025-05-12 against the week before
    trend = pd.read_csv(io.StringIO(run(
        "funnel", f"{examples_dir}/events.csv", "--steps", "checkout,purchase", "--window", "7d", "--trend", "week", "--as-of", "2025-05-25", "-f", "csv", "-q",
    ).stdout))
    last = trend[(trend["step"] == 2)].set_index("period")["conversion_from_start"]
    assert table.loc["checkout converts", "value"] == last["2025-05-12"] and table.loc["checkout converts", "compared_with"] == last["2025-05-05"]
    assert "BREACHED: checkout converts" in result.stderr
    zh = run("check", f"{examples_dir}/orders.csv", "--events", f"{examples_dir}/events.csv", "--rules", rules, "--as-of", "2025-05-25", "--lang", "zh", "-f", "csv")
    assert zh.exit_code == 3  # the exit code does not depend on the language of the table
    statuses = pd.read_csv(io.StringIO(zh.stdout)).set_index("rule")["status"]
    assert statuses["checkout converts"] == "已触发" and (statuses.drop(index="checkout converts") == "正常").all()


def test_rules_from_userops_toml(examples_dir, tmp_path):
    (tmp_path / "userops.toml").write_text('[[check]]\nmetric = "orders"\nwhen = "below"\nthreshold = 1000000\n', encoding="utf-8")
    result = run("check", f"{examples_dir}/orders.csv", "--config", tmp_path / "userops.toml", "-f", "csv")
    assert result.exit_code == 3 and "BREACHED: check 1 (orders)" in result.stderr


@pytest.mark.parametrize(
    "rule, message",
    [
        ('metric = "revnue"\nwhen = "drop"\nthreshold = 1', "rule 'check 1 (revnue)': metric must be one of"),
        ('name = "x"\nmetric = "revenue"\nwhen = "falls"\nthreshold = 1', "rule 'x': when must be one of below, above, drop, rise"),
        ('name = "x"\nmetric = "revenue"\nwhen = "drop"\nthreshold = "lots"', "rule 'x': threshold 'lots' is not a number"),
        ('name = "x"\nmetric = "revenue"\nwhen = "below"\nthreshold = "20%"', "rule 'x': a threshold in % is a change"),
        ('name = "x"\nmetric = "funnel"\nwhen = "drop"\nthreshold = 1', "rule 'x': a funnel check needs steps"),
        ('name = "x"\nmetric = "revenue"\nwhen = "drop"\nthreshold = 1\nagainst = "last year"', "rule 'x': against must be previous or 'average N'"),
        ('name = "x"\nmetric = "revenue"\nwhen = "drop"\nthreshold = 1\ncolour = "red"', "rule 'x': unknown key 'colour'"),
    ],
)
def test_a_malformed_rule_is_a_usage_error(examples_dir, write, rule, message):
    result = run("check", f"{examples_dir}/orders.csv", "--rules", write("bad.toml", f"[[check]]\n{rule}\n"))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1  # before the data is read


def test_no_rules_and_a_funnel_without_events(examples_dir, write):
    assert run("check", f"{examples_dir}/orders.csv", "--rules", write("none.toml", "")).exit_code == 2
    funnel = write("f.toml", '[[check]]\nmetric = "funnel"\nsteps = "a,b"\nwhen = "drop"\nthreshold = 1\n')
    result = run("check", f"{examples_dir}/orders.csv", "--rules", funnel)
    assert result.exit_code == 2 and "a funnel rule needs --events" in result.stderr


def rule(**kw):
    base = dict(name="r", metric="revenue", period="week", when="drop", amount=10.0, unit="%", threshold_text="10%", periods_back=1)
    return Rule(**{**base, **kw})


@pytest.mark.parametrize(
    "spec, series, expected",
    [
        (dict(), [89.0, 100.0], ("breached", 90.0)),  # 10% below 100 is 90: 89 breaches
        (dict(), [90.0, 100.0], ("ok", 90.0)),  # exactly at the limit holds
        (dict(unit="pp", amount=2.0, threshold_text="2pp"), [0.41, 0.4252], ("ok", 0.4052)),
        (dict(unit="", amount=5.0, when="rise", threshold_text="5"), [106.0, 100.0], ("breached", 105.0)),
        (dict(when="below", unit="x", amount=0.8, periods_back=4, threshold_text="0.8x"), [100.0, 120.0, 130.0, 140.0, 150.0], ("breached", 108.0)),
        (dict(when="above", unit="", amount=0.1, threshold_text="0.1"), [0.12], ("breached", 0.1)),
    ],
)
def test_evaluate_by_hand(spec, series, expected):
    status, value, base, limit = evaluate(rule(**spec), series)
    assert (status, round(limit, 6)) == expected


def test_parse_rules_defaults():
    (parsed,) = parse_rules([{"metric": "retention", "when": "below", "threshold": 0.1}])
    assert (parsed.period, parsed.k, parsed.periods_back, parsed.name) == ("month", 1, 1, "check 1 (retention)")


def test_a_missing_export_is_66_not_a_pass(examples_dir, rules, tmp_path):
    result = run("check", tmp_path / "missing.csv", "--events", f"{examples_dir}/events.csv", "--rules", rules)
    assert result.exit_code == 66 and "no such file" in result.stderr


def test_a_broken_export_stops_the_checks(examples_dir, rules, tmp_path):
    saved = tmp_path / "p.json"
    assert run("inspect", f"{examples_dir}/orders.csv", "--save-profile", saved).exit_code == 0
    events = f"{examples_dir}/events.csv"
    fine = run("check", f"{examples_dir}/orders.csv", "--events", events, "--rules", rules, "--profile", saved, "-f", "csv")
    assert fine.exit_code == 0, fine.output
    lines = open(f"{examples_dir}/orders.csv", encoding="utf-8").read().splitlines()
    half = tmp_path / "half.csv"
    half.write_text("\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8")
    broken = run("check", half, "--events", events, "--rules", rules, "--profile", saved, "-f", "csv")
    assert broken.exit_code == 3
    assert "BREACHED: the export changed: fewer rows" in broken.stderr and "no rule checked" in broken.stderr
    assert "ok:" not in broken.stderr  # no rule ran
