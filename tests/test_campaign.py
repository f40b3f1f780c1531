"""Campaign holdouts and the uplift readout: a reproducible control group balanced within each
segment, and a constructed campaign whose effect is known."""

import io
import math

import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.cli.app import app


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def frame(result):
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout), dtype={"customer_id": str})


def holdout_list(examples_dir, seed, share="10%"):
    return frame(run("segment", f"{examples_dir}/orders.csv", "--filter", "At risk,Hibernating,Champions", "--holdout", share, "--seed", seed, "-f", "csv", "-q"))


def test_holdout_is_reproducible_and_balanced_within_each_segment(examples_dir):
    first, again, other = holdout_list(examples_dir, 1), holdout_list(examples_dir, 1), holdout_list(examples_dir, 2)
    assert first.equals(again)  # same seed, same groups
    assert not first["group"].equals(other["group"])  # another seed, another draw
    plain = frame(run("segment", f"{examples_dir}/orders.csv", "--filter", "At risk,Hibernating,Champions", "-f", "csv", "-q"))
    assert first.drop(columns="group").equals(plain)  # the list itself is unchanged, in its order
    for segment, rows in first.groupby("segment"):
        control = int((rows["group"] == "control").sum())
        assert abs(control - 0.1 * len(rows)) <= 1, segment
    assert set(first["group"]) == {"treatment", "control"}


def test_holdout_errors(examples_dir):
    for share, message in (("60%", "at most 50%"), ("lots", "takes a share"), ("0", "more than 0")):
        result = run("segment", f"{examples_dir}/orders.csv", "--holdout", share)
        assert result.exit_code == 2 and message in result.stderr
    assert run("segment", f"{examples_dir}/orders.csv", "--holdout", "10%", "--summary").exit_code == 2


def campaign(write, *, treated_buy=30, control_buy=10):
    """100 treatment and 100 control customers, all known before the campaign (a purchase
    in January); in June, treated_buy treatment and control_buy control customers buy once
    for 50.00."""
    ids = [f"T{i:03d}" for i in range(100)] + [f"C{i:03d}" for i in range(100)]
    listed = "customer_id,segment,group\n" + "".join(f"{c},At risk,{'treatment' if c[0] == 'T' else 'control'}\n" for c in ids)
    lines = ["customer_id,order_date,amount"] + [f"{c},2025-01-10,20.00" for c in ids]
    lines += [f"T{i:03d},2025-06-{1 + i % 28:02d},50.00" for i in range(treated_buy)]
    lines += [f"C{i:03d},2025-06-{1 + i % 28:02d},50.00" for i in range(control_buy)]
    lines += ["T000,2025-08-01,999.00"]  # after the window: not counted
    return write("list.csv", listed), write("orders.csv", "\n".join(lines) + "\n")


def test_uplift_of_a_known_effect(write):
    listed, orders = campaign(write)
    result = run("uplift", listed, orders, "--since", "2025-06-01", "--days", "30", "-f", "csv")
    table = frame(result).set_index("metric")
    conv = table.loc["conversion"]
    assert (conv["treatment"], conv["control"], conv["difference"]) == (0.3, 0.1, 0.2)
    # unpooled 95% interval: 0.2 ± 1.96 * sqrt(0.3*0.7/100 + 0.1*0.9/100); pooled z-test p
    half = 1.959964 * math.sqrt(0.003)
    assert conv["ci_lower"] == pytest.approx(0.2 - half, abs=1e-6) and conv["ci_upper"] == pytest.approx(0.2 + half, abs=1e-6)
    z = 0.2 / math.sqrt(0.2 * 0.8 * 0.02)
    assert conv["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-3)
    assert conv["ci_lower"] < 0.2 < conv["ci_upper"]
    revenue = table.loc["revenue_per_customer"]
    assert (revenue["treatment"], revenue["control"], revenue["difference"]) == (15.0, 5.0, 10.0)
    assert revenue["ci_lower"] < 10 < revenue["ci_upper"]
    assert table.loc["incremental_revenue", "difference"] == 1000.0
    assert (table.loc["customers", "treatment"], table.loc["buyers", "control"]) == (100, 10)


def test_no_effect_is_not_significant(write):
    listed, orders = campaign(write, treated_buy=10, control_buy=10)
    conv = frame(run("uplift", listed, orders, "--since", "2025-06-01", "-f", "csv")).set_index("metric").loc["conversion"]
    assert conv["difference"] == 0 and conv["p_value"] == 1.0 and conv["ci_lower"] < 0 < conv["ci_upper"]


def test_a_list_without_a_control_group_is_refused(write):
    listed = write("treated.csv", "customer_id,group\nA,treatment\nB,treatment\n")
    orders = write("o.csv", "customer_id,order_date,amount\nA,2025-06-02,5\nB,2025-05-01,5\n")
    result = run("uplift", listed, orders, "--since", "2025-06-01")
    assert result.exit_code == 65 and "the list has no control group" in result.stderr and "segment --holdout" in result.stderr
    no_group = run("uplift", write("plain.csv", "customer_id\nA\n"), orders, "--since", "2025-06-01")
    assert no_group.exit_code == 65 and "needs a customer id and a group column" in no_group.stderr


def test_an_open_window_and_unknown_ids_are_said(write):
    listed, orders = campaign(write)
    result = run("uplift", listed, orders, "--since", "2025-07-20", "--days", "30", "-f", "csv")
    assert "the window is not over" in result.stderr  # the last purchase in the window's export is 2025-08-01
    extra = write("more.csv", open(listed).read() + "Z999,At risk,control\n")
    said = run("uplift", extra, orders, "--since", "2025-06-01", "-f", "csv")
    assert "1 listed customers have no purchase in the export at all" in said.stderr


def test_the_readout_names_its_metrics_in_chinese(write):
    listed, orders = campaign(write)
    out = frame(run("uplift", listed, orders, "--since", "2025-06-01", "--days", "30", "--lang", "zh", "-f", "csv", "-q"))
    english = frame(run("uplift", listed, orders, "--since", "2025-06-01", "--days", "30", "-f", "csv", "-q"))
    named = dict(zip(english["metric"], out["metric"]))
    assert list(named.values()) == ["客户数", "购买客户数", "转化率", "人均销售额", "增量销售额"]
    assert out.drop(columns="metric").equals(english.drop(columns="metric"))  # the numbers as they are
