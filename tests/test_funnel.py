"""Funnels: PostHog-style ordered / strict / unordered semantics, worked by hand."""

import datetime as dt
import io

import pandas as pd
import pytest
from typer.testing import CliRunner

from userops.analytics.funnel import FunnelSpec, funnel_table, parse_steps, parse_window, step_table
from userops.cli.app import app
from userops.errors import UsageError
from userops.io.normalise import load_events


def funnel(write, rows, steps, window="1h", order="ordered", by=None, trend=None, as_of=None, start=None):
    text = "user_id,event,timestamp,channel\n" + "\n".join(",".join(r) for r in rows) + "\n"
    loaded = load_events([write("events.csv", text)], properties=("channel",))
    window_ = loaded.window(as_of, start=start)
    spec = FunnelSpec(parse_steps(steps), parse_window(window), order)
    return funnel_table(loaded, window_, spec, by=by, trend=trend)


def users(table):
    return table["users"].tolist()


def test_window_edges(write):
    rows = [
        ("u1", "a", "2025-01-01 10:00:00", "web"), ("u1", "b", "2025-01-01 11:00:00", "web"),  # exactly 1 h: counts
        ("u2", "a", "2025-01-01 10:00:00", "web"), ("u2", "b", "2025-01-01 11:00:01", "web"),  # 1 h 1 s: does not
    ]
    table = funnel(write, rows, "a,b")
    assert users(table) == [2, 1]
    assert table["conversion_from_previous"].tolist() == [1.0, 0.5]
    assert table["dropped"].tolist() == [0, 1]
    assert table["median_time_from_previous_s"].tolist()[1] == 3600.0


def test_events_before_step_one_and_repeats(write):
    rows = [
        ("u3", "b", "2025-01-01 09:00:00", "web"),  # before any step 1: ignored
        ("u3", "a", "2025-01-01 10:00:00", "web"),
        ("u3", "a", "2025-01-01 10:05:00", "web"),  # a second attempt
        ("u3", "b", "2025-01-01 10:30:00", "web"),
        ("u3", "b", "2025-01-01 10:40:00", "web"),  # a repeated step counts once
    ]
    table = funnel(write, rows, "a,b")
    assert users(table) == [1, 1]
    # the earliest attempt that reached step 2: 10:00 -> 10:30
    assert table["median_time_from_previous_s"].tolist()[1] == 1800.0


def test_second_attempt_goes_further(write):
    rows = [
        ("u4", "a", "2025-01-01 10:00:00", "web"), ("u4", "b", "2025-01-01 10:10:00", "web"),
        ("u4", "a", "2025-01-01 11:30:00", "web"), ("u4", "b", "2025-01-01 11:40:00", "web"),
        ("u4", "c", "2025-01-01 12:00:00", "web"),  # 2 h after the first a, 30 min after the second
    ]
    table = funnel(write, rows, "a,b,c")
    assert users(table) == [1, 1, 1]
    assert table["median_time_from_previous_s"].tolist()[1:] == [600.0, 1200.0]


def test_a_missed_step_ends_the_attempt(write):
    # u5 never does b, so c and d after a do not count; u7's c and d came before its a (older
    # DuckDB matched those through the NULL ASOF key of the missed step); u6 skips nothing
    rows = [
        ("u5", "a", "2025-01-01 10:00:00", "web"), ("u5", "c", "2025-01-01 10:10:00", "web"), ("u5", "d", "2025-01-01 10:20:00", "web"),
        ("u6", "a", "2025-01-01 10:00:00", "web"), ("u6", "b", "2025-01-01 10:05:00", "web"), ("u6", "c", "2025-01-01 10:10:00", "web"),
        ("u7", "c", "2025-01-01 09:00:00", "web"), ("u7", "d", "2025-01-01 09:10:00", "web"), ("u7", "a", "2025-01-01 10:00:00", "web"),
    ]
    assert users(funnel(write, rows, "a,b,c,d")) == [3, 1, 1, 0]


def test_strict_breaks_on_any_other_event(write):
    rows = [
        ("u5", "a", "2025-01-01 10:00:00", "web"), ("u5", "x", "2025-01-01 10:01:00", "web"), ("u5", "b", "2025-01-01 10:02:00", "web"),
        ("u6", "a", "2025-01-01 10:00:00", "web"), ("u6", "b", "2025-01-01 10:01:00", "web"),
    ]
    assert users(funnel(write, rows, "a,b", order="strict")) == [2, 1]
    assert users(funnel(write, rows, "a,b", order="ordered")) == [2, 2]


def test_unordered_and_alternatives(write):
    rows = [
        ("u7", "c", "2025-01-01 10:00:00", "web"), ("u7", "a", "2025-01-01 10:10:00", "web"), ("u7", "b", "2025-01-01 10:20:00", "web"),
        ("u8", "z", "2025-01-01 10:00:00", "web"), ("u8", "b", "2025-01-01 10:30:00", "web"),
    ]
    # ordered: u7 a -> b, no c after; u8's z is an alternative for step 1 only with a|z
    assert users(funnel(write, rows, "a|z,b,c")) == [2, 2, 0]
    unordered = funnel(write, rows, "a,b,c", order="unordered")
    # u7 has all three in any order within the hour; u8 has only b
    assert users(unordered) == [2, 1, 1]
    # sorted step times of u7: 10:00, 10:10, 10:20
    assert unordered["median_time_from_previous_s"].tolist()[1:] == [600.0, 600.0]


def test_unordered_repeated_step_needs_distinct_events(write):
    """``view,view,cart`` in any order: two different views and a cart. One event never fills
    two steps (it did, inflating the funnel, before)."""
    rows = [
        ("u1", "view", "2025-01-01 10:00:00", "web"), ("u1", "cart", "2025-01-01 10:10:00", "web"), ("u1", "view", "2025-01-01 10:20:00", "web"),
        ("u2", "view", "2025-01-01 10:00:00", "web"), ("u2", "cart", "2025-01-01 10:05:00", "web"),  # one view only
        # the second view is 70 min after the cart; from the first view, the cart came before it
        ("u3", "cart", "2025-01-01 10:00:00", "web"), ("u3", "view", "2025-01-01 10:30:00", "web"), ("u3", "view", "2025-01-01 11:10:00", "web"),
        ("u4", "view", "2025-01-01 10:00:00", "web"),
    ]
    table = funnel(write, rows, "view,view,cart", order="unordered")
    assert users(table) == [4, 3, 1]
    # step 2 times: u1 600 s (10:00 -> 10:10), u2 300 s, u3 1800 s (its earliest best attempt, from the cart)
    assert table["median_time_from_previous_s"].tolist()[1:] == [600.0, 600.0]
    assert table["mean_time_from_previous_s"].tolist()[1:] == [900.0, 600.0]
    assert users(funnel(write, rows[:1], "view,view", order="unordered")) == [1, 0]
    with pytest.raises(UsageError, match="share some events but not all"):
        funnel(write, rows, "view|cart,cart", order="unordered")


def test_events_at_the_same_time_count_in_funnel_order(write):
    """Ties on the timestamp are broken by step order, not by name: 'signup' then 'add_card' at
    the same second converts though 'add_card' sorts first (it did not, before); PostHog's
    case of two page views at one time filling two steps (posthog#25048)."""
    t0, t1, t2 = "2025-01-01 10:00:00", "2025-01-01 10:05:00", "2025-01-01 10:06:00"
    rows = [("u1", "signup", t0, "web"), ("u1", "add_card", t0, "web")]
    assert users(funnel(write, rows, "signup,add_card")) == [1, 1]
    assert funnel(write, rows, "signup,add_card")["median_time_from_previous_s"].tolist()[1] == 0.0
    # strict: a third event at the same time goes after the steps, so it does not break them
    rows_strict = rows + [("u1", "aaa_other", t0, "web")]
    assert users(funnel(write, rows_strict, "signup,add_card", order="strict")) == [1, 1]
    views = [("u2", "onboarded", t0, "web"), ("u2", "view", t1, "web"), ("u2", "view", t1, "web"), ("u2", "view", t2, "web")]
    assert users(funnel(write, views, "onboarded,view,view")) == [1, 1, 1]
    assert users(funnel(write, views, "onboarded,view,view,view")) == [1, 1, 1, 1]


def test_dates_only_export_counts_a_day_in_funnel_order_and_says_so(write):
    """A daily export (no times): home, product_view, add_to_cart on one day convert in that
    order (alphabetically add_to_cart came first, and the funnel fell to a fraction)."""
    text = "user_id,event,timestamp\n" + "\n".join(
        ["u1,home,2025-01-01", "u1,product_view,2025-01-01", "u1,add_to_cart,2025-01-01",
         "u2,home,2025-01-01", "u2,add_to_cart,2025-01-02", "u3,add_to_cart,2025-01-01", "u3,home,2025-01-01"]
    ) + "\n"
    path = write("daily.csv", text)
    result = CliRunner().invoke(app, ["funnel", path, "--steps", "home,product_view,add_to_cart", "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout))
    assert table["users"].tolist() == [3, 1, 1]  # u2 skipped product_view; u3 too
    assert "no time of day" in result.stderr
    two = CliRunner().invoke(app, ["funnel", path, "--steps", "home,add_to_cart", "--format", "csv"])
    # u1 and u3 on the same day, u2 a day later: 0 s, 0 s, 86400 s
    assert pd.read_csv(io.StringIO(two.stdout))["users"].tolist() == [3, 3]
    assert pd.read_csv(io.StringIO(two.stdout))["median_time_from_previous_s"].tolist()[1] == 0.0
    timed = write("timed.csv", "user_id,event,timestamp\nu1,home,2025-01-01 10:00\nu1,buy,2025-01-01 10:05\n")
    assert "no time of day" not in CliRunner().invoke(app, ["funnel", timed, "--steps", "home,buy"]).stderr


def test_breakdown_with_missing_value(write):
    rows = [
        ("u9", "a", "2025-01-01 10:00:00", "email"), ("u9", "b", "2025-01-01 10:10:00", "web"),  # first touch: email
        ("u10", "a", "2025-01-01 10:00:00", ""),
    ]
    table = funnel(write, rows, "a,b", by="channel")
    assert table[["channel", "step", "users"]].values.tolist() == [["(none)", 1, 1], ["(none)", 2, 0], ["email", 1, 1], ["email", 2, 1]]


def test_trend_by_week_of_step_one(write):
    rows = [
        ("u11", "a", "2025-01-06 10:00:00", "web"), ("u11", "b", "2025-01-06 10:10:00", "web"),  # week of Mon 2025-01-06
        ("u12", "a", "2025-01-13 10:00:00", "web"),  # week of 2025-01-13, no b
        ("u11", "a", "2025-01-14 10:00:00", "web"),  # u11 again in week 2, no b this time
    ]
    table = funnel(write, rows, "a,b", trend="week")
    assert table[["period", "step", "users"]].values.tolist() == [
        [dt.date(2025, 1, 6), 1, 1], [dt.date(2025, 1, 6), 2, 1],
        [dt.date(2025, 1, 13), 1, 2], [dt.date(2025, 1, 13), 2, 0],
    ]


def test_from_restricts_step_one(write):
    rows = [
        ("u13", "a", "2025-01-01 23:50:00", "web"), ("u13", "b", "2025-01-02 00:10:00", "web"),
        ("u14", "a", "2025-01-02 09:00:00", "web"), ("u14", "b", "2025-01-02 09:10:00", "web"),
    ]
    assert users(funnel(write, rows, "a,b", start=dt.date(2025, 1, 2))) == [1, 1]


def test_parsers_and_errors():
    assert parse_steps("home, product_view|search ,purchase") == (("home",), ("product_view", "search"), ("purchase",))
    assert [parse_window(w) for w in ("30m", "12h", "14d", "2w", "90", "45s")] == [1800, 43200, 1209600, 1209600, 90, 45]
    with pytest.raises(UsageError):
        parse_steps("only_one")
    with pytest.raises(UsageError):
        parse_window("soon")
    empty = step_table(pd.DataFrame({"furthest": pd.Series([], dtype="int64")}), FunnelSpec((("a",), ("b",))))
    assert empty["users"].tolist() == [0, 0]


def test_incident_week_shows_in_the_trend(examples_dir):
    result = CliRunner().invoke(
        app,
        ["funnel", f"{examples_dir}/events.csv", "--steps", "home,product_view,add_to_cart,checkout,purchase",
         "--window", "7d", "--trend", "week", "--format", "csv", "--quiet"],
    )
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout))
    purchase = table[table["step"] == 5].set_index("period")["conversion_from_previous"]
    incident = purchase.loc["2025-05-12"]
    others = purchase.drop("2025-05-12")
    assert incident < 0.5 * others.median()  # checkout -> purchase collapses that week
    assert (others > 0.5).all()


def test_cli_funnel_equals_library(examples_dir):
    result = CliRunner().invoke(
        app, ["funnel", f"{examples_dir}/events.csv", "--steps", "home,product_view,purchase", "--format", "json", "--quiet"]
    )
    assert result.exit_code == 0, result.stderr
    loaded = load_events([f"{examples_dir}/events.csv"])
    lib = funnel_table(loaded, loaded.window(), FunnelSpec(parse_steps("home,product_view,purchase")))
    import json

    assert json.loads(result.stdout) == json.loads(lib.to_json(orient="records"))
    bad = CliRunner().invoke(app, ["funnel", f"{examples_dir}/events.csv", "--steps", "home"])
    assert bad.exit_code == 2 and "at least two steps" in bad.stderr


def test_sessions_and_users_list(write):
    text = (
        "user_id,session_id,event,timestamp\n"
        "u1,s1,a,2025-01-01 10:00:00\nu1,s1,b,2025-01-01 10:05:00\n"  # converts in session s1
        "u1,s2,a,2025-01-02 10:00:00\n"  # but not in s2
        "u2,s3,a,2025-01-01 11:00:00\nu2,s4,b,2025-01-01 11:05:00\n"  # b in another session
    )
    loaded = load_events([write("s.csv", text)])
    spec = FunnelSpec(parse_steps("a,b"), 3600)
    from userops.analytics.funnel import funnel_users, users_table

    assert users(funnel_table(loaded, loaded.window(), spec)) == [2, 2]  # per user: both convert
    per_session_table = funnel_table(loaded, loaded.window(), spec, session=True)
    assert per_session_table.columns[2] == "sessions"  # a session funnel says what it counts
    assert per_session_table["sessions"].tolist() == [3, 1]  # per session: only u1/s1
    per_user = users_table(funnel_users(loaded, loaded.window(), spec), spec)
    assert per_user.to_dict("list") == {
        "user_id": ["u1", "u2"], "furthest_step": [2, 2], "furthest_event": ["b", "b"],
        "step1_time": [pd.Timestamp("2025-01-01 10:00"), pd.Timestamp("2025-01-01 11:00")],
        "last_step_time": [pd.Timestamp("2025-01-01 10:05"), pd.Timestamp("2025-01-01 11:05")],
    }
    per_session = users_table(funnel_users(loaded, loaded.window(), spec, session=True), spec, dropped_at="a")
    assert per_session[["user_id", "session_id", "furthest_event"]].values.tolist() == [["u1", "s2", "a"], ["u2", "s3", "a"]]
    with pytest.raises(UsageError):
        users_table(funnel_users(loaded, loaded.window(), spec), spec, dropped_at="nope")
    # loaded without session ids (what a funnel by user needs): same users, sessions refused
    lean = load_events([write("s2.csv", text)], sessions=False)
    assert users(funnel_table(lean, lean.window(), spec)) == [2, 2]
    columns = [row[0] for row in lean.engine.con.execute("DESCRIBE events").fetchall()]
    assert "session_id" not in columns  # not stored at all: an all-NULL column takes room too
    with pytest.raises(UsageError, match="without their session ids"):
        funnel_table(lean, lean.window(), spec, session=True)


def test_cli_users_dropped_at(examples_dir):
    result = CliRunner().invoke(
        app,
        ["funnel", f"{examples_dir}/events.csv", "--steps", "home,product_view,add_to_cart,checkout,purchase",
         "--users", "--dropped-at", "add_to_cart", "--format", "csv", "--quiet"],
    )
    assert result.exit_code == 0, result.stderr
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == ["user_id", "furthest_step", "furthest_event", "step1_time", "last_step_time"]
    assert len(frame) > 100 and set(frame["furthest_event"]) == {"add_to_cart"}


def test_repeat_purchase_funnel(write):
    from userops.analytics.funnel import repeat_funnel
    from userops.io.normalise import load_orders

    orders = (
        "customer_id,order_date,amount\n"
        "A,2024-01-01,1\nA,2024-01-11,1\nA,2024-03-01,1\n"  # 3 orders: 10 days, then 50 days
        "B,2024-01-05,1\nB,2024-01-25,1\n"  # 2 orders: 20 days
        "C,2024-02-01,1\n"
    )
    loaded = load_orders([write("o.csv", orders)])
    table = repeat_funnel(loaded, loaded.window(), 3)
    assert table["event"].tolist() == ["order 1", "order 2", "order 3"]
    assert users(table) == [3, 2, 1]
    # in days: the median of 10 and 20 days, then A's 50; the mean of 10 and 20 days
    assert table["median_days_from_previous"].tolist()[1:] == [15.0, 50.0]
    assert table["mean_days_from_previous"].tolist()[1:] == [15.0, 50.0]
    assert "median_time_from_previous_s" not in table
    # a 30-day window from the first order drops A's third order (60 days later)
    assert users(repeat_funnel(loaded, loaded.window(), 3, window_s=30 * 86400)) == [3, 2, 0]
    # --from: only customers whose first purchase ever is in the window (C)
    assert users(repeat_funnel(loaded, loaded.window(start=dt.date(2024, 1, 20)), 3)) == [1, 0, 0]
    result = CliRunner().invoke(app, ["funnel", write("o2.csv", orders), "--repeat", "2", "--format", "json", "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert [r["users"] for r in __import__("json").loads(result.stdout)] == [3, 2]


def test_exclusions(write):
    from userops.analytics.funnel import parse_exclusions

    rows = [
        # u1: a -> x -> b -> c: x between steps 1 and 2
        ("u1", "a", "2025-01-01 10:00:00", "web"), ("u1", "x", "2025-01-01 10:01:00", "web"),
        ("u1", "b", "2025-01-01 10:02:00", "web"), ("u1", "c", "2025-01-01 10:03:00", "web"),
        # u2: a -> b -> x -> c: x between steps 2 and 3
        ("u2", "a", "2025-01-01 10:00:00", "web"), ("u2", "b", "2025-01-01 10:01:00", "web"),
        ("u2", "x", "2025-01-01 10:02:00", "web"), ("u2", "c", "2025-01-01 10:03:00", "web"),
        # u3: a -> x (never reaches b; x within the window)
        ("u3", "a", "2025-01-01 10:00:00", "web"), ("u3", "x", "2025-01-01 10:30:00", "web"),
        # u4: x before a: not between any steps
        ("u4", "x", "2025-01-01 09:00:00", "web"), ("u4", "a", "2025-01-01 10:00:00", "web"), ("u4", "b", "2025-01-01 10:01:00", "web"),
    ]
    text = "user_id,event,timestamp,channel\n" + "\n".join(",".join(r) for r in rows) + "\n"
    loaded = load_events([write("x.csv", text)])

    def run_with(exclude):
        steps = parse_steps("a,b,c")
        spec = FunnelSpec(steps, 3600, "ordered", parse_exclusions(exclude, len(steps)))
        return users(funnel_table(loaded, loaded.window(), spec))

    assert run_with(None) == [4, 3, 2]
    assert run_with("x") == [1, 1, 0]  # between 1 and 3: u1, u2, u3 are out; u4 stays
    assert run_with("x:1-2") == [2, 2, 1]  # u1 (x before b) and u3 (x before its window ended) are out
    assert run_with("x:2-3") == [3, 2, 1]  # only u2 is out
    assert parse_exclusions(["x|y:1-2", "z"], 3) == ((("x", "y"), 1, 2), (("z",), 1, 3))
    with pytest.raises(UsageError):
        parse_exclusions("x:3-1", 3)


def test_to_bounds_step_one_only(write):
    rows = [
        ("u1", "a", "2025-01-01 23:00:00", "web"), ("u1", "b", "2025-01-02 01:00:00", "web"),  # b after --to, within the window
        ("u2", "a", "2025-01-02 10:00:00", "web"), ("u2", "b", "2025-01-02 10:10:00", "web"),  # step 1 after --to
    ]
    text = "user_id,event,timestamp,channel\n" + "\n".join(",".join(r) for r in rows) + "\n"
    loaded = load_events([write("t.csv", text)])
    window = loaded.window(end=dt.date(2025, 1, 1), end_bounds_starts=True)
    assert window.as_of == dt.date(2025, 1, 2)  # the window still runs to the as-of date
    assert users(funnel_table(loaded, window, FunnelSpec(parse_steps("a,b"), 86400))) == [1, 1]
    result = CliRunner().invoke(app, ["funnel", write("t2.csv", text), "--steps", "a,b", "--to", "2025-01-01", "--format", "json", "--quiet"])
    assert [r["users"] for r in __import__("json").loads(result.stdout)] == [1, 1]


def test_step_times_are_contiguous_ordered_and_in_window(examples_dir):
    # on thousands of real-looking users: a user at step k has times for steps 1..k only,
    # non-decreasing and within the window of step 1 (older DuckDB broke this through the
    # NULL ASOF key of a missed step, on data too big for a hand-made case)
    from userops.analytics.funnel import funnel_users

    loaded = load_events([f"{examples_dir}/events.csv"])
    spec = FunnelSpec(parse_steps("home,product_view,add_to_cart,checkout,purchase"), parse_window("7d"))
    u = funnel_users(loaded, loaded.window(), spec)
    times = u[[f"t{k}" for k in range(1, 6)]]
    for k in range(1, 6):
        assert (times[f"t{k}"].notna() == (u["furthest"] >= k)).all()
    for k in range(2, 6):
        both = times[f"t{k}"].notna()
        assert (times.loc[both, f"t{k}"] >= times.loc[both, f"t{k - 1}"]).all()
        assert (times.loc[both, f"t{k}"] <= times.loc[both, "t1"] + pd.Timedelta(days=7)).all()


def test_misspelt_step_or_exclusion_is_named(examples_dir):
    """A step nobody reached, or an exclusion, whose event name is in no event is a warning:
    shown with --quiet (cron mails it), a failure with --strict."""
    events = f"{examples_dir}/events.csv"
    typo = CliRunner().invoke(app, ["funnel", events, "--steps", "home,Purchase", "--format", "csv", "--quiet"])
    assert typo.exit_code == 0, typo.stderr
    assert "userops: warning: no event named 'Purchase' in the data" in typo.stderr and "purchase" in typo.stderr
    assert pd.read_csv(io.StringIO(typo.stdout))["users"].tolist()[1] == 0
    excluded = CliRunner().invoke(app, ["funnel", events, "--steps", "home,purchase", "--exclude", "nope", "--format", "csv"])
    assert "no event named 'nope'" in excluded.stderr
    fine = CliRunner().invoke(app, ["funnel", events, "--steps", "home,purchase", "--exclude", "checkout", "--format", "csv"])
    assert fine.exit_code == 0 and "no event named" not in fine.stderr and "warning" not in fine.stderr
    strict = CliRunner().invoke(app, ["funnel", events, "--steps", "home,Purchase", "--format", "csv", "--strict"])
    assert strict.exit_code == 65 and "no event named 'Purchase'" in strict.stderr and strict.stdout == ""


def test_an_empty_funnel_is_a_warning(examples_dir):
    """Nobody did step 1 in the window (its event exists, but not before --to): a warning
    naming the step and the dates, for the step table and the per-user list alike; no second
    warning when step 1's name is in no event at all."""
    events = f"{examples_dir}/events.csv"
    for extra in ([], ["--users"], ["--trend", "week"]):
        result = CliRunner().invoke(app, ["funnel", events, "--steps", "checkout,purchase", "--to", "2025-01-01", "--format", "csv", "-q", *extra])
        assert result.exit_code == 0, result.stderr
        assert "userops: warning: the funnel is empty: nobody did step 1 (checkout) up to 2025-01-01" in result.stderr
    typo = CliRunner().invoke(app, ["funnel", events, "--steps", "Checkout,purchase", "--format", "csv", "-q"])
    assert typo.stderr.count("warning:") == 1 and "no event named 'Checkout'" in typo.stderr
    entered = CliRunner().invoke(app, ["funnel", events, "--steps", "checkout,purchase", "--format", "csv", "-q"])
    assert entered.exit_code == 0 and entered.stderr == ""


def test_as_of_before_every_event_says_so(examples_dir):
    for args in (["funnel", "--steps", "home,purchase"], ["retention"]):
        result = CliRunner().invoke(app, [args[0], f"{examples_dir}/events.csv", *args[1:], "--as-of", "2020-01-01", "--format", "csv"])
        assert result.exit_code == 0, result.stderr
        assert "no events up to 2020-01-01 (the data has events from 2025-04-07 to 2025-06-29)" in result.stderr


@pytest.mark.parametrize(
    ("steps", "order", "exclude"),
    [
        ("home,product_view,add_to_cart,checkout,purchase", "ordered", None),
        ("add_to_cart,checkout,purchase", "strict", None),
        ("add_to_cart,checkout,purchase", "unordered", None),
        ("home,add_to_cart,purchase", "ordered", "home:2-3"),
    ],
)
def test_funnel_with_trend_is_both_tables_from_one_pass(examples_dir, steps, order, exclude):
    """The report's funnel and weekly trend come from one scan: the same tables as the
    funnel without and with --trend week (the best attempt of all is its week's best)."""
    from userops.analytics.funnel import funnel_with_trend, parse_exclusions

    loaded = load_events([f"{examples_dir}/events.csv"])
    window = loaded.window("2025-06-30")
    parsed = parse_steps(steps)
    spec = FunnelSpec(parsed, parse_window("7d"), order, parse_exclusions(exclude, len(parsed)) if exclude else ())
    overall, trend = funnel_with_trend(loaded, window, spec, "week")
    pd.testing.assert_frame_equal(overall, funnel_table(loaded, window, spec))
    pd.testing.assert_frame_equal(trend, funnel_table(loaded, window, spec, trend="week"))
    assert overall["users"].iloc[-1] > 0 and trend["period"].nunique() > 4


@pytest.mark.parametrize("steps,order,exclude", [("a,b,c", "ordered", None), ("a|d,b,c", "strict", None), ("b,b,c", "unordered", "x"), ("a,b,c", "ordered", "x:1-2")])
def test_engine_step_statistics_equal_the_per_person_rows(write, steps, order, exclude):
    """The step tables are aggregated in the engine (counts, median and mean time between
    steps); they equal the table computed in Python from the per-person rows the retargeting
    list gets, on a random clickstream with ties and fractions of a second."""
    import random

    from userops.analytics.funnel import funnel_users, parse_exclusions

    rng = random.Random(5)
    lines = ["user_id,event,timestamp"]
    for person in range(80):
        for _ in range(rng.randint(1, 10)):
            second = rng.choice(["00", "00", "07.250000", "13.5", "59.999999"])
            lines.append(f"u{person},{rng.choice('abcdx')},2025-01-{rng.randint(1, 9):02d} {rng.choice([10, 11])}:{rng.randint(0, 2):02d}:{second}")
    loaded = load_events([write("random.csv", "\n".join(lines) + "\n")])
    parsed = parse_steps(steps)
    spec = FunnelSpec(parsed, 86400, order, parse_exclusions(exclude, len(parsed)) if exclude else ())
    window = loaded.window()
    table = funnel_table(loaded, window, spec)
    pd.testing.assert_frame_equal(table, step_table(funnel_users(loaded, window, spec), spec))
    assert table["users"].iloc[1] > 0 and table["median_time_from_previous_s"].notna().iloc[1]
