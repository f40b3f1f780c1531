"""Conversion funnels on events (SPEC §4 funnel; the PostHog-style definitions).

Definitions (what the tests pin down):

* ``steps`` is a list of steps; a step is one event name or alternatives ``a|b``.
* An *attempt* starts at a step-1 event (whose time must lie in the window; later steps may
  follow it up to the as-of date). Step k is reached when, after the event that reached step
  k-1, an event of step k happens no later than ``window`` after the step-1 time (the limit
  itself counts; one second more does not). The window is a duration in real time: event
  times converted to a zone with ``--tz`` are compared as instants, so 14 days across a DST
  change is 14 × 24 hours (as in PostHog). A user's events are ordered by time; events with the
  same timestamp in funnel order (the earliest step they can fill first, then exclusion
  events, then any others, then by name), so a step may happen at the same time as the one
  before it (as in PostHog) and a dates-only export counts a day's steps in funnel order.
* ``ordered`` (default): other events may come between steps; the earliest qualifying event
  is taken for each step. ``strict``: step k must be the user's very next event after step
  k-1 (any other event of the user breaks the attempt). ``unordered``: from an attempt start
  (any step event), every step with an event in the window counts, in any order; the step
  times, sorted, give the times between steps. One event fills one step: ``view,view,cart``
  needs two views; steps that share some events but not all are refused (ambiguous).
* Each user is counted once, at the furthest step any attempt reached; their times are those
  of the earliest attempt that reached it. With ``session`` the unit is a user's session
  (attempts never span sessions), so a user who converts in one session but not in another
  counts twice. ``--by PROPERTY`` is first-touch, as in PostHog: the first non-empty value of
  the property among the user's funnel events (``(none)`` when every one is blank).
* Exclusions (ordered, strict): an attempt with an excluded event after its step FROM and
  before its step TO (or, never reaching TO, before its window ended) is excluded; the user's
  furthest attempt decides (a clean one wins a tie), and a user whose furthest attempt is
  excluded is not in the funnel at all, step 1 included. Unordered funnels take exclusions
  over the whole funnel only: an excluded event resets an attempt's progress (an attempt it
  cuts short before completion counts for nothing) and later attempts start afresh.
* Trends use the best attempt per user
  and period of the step-1 time; a period is ``complete`` when every attempt in it has had its
  whole window by the as-of date (otherwise its conversion is not final and reads low).

The scan aggregates each table's step counts and step-to-step times in the engine
(:func:`userops.scan.funnel.funnel_stats`); this module turns them into the per-step tables.
Only the retargeting list (``--users``) brings one row per user back
(:func:`userops.scan.funnel.funnel_users`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from userops.errors import UsageError
from userops.scan import funnel as scan_funnel

if TYPE_CHECKING:  # pragma: no cover
    import datetime as dt

    import pandas as pd

    from userops.io.normalise import LoadedEvents
    from userops.scan.window import Window

ORDERS = ("ordered", "strict", "unordered")
#: Steps a funnel takes at most: the scan joins once per step, and an unordered funnel looks
#: for every step from every step event (20 unordered steps on 5M events took 8.8 GB).
MAX_STEPS = 20
MAX_UNORDERED_STEPS = 8
#: Steps and exclusions together: each is a bit of one integer per event in the scan.
MAX_EVENT_SETS = 30
#: --by groups shown; the rest are pooled into "(other)" (PostHog shows 25 and "Other").
MAX_GROUPS = 50
OTHER_LABEL = "(other)"
NONE_LABEL = "(none)"
STEP_COLUMNS = [
    "step", "event", "users", "conversion_from_previous", "conversion_from_start", "dropped",
    "median_time_from_previous_s", "mean_time_from_previous_s",
]
#: The step table of a session funnel counts sessions; the repeat-purchase funnel times its
#: steps in days (weeks between orders read badly as millions of seconds).
SESSIONS = "sessions"
DAY_TIME_COLUMNS = ["median_days_from_previous", "mean_days_from_previous"]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class FunnelSpec:
    steps: tuple[tuple[str, ...], ...]
    window_s: int = 14 * 86400
    order: str = "ordered"
    #: (event names, from step, to step): an attempt with one of these events between the two
    #: steps is not counted (see parse_exclusions)
    exclusions: tuple[tuple[tuple[str, ...], int, int], ...] = ()

    def __post_init__(self) -> None:
        """Checked on construction, so the command line refuses a bad spec before reading data."""
        if self.order not in ORDERS:
            raise UsageError(f"--order must be one of {', '.join(ORDERS)} (got {self.order!r})")
        most = MAX_UNORDERED_STEPS if self.order == "unordered" else MAX_STEPS
        if len(self.steps) > most:
            raise UsageError(
                f"{len(self.steps)} steps: {'an unordered' if self.order == 'unordered' else 'a'} funnel takes at most {most}",
                hint="split it into shorter funnels" + (" or use --order ordered" if self.order == "unordered" else ""),
            )
        if len(self.steps) + len(self.exclusions) > MAX_EVENT_SETS:
            raise UsageError(f"{len(self.steps)} steps and {len(self.exclusions)} exclusions: at most {MAX_EVENT_SETS} together")
        if self.order != "unordered":
            return
        partial = [names for names, first, last in self.exclusions if (first, last) != (1, len(self.steps))]
        if partial:
            raise UsageError(
                f"--exclude {'|'.join(partial[0])}: an unordered funnel has no steps between which to exclude",
                hint="exclude over the whole funnel (no :FROM-TO), or use --order ordered",
            )
        # steps naming the same events need distinct events each; partly shared ones are refused
        for i, a in enumerate(self.steps):
            for j, b in enumerate(self.steps[i + 1:], i + 2):
                if set(a) != set(b) and set(a) & set(b):
                    raise UsageError(
                        f"in an unordered funnel, step {i + 1} ({'|'.join(a)}) and step {j} ({'|'.join(b)}) share some events but not all: "
                        "which step an event fills would be ambiguous",
                        hint="make them the same step list, or use --order ordered",
                    )

    @property
    def labels(self) -> list[str]:
        return ["|".join(step) for step in self.steps]


def parse_steps(text: str | list[str]) -> tuple[tuple[str, ...], ...]:
    """``"home,product_view|search,purchase"`` -> (("home",), ("product_view", "search"), ("purchase",))."""
    parts = text if isinstance(text, (list, tuple)) else str(text).split(",")
    steps = tuple(tuple(a.strip() for a in str(p).split("|") if a.strip()) for p in parts)
    steps = tuple(s for s in steps if s)
    if len(steps) < 2:
        raise UsageError("a funnel needs at least two steps", hint="e.g. --steps home,product_view,purchase")
    return steps


def parse_exclusions(items: list[str] | str | None, n_steps: int) -> tuple[tuple[tuple[str, ...], int, int], ...]:
    """``--exclude refund`` (between step 1 and the last) or ``--exclude refund|cancel:2-4``.

    Rule: an attempt is excluded when an excluded event happens after its step-FROM event
    and before its step-TO event — or, if it never reached step TO, before the end of its
    conversion window. A user whose furthest attempt is excluded is not in the funnel at all
    (see the module docstring)."""
    if not items:
        return ()
    out = []
    for item in [items] if isinstance(items, str) else items:
        for part in [p for p in str(item).split(",") if p.strip()]:
            names, _, span = part.partition(":")
            events = tuple(e.strip() for e in names.split("|") if e.strip())
            first, last = 1, n_steps
            if span:
                match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", span)
                if not match:
                    raise UsageError(f"--exclude {part!r}: the range must look like 2-4")
                first, last = int(match.group(1)), int(match.group(2))
            if not events or not 1 <= first < last <= n_steps:
                raise UsageError(f"--exclude {part!r}: steps must satisfy 1 <= FROM < TO <= {n_steps}")
            out.append((events, first, last))
    return tuple(out)


def parse_window(text: str | int) -> int:
    """``14d``, ``36h``, ``90m``, ``2w``, ``3600s`` or a number of seconds -> seconds."""
    from userops.analytics.periods import LONGEST_SPAN_DAYS

    if isinstance(text, int):
        text = f"{text}s"
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", str(text).lower())
    if not match or int(match.group(1)) <= 0:
        raise UsageError(f"--window {text!r} is not a duration", hint="use e.g. 30m, 12h, 14d, 2w")
    seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds > LONGEST_SPAN_DAYS * 86400:
        raise UsageError(f"--window {text!r} is longer than {LONGEST_SPAN_DAYS:,} days (ten years)")
    return seconds


def step_table(users: "pd.DataFrame", spec: FunnelSpec) -> "pd.DataFrame":
    """Per step: users reaching it, conversions, drop-off and time from the previous step,
    from per-person rows such as :func:`funnel_users` gives (the engine's tables come from
    :func:`stats_table`).

    ``users`` has one row per user with ``furthest`` (1..n) and ``t1``..``tn`` (step times of
    the chosen attempt; NaT where not reached)."""
    import numpy as np

    n = len(spec.steps)
    furthest = users["furthest"].to_numpy("int64") if len(users) else np.array([], dtype="int64")
    reached: list[int] = [int((furthest >= 1).sum())]
    median_us: list[float | None] = [None]
    total_us: list[int | None] = [None]
    for k in range(2, n + 1):
        mask = furthest >= k
        reached.append(int(mask.sum()))
        if not reached[-1]:
            median_us.append(None)
            total_us.append(None)
            continue
        gaps = (users[f"t{k}"][mask].to_numpy("datetime64[us]") - users[f"t{k - 1}"][mask].to_numpy("datetime64[us]")).astype("int64")
        median_us.append(float(np.median(gaps)))
        # exact, as the engine's sum: whole seconds and the microseconds summed apart, so
        # neither int64 total can overflow
        seconds, micros = np.divmod(gaps, 1_000_000)
        total_us.append(int(seconds.sum()) * 1_000_000 + int(micros.sum()))
    return stats_table(scan_funnel.StepStats(reached, median_us, total_us), spec)


def counted_column(table: "pd.DataFrame") -> str | None:
    """The column of a step table that counts who reached each step (users or sessions)."""
    return next((c for c in ("users", SESSIONS) if c in table), None)


def step_columns(*, session: bool = False, days: bool = False) -> list[str]:
    """The step table's columns: ``sessions`` for a session funnel, times in days for ``days``."""
    columns = list(STEP_COLUMNS)
    if session:
        columns[2] = SESSIONS
    if days:
        columns[6:8] = DAY_TIME_COLUMNS
    return columns


def stats_table(stats: "scan_funnel.StepStats | None", spec: FunnelSpec, *, session: bool = False, days: bool = False) -> "pd.DataFrame":
    """The step table from the people (``session``: sessions) reaching each step and the
    step-to-step times (median, and mean from the exact total; in seconds to 0.1, or with
    ``days`` in days to 0.01); None is a funnel nobody entered."""
    import numpy as np
    import pandas as pd

    columns = step_columns(session=session, days=days)
    unit, digits = (86400.0, 2) if days else (1.0, 1)
    n = len(spec.steps)
    counts = stats.reached if stats is not None else [0] * n
    rows = []
    for k in range(1, n + 1):
        reached = counts[k - 1]
        prev = counts[k - 2] if k > 1 else reached
        median = mean = None
        median_us, total_us = (stats.median_us[k - 1], stats.total_us[k - 1]) if stats is not None else (None, None)
        if k > 1 and reached and median_us is not None and total_us is not None:
            median = median_us / 1e6
            mean = total_us / (reached * 1_000_000)  # true division of exact integers: one rounding
        rows.append(
            [
                k,
                spec.labels[k - 1],
                reached,
                round(reached / prev, 4) if prev else np.nan,
                round(reached / counts[0], 4) if counts[0] else np.nan,
                prev - reached,
                np.nan if median is None else round(median / unit, digits),
                np.nan if mean is None else round(mean / unit, digits),
            ]
        )
    return pd.DataFrame(rows, columns=columns).astype({c: "float64" for c in columns[3:] if c != "dropped"})


USER_COLUMNS = ["user_id", "furthest_step", "furthest_event", "step1_time", "last_step_time"]


def funnel_users(loaded: "LoadedEvents", window: "Window", spec: FunnelSpec, *, session: bool = False) -> "pd.DataFrame":
    """One row per user (or session) with their best attempt, sorted: ``furthest`` and
    ``t1``..``tn`` (the retargeting list's rows)."""
    return scan_funnel.funnel_users(loaded, window, _query(loaded, spec, session=session))


def _query(
    loaded: "LoadedEvents", spec: FunnelSpec, *, by: str | None = None, trend: str | None = None, session: bool = False, overall: bool = False
) -> "scan_funnel.FunnelQuery":
    """The scan's description of the funnel, once the options are checked against the load."""
    check_by_trend(by, trend)
    if by is not None and by not in loaded.properties:
        raise UsageError(f"--by {by!r} was not loaded as a property")
    if session and not all(m.get("session") for m in loaded.mappings):
        raise UsageError("--session needs a session column", hint="set --session-col")
    if session and not loaded.sessions:
        raise UsageError("the events were loaded without their session ids", hint="load them with sessions=True")
    return scan_funnel.FunnelQuery(spec.steps, spec.window_s, spec.order, by, trend, session, spec.exclusions, overall)


def _stats(loaded: "LoadedEvents", window: "Window", query: "scan_funnel.FunnelQuery") -> "scan_funnel.FunnelStats":
    return scan_funnel.funnel_stats(loaded, window, query, max_groups=MAX_GROUPS, none_label=NONE_LABEL, other_label=OTHER_LABEL)


def dates_only_note(loaded: "LoadedEvents") -> str | None:
    """A note when the events carry dates but no times of day (a daily export): steps of one
    day then count in funnel order and step times are whole days; None otherwise."""
    if scan_funnel.events_have_times(loaded):
        return None
    return "the timestamps have no time of day: events of the same day count in funnel order, and times between steps are whole days"


def missing_events(loaded: "LoadedEvents", spec: FunnelSpec, table: "pd.DataFrame") -> list[str]:
    """Step and exclusion event names that no usable event has (a typo, another case): a
    funnel with such a step is all zeros from there on, which looks like a real answer. The
    check is a scan of the events, so it runs only when ``table`` (the funnel's output) has
    a step nobody reached or is empty, or exclusions are given (a misspelt one excludes nothing)."""
    counted = counted_column(table)
    if not (spec.exclusions or table.empty or (counted is not None and (table[counted] == 0).any())):
        return []
    names = sorted({name for step in spec.steps for name in step} | {name for names, _, _ in spec.exclusions for name in names})
    present = scan_funnel.events_present(loaded, names)
    return [name for name in names if name not in present]


def funnel_warnings(loaded: "LoadedEvents", window: "Window", spec: FunnelSpec, table: "pd.DataFrame") -> list[str]:
    """What makes a funnel's answer look real when it is not, as warnings (cron mails them;
    ``--strict`` fails on them): step or exclusion names no event has, and a funnel nobody
    entered. ``table`` is the step table (per group or period too) or the per-user list."""
    import datetime as dt

    from userops.glossary import say

    warnings: list[str] = []
    missing = missing_events(loaded, spec, table)
    if missing:
        common = ", ".join(common_events(loaded, window))
        warnings.append(say("missing_events", names=", ".join(repr(m) for m in missing), common=common))
    counted = counted_column(table)
    entered = int(table.loc[table["step"] == 1, counted].sum()) if counted is not None and "step" in table else len(table)
    if not entered and not set(spec.steps[0]) & set(missing):
        last_day = (window.until - dt.timedelta(days=1)).date() if window.until is not None else window.as_of
        since = say("empty_funnel_since", start=window.start.date()) if window.start is not None else ""
        warnings.append(say("empty_funnel", step=spec.labels[0], since=since, last=last_day))
    return warnings


def common_events(loaded: "LoadedEvents", window: "Window", limit: int = 8) -> list[str]:
    """The event names most users have in the window, most first (for a message)."""
    return [name for name, _ in scan_funnel.event_user_counts(loaded, window, limit=limit)]


def users_table(users: "pd.DataFrame", spec: FunnelSpec, *, dropped_at: str | None = None) -> "pd.DataFrame":
    """The retargeting list: per user (and session), the furthest step reached, its event,
    the step-1 time and the time of the last step reached. ``dropped_at`` keeps the users whose
    furthest step is that one (``add_to_cart``: added to the cart and went no further)."""
    import numpy as np
    import pandas as pd

    labels = spec.labels
    furthest = users["furthest"].to_numpy("int64")
    times = np.column_stack([users[f"t{k}"].to_numpy("datetime64[us]") for k in range(1, len(labels) + 1)]) if len(users) else np.empty((0, len(labels)), "datetime64[us]")
    last = times[np.arange(len(users)), np.maximum(furthest, 1) - 1] if len(users) else np.array([], "datetime64[us]")
    out = pd.DataFrame(
        {
            "user_id": users["user_id"].to_numpy(),
            "furthest_step": furthest,
            "furthest_event": [labels[k - 1] for k in furthest],
            "step1_time": users["t1"].to_numpy("datetime64[us]"),
            "last_step_time": last,
        }
    )
    if "session_id" in users:
        out.insert(1, "session_id", users["session_id"].to_numpy())
    if dropped_at is not None:
        out = out[out["furthest_step"] == dropped_step(spec, dropped_at)].reset_index(drop=True)
    return out


def dropped_step(spec: FunnelSpec, dropped_at: str) -> int:
    """The step number ``--dropped-at`` names (a step's label or one of its alternatives)."""
    labels = spec.labels
    matches = [i + 1 for i, label in enumerate(labels) if dropped_at == label or dropped_at in label.split("|")]
    if not matches:
        raise UsageError(f"--dropped-at {dropped_at!r} is not a step", hint=f"steps: {', '.join(labels)}")
    return matches[0]


#: Event names that mean a purchase, best first (exact names, then patterns), for a funnel
#: whose steps were not given.
PURCHASE_NAMES = ("purchase", "order_completed", "order completed", "checkout_completed", "purchased", "order", "paid", "pay_success", "购买", "支付成功", "下单", "成交")
PURCHASE_PATTERN = re.compile(r"purchase|order.?(complete|placed|paid|success)|checkout.?(complete|success)|transaction|payment.?success|paid|购买|支付|成交|下单", re.I)
#: An inferred step must come before the purchase for at least this share of purchasers.
INFERRED_STEP_SHARE = 0.25


def infer_steps(loaded: "LoadedEvents", window: "Window", *, max_steps: int = 5, where: str = "") -> tuple[tuple[tuple[str, ...], ...], str]:
    """Funnel steps when none are given: ending at a purchase-like event, the events most
    purchasers did before their first purchase (at least a quarter of them), ordered by how far
    ahead of the purchase they come (median time), so the steps follow how users move. Raises
    a DataError naming what is missing when no sensible funnel can be built."""
    from userops.errors import DataError

    names = [name for name, _ in scan_funnel.event_user_counts(loaded, window, limit=200)]
    if len(names) < 2:
        raise DataError("fewer than two kinds of event in the window to build a funnel from")
    exact = [n for n in PURCHASE_NAMES if n in names]
    purchase = exact[0] if exact else next((n for n in names if PURCHASE_PATTERN.search(n)), None)
    if purchase is None:
        raise DataError(f"no purchase-like event to end a funnel at (events: {', '.join(names[:6])}); set the steps")
    buyers, paths = scan_funnel.purchase_paths(loaded, window, (purchase,), limit=50)
    before = [(event, users, lead) for event, users, lead in paths if users >= INFERRED_STEP_SHARE * buyers]
    if not before:
        raise DataError(f"no event comes before {purchase!r} for a quarter of its users; set the steps")
    kept = sorted(before, key=lambda row: (-row[1], row[0]))[: max_steps - 1]
    ordered = sorted(kept, key=lambda row: (-row[2], row[0]))
    steps = tuple((event,) for event, _, _ in ordered) + ((purchase,),)
    from userops.glossary import say

    note = say("steps_inferred", buyers=f"{buyers:,}", purchase=repr(purchase), steps=" → ".join(s[0] for s in steps), where=where)
    return steps, note


def check_by_trend(by: str | None, trend: str | None) -> None:
    if by is not None and trend is not None:
        raise UsageError("use --by or --trend, not both")


def repeat_funnel(loaded, window: "Window", n: int = 3, *, window_s: int | None = None, lang: str = "en") -> "pd.DataFrame":
    """First order -> second order -> ... -> n-th order, per customer whose first purchase
    falls in the window; the optional window limits how long after the first order later
    ones count. Same columns as any funnel."""
    if n < 2:
        raise UsageError("--repeat needs at least 2 orders")
    from userops.glossary import in_language, say

    # the steps are named in ``lang`` ("order 2", "第 2 单")
    spec = FunnelSpec(tuple((in_language(say("repeat_order", k=k), lang),) for k in range(1, n + 1)), window_s or 0)
    return stats_table(scan_funnel.repeat_stats(loaded, window, n, window_s), spec, days=True)


def funnel_table(
    loaded: "LoadedEvents", window: "Window", spec: FunnelSpec, *, by: str | None = None, trend: str | None = None, session: bool = False
) -> "pd.DataFrame":
    """The funnel as a table: per step, or per group and step (``by``), or per period and step
    (``trend``). The engine aggregates: one row per table comes back, not one per person."""
    stats = _stats(loaded, window, _query(loaded, spec, by=by, trend=trend, session=session))
    if by is None and trend is None:
        return stats_table(stats.overall, spec, session=session)
    return split_table(stats, window, spec, by=by, trend=trend, session=session)


def funnel_with_trend(loaded: "LoadedEvents", window: "Window", spec: FunnelSpec, trend: str) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """The funnel and its trend per ``trend`` period (the report shows both) from one pass
    over the events: the tables of :func:`funnel_table` without and with ``trend``."""
    stats = _stats(loaded, window, _query(loaded, spec, trend=trend, overall=True))
    return stats_table(stats.overall, spec), split_table(stats, window, spec, trend=trend)


def split_table(
    stats: "scan_funnel.FunnelStats", window: "Window", spec: FunnelSpec, *, by: str | None = None, trend: str | None = None, session: bool = False
) -> "pd.DataFrame":
    """The step table per group (``by``) or per period (``trend``), in the order of the
    groups' names or of the periods."""
    import pandas as pd

    frames = []
    for value in sorted(stats.parts):
        table = stats_table(stats.parts[value], spec, session=session)
        table.insert(0, by if by is not None else "period", value if by is not None else pd.Timestamp(value).date())
        if trend is not None:
            table.insert(1, "complete", trend_period_complete(pd.Timestamp(value).date(), trend, spec.window_s, window))
        frames.append(table)
    if not frames:
        empty = stats_table(None, spec, session=session).iloc[0:0]
        empty.insert(0, by if by is not None else "period", [])
        if trend is not None:
            empty.insert(1, "complete", pd.Series([], dtype=bool))
        return empty
    table = pd.concat(frames, ignore_index=True)
    table.attrs["pooled_groups"] = stats.pooled
    return table


def trend_period_complete(start: "dt.date", period: str, window_s: int, window: "Window") -> bool:
    """A trend period is complete when every attempt starting in it has had its whole window
    by the as-of date: its last step-1 time plus the window is before the window's end. In an
    incomplete period, attempts still inside their window count as failures, so its conversion
    reads low (a false drop at the end of every trend)."""
    import datetime as dt

    from userops.analytics.periods import next_period_start

    return dt.datetime.combine(next_period_start(start, period), dt.time()) + dt.timedelta(seconds=window_s) <= window.end
