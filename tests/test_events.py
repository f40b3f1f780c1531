"""Loading clickstream events (the ground for funnel and retention)."""

import datetime as dt

import pandas as pd
import pytest

from userops.errors import DataError, UsageError
from userops.io.normalise import LoadOptions, load_events
from userops.scan.load import events_frame

EVENTS = """user_id,session_id,event,timestamp,channel
u1,s1,home,2025-05-01 10:00:00,email
u1,s1,product_view,2025-05-01 10:01:00,email
,s9,home,2025-05-01 11:00:00,social
u2,s2,,2025-05-01 12:00:00,social
u2,s2,checkout,not a time,social
u2,s3,purchase,2025-05-03T09:00:00Z,
"""


def test_events_load_with_drops_and_properties(write):
    loaded = load_events([write("e.csv", EVENTS)], properties=("channel",))
    assert loaded.drops.rows_read == 6
    assert loaded.drops.dropped == {"without user id": 1, "without event name": 1, "unparseable dates": 1}
    assert loaded.n_events == 3
    assert (loaded.first_ts, loaded.last_ts) == (dt.datetime(2025, 5, 1, 10), dt.datetime(2025, 5, 3, 9))
    frame = events_frame(loaded.engine, loaded.window())
    assert frame[["user_id", "session_id", "event"]].values.tolist() == [
        ["u1", "s1", "home"], ["u1", "s1", "product_view"], ["u2", "s3", "purchase"],
    ]
    assert frame["prop:channel"].tolist()[:2] == ["email", "email"] and pd.isna(frame["prop:channel"].iloc[2])
    # as of 2025-05-02 the purchase on the 3rd is after the as-of date
    window = loaded.window("2025-05-02")
    assert loaded.drops_for(window).after_as_of == 1
    assert len(events_frame(loaded.engine, window)) == 2


def test_examples_events(examples_dir):
    loaded = load_events([f"{examples_dir}/events.csv"], properties=("channel", "platform"))
    assert loaded.drops.dropped == {}
    assert loaded.n_events == loaded.drops.rows_read > 40_000
    assert loaded.first_ts.date() >= dt.date(2025, 4, 7) and loaded.last_ts.date() <= dt.date(2025, 6, 29)
    mapping = loaded.mappings[0].columns
    assert (mapping["user"], mapping["event"], mapping["time"], mapping["session"]) == ("user_id", "event", "timestamp", "session_id")


def test_events_errors(write):
    with pytest.raises(DataError, match=r"no event name column \(found: user_id, timestamp\).*--event-col"):
        load_events([write("e.csv", "user_id,timestamp\nu1,2025-01-01\n")])
    with pytest.raises(UsageError, match="no column 'nope'"):
        load_events([write("e2.csv", EVENTS)], properties=("nope",))
    with pytest.raises(DataError, match="--strict"):
        load_events([write("e3.csv", EVENTS)], LoadOptions(strict=True))
