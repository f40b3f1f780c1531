"""Segment migration on CDNOW (the issue's check) and on the examples: row sums are the
earlier date's segments, column sums the later date's with the same cut points, and --moved
is exactly a join of the two per-customer runs."""

import io
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.cli.app import app


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def frame(result):
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout), dtype={"customer_id": str})


@pytest.fixture(scope="module")
def cdnow_migration(cdnow_path):
    result = run("segment", cdnow_path, "--since", "1997-06-30", "--as-of", "1997-12-31", "-f", "csv")
    return frame(result), result.stderr


def test_row_and_column_sums(cdnow_path, cdnow_migration):
    transitions, stderr = cdnow_migration
    cuts = re.search(r"R cuts ([\d.,]+) days .*F cuts ([\d.,]+); M cuts ([\d.,]+)", stderr)
    assert "both dates scored with the cut points of 1997-06-30" in stderr and cuts
    before = frame(run("segment", cdnow_path, "--summary", "--as-of", "1997-06-30", "-f", "csv", "-q")).set_index("segment")["customers"]
    rows = transitions.groupby("from_segment")["customers"].sum()
    assert rows.to_dict() == before[before > 0].to_dict()
    after = frame(run(
        "segment", cdnow_path, "--summary", "--as-of", "1997-12-31", "--r-cuts", cuts.group(1), "--f-cuts", cuts.group(2), "--m-cuts", cuts.group(3),
        "-f", "csv", "-q",
    )).set_index("segment")["customers"]
    columns = transitions.groupby("to_segment")["customers"].sum()
    assert columns.to_dict() == after[after > 0].to_dict()
    # shares of each from-segment add up to one; revenue_since is what each group spent after
    assert transitions.groupby("from_segment")["share_of_from"].sum().round(2).eq(1.0).all()
    raw = pd.read_csv(cdnow_path, dtype={"customer_id": str}, parse_dates=["order_date"])
    spent = raw[(raw["order_date"] > "1997-06-30") & (raw["order_date"] <= "1997-12-31")]["amount"].sum()
    assert transitions["revenue_since"].sum() == pytest.approx(spent, abs=0.01)


def test_moved_is_a_join_of_the_two_runs(cdnow_path, cdnow_migration):
    transitions, stderr = cdnow_migration
    cuts = re.search(r"R cuts ([\d.,]+) days .*F cuts ([\d.,]+); M cuts ([\d.,]+)", stderr)
    moved = frame(run("segment", cdnow_path, "--since", "1997-06-30", "--as-of", "1997-12-31", "--moved", "Champions>At risk,Loyal>At risk", "-f", "csv", "-q"))
    then = frame(run("segment", cdnow_path, "--as-of", "1997-06-30", "-f", "csv", "-q"))[["customer_id", "segment"]]
    now = frame(run(
        "segment", cdnow_path, "--as-of", "1997-12-31", "--r-cuts", cuts.group(1), "--f-cuts", cuts.group(2), "--m-cuts", cuts.group(3), "-f", "csv", "-q",
    ))
    joined = now.merge(then.rename(columns={"segment": "from_segment"}), on="customer_id")
    expected = joined[((joined["from_segment"] == "Champions") | (joined["from_segment"] == "Loyal")) & (joined["segment"] == "At risk")]
    assert sorted(moved["customer_id"]) == sorted(expected["customer_id"])
    assert list(moved.columns[:2]) == ["customer_id", "from_segment"] and (moved["segment"] == "At risk").all()
    counted = transitions.set_index(["from_segment", "to_segment"])["customers"]
    assert len(moved) == counted[("Champions", "At risk")] + counted[("Loyal", "At risk")]
    # the as-of list's own columns come with it, the same values as the plain run
    assert moved.set_index("customer_id")["rfm_code"].to_dict() == now.set_index("customer_id").loc[moved["customer_id"], "rfm_code"].to_dict()


def test_new_customers_and_contacts_on_the_examples(examples_dir):
    orders = f"{examples_dir}/orders.csv"
    transitions = frame(run("segment", orders, "--since", "2025-03-31", "-f", "csv", "-q"))
    new = transitions[transitions["from_segment"] == "(new)"]
    lines = pd.read_csv(orders, dtype={"customer_id": str}, parse_dates=["order_date"])
    paid = lines[(lines["status"] == "paid") & lines["customer_id"].notna()]
    first = paid.groupby("customer_id")["order_date"].min()
    assert new["customers"].sum() == int((first >= "2025-04-01").sum())
    assert transitions.iloc[-len(new):]["from_segment"].eq("(new)").all()  # (new) comes last
    moved = frame(run("segment", orders, "--since", "2025-03-31", "--moved", "(new)>Champions", "--keep", "email", "-f", "csv", "-q"))
    assert len(moved) == int(new.set_index("to_segment")["customers"].get("Champions", 0))
    assert moved["email"].str.endswith("@example.com").all()


def test_cuts_from_the_as_of_date(cdnow_path):
    result = run("segment", cdnow_path, "--since", "1997-06-30", "--as-of", "1997-12-31", "--cuts-from", "as-of", "-f", "csv")
    transitions = frame(result)
    assert "cut points of 1997-12-31" in result.stderr
    after = frame(run("segment", cdnow_path, "--summary", "--as-of", "1997-12-31", "-f", "csv", "-q")).set_index("segment")["customers"]
    assert transitions.groupby("to_segment")["customers"].sum().to_dict() == after[after > 0].to_dict()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--moved", "Champions>At risk"], "--moved and --cuts-from go with --since DATE"),
        (["--since", "1997-06-30", "--moved", "Champions"], "is not FROM>TO"),
        (["--since", "1997-06-30", "--moved", "Champs>At risk"], "no segment named 'Champs'"),
        (["--since", "1997-06-30", "--scheme", "cn8"], "--since compares rfm10 segments"),
        (["--since", "1998-12-31"], "must be before the as-of date"),
        (["--since", "June"], "--since 'June' is not a date"),
        (["--since", "1997-06-30", "--cuts-from", "later"], "--cuts-from"),
    ],
)
def test_errors(cdnow_path, args, message):
    result = run("segment", cdnow_path, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
