"""One glossary per language (src/userops/data/glossary/*.toml), and --lang / --headers on every
command: names, statuses, tiers and actions in Chinese, headers for the spreadsheets a team
circulates, machine formats keeping their keys."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from typer.testing import CliRunner

from userops import glossary
from userops.analytics import churn, lifecycle, rfm
from userops.analytics.playbook import actions
from userops.cli.app import app

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_language_has_every_word():
    en, zh = glossary.words("en"), glossary.words("zh")
    for section in glossary.SECTIONS:
        assert en[section].keys() == zh[section].keys(), section
        assert all(v.strip() for v in zh[section].values()), section
    # English keys, Chinese words: nothing left untranslated
    assert all(CJK.search(v) for v in zh["names"].values())
    assert all(CJK.search(v) for v in zh["columns"].values())
    words_of = lambda v: re.sub(r"\{[a-z_]+\}", "", v)  # noqa: E731 (placeholders are no words)
    untranslated = [k for k, v in zh["report"].items() if v == en["report"][k] and re.search("[a-z]{3}", words_of(v))]
    assert untranslated == []


def test_every_name_a_table_holds_is_in_both_languages_with_an_action():
    shown = set(rfm.RFM10_ORDER) | set(lifecycle.STATUSES) | {churn.tier_action_key(t) for t in churn.RISK_TIERS}
    playbook = actions()
    for name in shown:
        assert glossary.name(name, "en") == name
        zh = glossary.name(name, "zh")
        assert CJK.search(zh), name
        assert playbook.get(zh) and CJK.search(playbook[zh]), f"no Chinese action for {zh}"
    # the Chinese names are distinct: a filter or a summary never merges two segments
    assert len({glossary.name(n, "zh") for n in rfm.RFM10_ORDER}) == len(rfm.RFM10_ORDER)


def test_numbered_and_unknown_columns():
    assert glossary.header("period_12", "zh") == "第12期"
    assert glossary.header("kept_column_from_the_input", "zh") == "kept_column_from_the_input"
    with pytest.raises(Exception, match="--lang must be one of en, zh"):
        glossary.check_lang("fr")


COMMANDS = [
    (["profile"], "orders", []),
    (["profile", "--per", "customer"], "orders", ["lifecycle_status"]),
    (["profile", "--per", "period"], "orders", []),
    (["segment"], "orders", ["segment", "lifecycle_status", "action"]),
    (["segment", "--summary"], "orders", ["segment", "action"]),
    (["segment", "--lifecycle"], "orders", []),
    (["segment", "--scheme", "cn8", "--summary"], "orders", ["segment", "action"]),
    (["funnel", "--steps", "home,purchase"], "events", []),
    (["funnel", "--steps", "home,purchase", "--users"], "events", []),
    (["funnel", "--repeat", "2"], "orders", ["event"]),
    (["retention"], "orders", []),
    (["retention", "--long"], "orders", []),
    (["churn", "--top", "20"], "orders", ["risk_tier", "action"]),
    (["churn", "--model-report"], "orders", []),
    (["inspect"], "orders", ["role", "type"]),
    (["ltv", "--by", "channel", "--margin", "0.3"], "orders", []),
    (["ltv", "--long", "--margin", "0.3"], "orders", []),
    (["segment", "--since", "2025-03-31"], "orders", ["from_segment", "to_segment"]),
    (["profile", "--bridge"], "orders", []),
]


@pytest.mark.parametrize(("args", "data", "translated"), COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_every_command_speaks_chinese(args, data, translated, examples_dir):
    """--lang zh --headers zh: every header Chinese (or a name like RFM with Chinese), and the
    names, statuses, tiers and actions of the table in Chinese."""
    result = CliRunner().invoke(app, [args[0], f"{examples_dir}/{data}.csv", *args[1:], "--lang", "zh", "--headers", "zh", "--format", "csv", "-q"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert all(CJK.search(h) for h in rows[0]), rows[0]
    english = CliRunner().invoke(app, [args[0], f"{examples_dir}/{data}.csv", *args[1:], "--format", "csv", "-q"])
    keys = next(csv.reader(io.StringIO(english.stdout)))
    for column in translated:
        values = [r[keys.index(column)] for r in rows[1:] if r[keys.index(column)]]
        assert values and all(CJK.search(v) for v in values), column


def test_machine_formats_keep_their_keys(examples_dir):
    result = CliRunner().invoke(app, ["segment", f"{examples_dir}/orders.csv", "--summary", "--lang", "zh", "--headers", "zh", "--format", "json", "-q"])
    rows = json.loads(result.stdout)
    assert list(rows[0])[:2] == ["segment", "customers"] and rows[0]["segment"] == "冠军客户"


def test_language_and_headers_from_userops_toml(examples_dir, tmp_path):
    (tmp_path / "userops.toml").write_text('lang = "zh"\n\n[output]\nheaders = "zh"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["churn", f"{examples_dir}/orders.csv", "--top", "3", "--format", "csv", "-q", "--config", str(tmp_path / "userops.toml")])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][0] == "客户ID" and rows[0][-2:] == ["风险等级", "建议动作"]
    assert all(CJK.search(r[-2]) and CJK.search(r[-1]) for r in rows[1:])
    # the flag wins over the file
    english = CliRunner().invoke(app, ["churn", f"{examples_dir}/orders.csv", "--top", "3", "--format", "csv", "-q", "--lang", "en", "--headers", "en", "--config", str(tmp_path / "userops.toml")])
    assert next(csv.reader(io.StringIO(english.stdout)))[0] == "customer_id"


def test_kmeans_labels_follow_the_language(examples_dir):
    """An English user gets English cluster names (they used to get 重要价值客户)."""
    english = CliRunner().invoke(app, ["segment", f"{examples_dir}/orders.csv", "--scheme", "kmeans", "--k", "3", "--summary", "--format", "csv", "-q"])
    names = [r[0] for r in list(csv.reader(io.StringIO(english.stdout)))[1:]]
    assert names and not any(CJK.search(n) for n in names)
    chinese = CliRunner().invoke(app, ["segment", f"{examples_dir}/orders.csv", "--scheme", "kmeans", "--k", "3", "--summary", "--format", "csv", "-q", "--lang", "zh"])
    assert all(CJK.search(r[0]) for r in list(csv.reader(io.StringIO(chinese.stdout)))[1:])


def test_messages_have_the_same_placeholders_in_every_language():
    import string

    fields = lambda text: {f for _, f, _, _ in string.Formatter().parse(text) if f}  # noqa: E731
    en, zh = glossary.words("en")["notes"], glossary.words("zh")["notes"]
    assert {k: fields(v) for k, v in en.items()} == {k: fields(v) for k, v in zh.items()}


def test_a_message_is_its_english_text_and_says_itself_in_chinese():
    import copy
    import pickle

    said = glossary.say("dropped_rows", rows=glossary.count(2, "row"), detail=[glossary.say("reason_count", n="2", reason=glossary.say("reason_bad_time"))])
    assert said == "dropped 2 rows: 2 unparseable dates"
    assert glossary.in_language(said, "zh") == "丢弃 2 行：日期无法解析 2 行"
    assert glossary.in_language("plain text", "zh") == "plain text"
    for copied in (copy.deepcopy(said), pickle.loads(pickle.dumps(said))):
        assert copied == said and glossary.in_language(copied, "zh") == "丢弃 2 行：日期无法解析 2 行"


#: What may stay Latin in a Chinese note: method and model names, their letters and
#: parameters, file formats, units.
ALLOWED_LATIN = {"RFM", "R", "F", "M", "ID", "MB", "userops", "k", "means", "ROC", "AUC", "PR", "Cox", "BG", "MBG", "Pareto", "NBD", "Gamma", "a", "b", "p", "csv", "utf", "first"}
# covariate keys (like column names): first_channel, days_to_deliver, first_order_refunded
ALLOWED_LATIN |= {"days", "to", "ship", "deliver", "order", "refunded", "promo", "discount", "share"}


@pytest.mark.parametrize(
    "args",
    [["segment", "orders"], ["segment", "orders", "--scheme", "kmeans", "--k", "3"], ["retention", "orders"], ["profile", "orders", "--per", "customer"],
     ["churn", "orders"], ["churn", "orders", "--cox"], ["inspect", "orders"], ["report", "orders"]],
    ids=lambda v: " ".join(v),
)
def test_notes_on_stderr_in_chinese(args, examples_dir, tmp_path):
    out = tmp_path / ("r.html" if args[0] == "report" else "out.csv")
    result = CliRunner().invoke(app, [args[0], f"{examples_dir}/{args[1]}.csv", *args[2:], "--lang", "zh", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    lines = [line.removeprefix("userops: ") for line in result.stderr.splitlines()]
    assert lines and all(CJK.search(line) for line in lines), lines
    with open(f"{examples_dir}/{args[1]}.csv", encoding="utf-8") as fh:
        data = set(re.findall(r"[A-Za-z]+", fh.read()))  # names from the data (channels, columns)
    for line in lines:
        text = re.sub(r"--[a-z-]+", "", line.replace(str(out), "").replace(f"{examples_dir}/{args[1]}.csv", ""))  # flags and paths as typed
        latin = set(re.findall(r"[A-Za-z]+", text)) - ALLOWED_LATIN - data
        assert not latin, (line, latin)


def test_the_churn_model_report_explains_itself_in_chinese(examples_dir):
    """Its section and metric columns are keys (like column names); every detail that is
    words is Chinese (dates and blanks aside)."""
    result = CliRunner().invoke(app, ["churn", f"{examples_dir}/orders.csv", "--model-report", "--lang", "zh", "--format", "csv", "-q"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    worded = [r["detail"] for r in rows if re.search(r"[A-Za-z]{3,}", re.sub(r"ROC-AUC|PR-AUC|MBG/NBD|BG/NBD|Pareto/NBD|Gamma", "", r["detail"]))]
    assert worded == []
    assert sum(1 for r in rows if CJK.search(r["detail"])) >= 10
