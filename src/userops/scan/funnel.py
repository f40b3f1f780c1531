"""Funnel queries over the events: each person's best attempt (ordered, strict or unordered),
the repeat-purchase funnel on orders, and the event lookups the funnel command needs.

The rules (what an attempt is, which one counts, exclusions, first-touch breakdowns) are
stated in :mod:`userops.analytics.funnel`; this module is their SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from userops.errors import DataError
from userops.scan import sql
from userops.scan.load import HasEvents, HasOrders
from userops.scan.sql import quote_ident as q
from userops.scan.window import PERIOD_UNITS, Window

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

Steps = tuple[tuple[str, ...], ...]
#: (excluded event names, from step, to step)
Exclusions = tuple[tuple[tuple[str, ...], int, int], ...]


@dataclass
class _Plan:
    """What the attempt builders share: the step count, the CTEs so far and the SQL helpers."""

    n: int
    window_s: int
    tz: str | None
    carry: str  # ", grp" with a breakdown
    ctes: list[str] = field(default_factory=list)

    @staticmethod
    def has_bit(bit: int) -> str:
        return f"(m & {1 << bit}) <> 0"

    def instant(self, column: str) -> str:
        # wall-clock times in a zone with DST: compare the instants they stand for
        if self.tz and self.tz.upper() != "UTC":
            return f"timezone({sql.sql_str(self.tz)}, {column})"
        return column

    def in_window(self, later: str, start: str) -> str:
        return f"{self.instant(later)} <= {self.instant(start)} + INTERVAL {int(self.window_s)} SECOND"


@dataclass(frozen=True)
class FunnelQuery:
    """What a funnel computes, as the scan needs it (see :mod:`userops.analytics.funnel`)."""

    steps: Steps
    window_s: int
    order: str
    by: str | None = None
    trend: str | None = None
    session: bool = False
    exclusions: Exclusions = ()
    #: with ``trend``: also mark each user's best attempt of all periods (column ``best``)
    overall: bool = False


def funnel_users(events: HasEvents, window: Window, funnel: FunnelQuery) -> "pd.DataFrame":
    """One row per user (per period with ``trend``), sorted by user: the furthest step of
    their best attempt and its step times ``t1``..``tn``. With ``trend`` and ``overall``, a
    column ``best`` marks each user's best attempt of all periods — the row of the funnel
    without ``trend`` (the best of all attempts is the best of its period)."""
    sort = f" ORDER BY 1{', 2' if funnel.session else ''}{', period' if funnel.trend else ''}"
    return events.engine.frame(best_attempts(events, window, funnel) + sort)


@dataclass(frozen=True)
class StepStats:
    """Per step k of one funnel table: the people who reached it (``reached[k-1]``) and, from
    step 2, the median and the total of the microseconds from step k-1 to step k among them
    (None when nobody reached it). Totals are exact integers, so means do not depend on the
    order in which rows were added."""

    reached: list[int]
    median_us: list[float | None]
    total_us: list[int | None]


@dataclass(frozen=True)
class FunnelStats:
    """The funnel's step statistics: ``overall`` (every person, their best attempt) and, with
    a breakdown or a trend, one per group or period in ``parts`` — groups beyond ``max_groups``
    (by people) pooled, their number in ``pooled``."""

    overall: StepStats | None
    parts: dict[Any, StepStats]  # group name (str) or period start (datetime) -> stats
    pooled: int = 0


def funnel_stats(events: HasEvents, window: Window, funnel: FunnelQuery, *, max_groups: int, none_label: str, other_label: str) -> FunnelStats:
    """The funnel's counts and step-time statistics, aggregated in the engine: one row per
    table comes back, not one per person. Without ``by``/``trend`` only ``overall``; with
    them ``parts`` (and ``overall`` too for a trend with ``overall``). ``by`` groups: a person
    without a value counts under ``none_label``; beyond the ``max_groups`` largest groups
    (ties by name) the rest are pooled under ``other_label``."""
    n = len(funnel.steps)
    columns = _step_stat_columns(n)
    people = best_attempts(events, window, funnel)
    if funnel.by is not None:
        # the groups by people, largest first (ties by name); those past max_groups pooled
        people = f"""WITH l AS (SELECT *, coalesce(CAST("group" AS VARCHAR), {sql.sql_str(none_label)}) AS label FROM ({people})),
            g AS (SELECT label, row_number() OVER (ORDER BY count(*) DESC, label) AS place FROM l GROUP BY label)
            SELECT l.*, g.place > {int(max_groups)} AS pooled,
                   CASE WHEN g.place > {int(max_groups)} THEN {sql.sql_str(other_label)} ELSE l.label END AS key
            FROM l JOIN g USING (label)"""
        query = f"WITH u AS ({people}) SELECT 'part', key, {columns}, count(DISTINCT label) FILTER (WHERE pooled) FROM u GROUP BY key"
    elif funnel.trend is not None:
        parts = f"SELECT 'part', period, {columns}, 0 FROM u GROUP BY period"
        if funnel.overall:
            query = f"WITH u AS MATERIALIZED ({people}) SELECT 'overall', NULL, {columns}, 0 FROM u WHERE best UNION ALL {parts}"
        else:
            query = f"WITH u AS ({people}) {parts}"
    else:
        query = f"WITH u AS ({people}) SELECT 'overall', NULL, {columns}, 0 FROM u"
    overall: StepStats | None = None
    parts_by_key: dict[Any, StepStats] = {}
    pooled = 0
    for part, key, *values in events.engine.rows(query):
        pooled += int(values.pop() or 0)
        step = _step_stats(values, n)
        if part == "overall":
            overall = step
        else:
            parts_by_key[key] = step
    return FunnelStats(overall, parts_by_key, pooled)


def _step_stat_columns(n: int) -> str:
    """The aggregates of :class:`StepStats` over people rows (``furthest``, ``t1``..``tn``)."""
    stats = ["count(*)"]
    for k in range(2, n + 1):
        gap, among = f"epoch_us(t{k}) - epoch_us(t{k - 1})", f"FILTER (WHERE furthest >= {k})"
        stats += [f"count(*) {among}", f"quantile_cont({gap}, 0.5) {among}", f"sum({gap}) {among}"]
    return ", ".join(stats)


def _step_stats(values: list, n: int) -> StepStats:
    """:class:`StepStats` from the values of :func:`_step_stat_columns`."""
    reached = [int(values[0])] + [int(values[1 + 3 * i]) for i in range(n - 1)]
    median_us: list[float | None] = [None, *(values[2 + 3 * i] for i in range(n - 1))]
    total_us: list[int | None] = [None, *(None if values[3 + 3 * i] is None else int(values[3 + 3 * i]) for i in range(n - 1))]
    return StepStats(reached, median_us, total_us)


def best_attempts(events: HasEvents, window: Window, funnel: FunnelQuery) -> str:
    """The query of :func:`funnel_users`, unsorted."""
    steps, window_s, order, by, trend, session, exclusions, overall = (
        funnel.steps, funnel.window_s, funnel.order, funnel.by, funnel.trend, funnel.session, funnel.exclusions, funnel.overall,
    )
    if events.facts.activity is not None:
        raise DataError("the events were loaded as daily activity (for retention); funnels need every event")
    n = len(steps)
    group = f", {q(sql.property_column(by))} AS grp" if by else ""
    # the unit of the funnel: a user, or with ``session`` a user's session (user \x1f session)
    unit = "concat_ws(chr(31), user_id, coalesce(session_id, ''))" if session else "user_id"
    # each event carries a bit mask of the steps (and exclusions) it belongs to instead of its
    # name. Events at the same time are numbered in funnel order (the earliest step they can
    # fill first, then exclusions, then other events; then by name), so a later step may
    # happen at the same time as the one before it, as in PostHog, and a date-only export is
    # read as "in funnel order within a day" rather than alphabetically. Only the order of
    # the step and exclusion events matters, so only they are numbered — except in a strict
    # funnel, where every event counts as a gap. The name only orders events of one set
    # (alternatives ``a|b``): other events are interchangeable, so without alternatives the
    # names are not carried through the sort. A person's events are numbered in 4 bytes.
    sets = [*steps, *(x[0] for x in exclusions)]
    mask = " + ".join(f"(({sql.in_list('event', step)})::INTEGER << {bit})" for bit, step in enumerate(sets))
    first_set = "CASE " + " ".join(f"WHEN (m & {1 << bit}) <> 0 THEN {bit}" for bit in range(len(sets))) + f" ELSE {len(sets)} END"
    by_name = ", event" if any(len(names) > 1 for names in sets) else ""
    keep = "" if order == "strict" else "WHERE m <> 0"
    numbered = (
        f"SELECT user_id, m, ts, CAST(row_number() OVER (PARTITION BY user_id ORDER BY ts, {first_set}{by_name}) AS INTEGER) AS seq"
        f"{', grp' if by else ''} FROM (SELECT {unit} AS user_id, {mask} AS m, event_ts AS ts{', event' if by_name else ''}{group} "
        f"FROM events WHERE reason IS NULL AND {window.within('event_ts')}) {keep}"
    )
    plan = _Plan(n, window_s, events.facts.tz, ", grp" if by else "", [f"e AS MATERIALIZED ({numbered})"])
    for k in range(1, n + 1):
        plan.ctes.append(f"s{k} AS (SELECT user_id, ts, seq{plan.carry} FROM e WHERE {plan.has_bit(k - 1)})")
    builders: dict[str, Callable[[_Plan, Window, Steps, Exclusions], str]] = {
        "ordered": ordered_attempts, "strict": strict_attempts, "unordered": unordered_attempts,
    }
    attempts = builders[order](plan, window, steps, exclusions)
    period = f", date_trunc('{PERIOD_UNITS[trend]}', t1) AS period" if trend else ""
    partition = "user_id, period" if trend else "user_id"
    out_times = ", ".join(f"t{k}" for k in range(1, n + 1))
    first_touch = ""
    if by:
        # first-touch attribution, as PostHog: the first non-empty value of the property
        # among the person's funnel events, whichever attempt counts
        plan.ctes.append("touch AS (SELECT user_id, arg_min(grp, seq) FILTER (WHERE grp IS NOT NULL) AS first_grp FROM e WHERE m <> 0 GROUP BY user_id)")
        first_touch = " LEFT JOIN touch USING (user_id)"
    out_group = ", first_grp AS \"group\"" if by else ""
    who = "split_part(user_id, chr(31), 1) AS user_id, split_part(user_id, chr(31), 2) AS session_id" if session else "user_id"
    best_first = "furthest DESC, excluded, t1, q1"
    best = f", row_number() OVER (PARTITION BY user_id ORDER BY {best_first}) = 1 AS best" if trend and overall else ""
    # the person's furthest attempt (a clean one before an excluded one that gets as far);
    # when that is excluded, the person is not in the funnel at all, step 1 included
    query = f"""
        WITH {', '.join(plan.ctes)},
        attempts AS (SELECT *{period} FROM ({attempts})),
        ranked AS (SELECT *, row_number() OVER (PARTITION BY {partition} ORDER BY {best_first}) AS rank{best} FROM attempts)
        SELECT {who}{out_group}{', period' if trend else ''}, furthest, {out_times}{', best' if best else ''}
        FROM ranked{first_touch} WHERE rank = 1 AND NOT excluded"""
    return query


def ordered_attempts(plan: _Plan, window: Window, steps: Steps, exclusions: Exclusions, *, strict: bool = False) -> str:
    """Attempts of an ordered funnel: from each step-1 event, a chain of ASOF joins (the
    earliest step-k event after the step-(k-1) one, within the window of the first); with
    ``strict``, step k must be the user's very next event."""
    n, carry = plan.n, plan.carry
    plan.ctes.append(f"a1 AS (SELECT user_id, ts AS t1, seq AS q1{carry} FROM s1 WHERE {window.starts_before('ts')})")
    # a step's event number is needed for the next join, and later only for q1 (the tie
    # between attempts) and the steps exclusions are bounded by: the others are not carried
    # through the rest of the chain (every join holds what it carries)
    kept = {1} | {first for _, first, _ in exclusions} | {last for _, _, last in exclusions}
    for k in range(2, n + 1):
        carried = "a.*" if k - 1 in kept else f"a.* EXCLUDE (q{k - 1})"
        if strict:
            join = f"LEFT JOIN s{k} s ON a.user_id = s.user_id AND s.seq = a.q{k - 1} + 1"
        else:
            join = f"ASOF LEFT JOIN s{k} s ON a.user_id = s.user_id AND s.seq > a.q{k - 1}"
        # an attempt that missed step k-1 cannot reach step k (older DuckDB ASOF joins
        # match a NULL inequality key, so say it explicitly)
        reached = f"a.q{k - 1} IS NOT NULL AND {plan.in_window('s.ts', 'a.t1')}"
        plan.ctes.append(
            f"a{k} AS (SELECT {carried}, CASE WHEN {reached} THEN s.ts END AS t{k}, "
            f"CASE WHEN {reached} THEN s.seq END AS q{k} FROM a{k - 1} a {join})"
        )
    times = ", ".join(f"t{k}" for k in range(1, n + 1))
    furthest = " + ".join(f"(t{k} IS NOT NULL)::INT" for k in range(1, n + 1))
    # an attempt with an excluded event after step FROM and before step TO (or, when TO
    # was not reached, before the end of its window) is excluded; a person whose
    # furthest attempt is excluded leaves the funnel
    dropped = []
    for j, (_, first, last) in enumerate(exclusions):
        plan.ctes.append(f"x{j} AS (SELECT user_id, ts, seq FROM e WHERE {plan.has_bit(n + j)})")
        dropped.append(
            f"EXISTS (SELECT 1 FROM x{j} x WHERE x.user_id = a.user_id AND a.q{first} IS NOT NULL AND x.seq > a.q{first} "
            f"AND CASE WHEN a.q{last} IS NOT NULL THEN x.seq < a.q{last} ELSE {plan.in_window('x.ts', 'a.t1')} END)"
        )
    excluded = f"({' OR '.join(dropped)})" if dropped else "false"
    return f"SELECT user_id{carry}, {furthest} AS furthest, {excluded} AS excluded, {times}, q1 FROM a{n} a"


def strict_attempts(plan: _Plan, window: Window, steps: Steps, exclusions: Exclusions) -> str:
    """Attempts of a strict funnel: each step the user's very next event."""
    return ordered_attempts(plan, window, steps, exclusions, strict=True)


def unordered_attempts(plan: _Plan, window: Window, steps: Steps, exclusions: Exclusions) -> str:
    """Attempts of an unordered funnel: from every event of any step, each step looked for
    within the window; the steps reached are counted in the order they happened."""
    n, carry = plan.n, plan.carry
    plan.ctes.append(f"a0 AS (SELECT user_id, ts AS t0, seq AS q0{carry} FROM e WHERE (m & {(1 << n) - 1}) <> 0 AND {window.starts_before('ts')})")
    if exclusions:
        # an excluded event resets an attempt's progress: its steps count up to the
        # first excluded event after its start (within its window); an attempt it cuts
        # short counts for nothing, and later attempts start afresh (PostHog)
        bits = sum(1 << (n + j) for j in range(len(exclusions)))
        plan.ctes.append(f"x AS (SELECT user_id, ts, seq FROM e WHERE (m & {bits}) <> 0)")
        plan.ctes.append(
            f"a0x AS (SELECT a.*, CASE WHEN x.seq IS NOT NULL AND {plan.in_window('x.ts', 'a.t0')} THEN x.seq END AS qx "
            f"FROM a0 a ASOF LEFT JOIN x ON a.user_id = x.user_id AND x.seq > a.q0)"
        )
        cut = " AND (a.qx IS NULL OR s.seq < a.qx)"
    else:
        plan.ctes.append("a0x AS (SELECT *, NULL::BIGINT AS qx FROM a0)")
        cut = ""
    found = []
    # steps naming the same events (``view,view,cart``) need as many distinct events:
    # the first from the attempt start on, the next ones the class's following events
    classes: dict[frozenset, list[int]] = {}
    for k, step in enumerate(steps, 1):
        classes.setdefault(frozenset(step), []).append(k)
    for k in range(1, n + 1):
        prev = "a0x" if k == 1 else f"u{k - 1}"
        same = classes[frozenset(steps[k - 1])]
        within = f"CASE WHEN {plan.in_window('s.ts', 'a.t0')}{cut} THEN s.ts END AS f{k}"
        if len(same) == 1:
            plan.ctes.append(f"u{k} AS (SELECT a.*, {within} FROM {prev} a ASOF LEFT JOIN s{k} s ON a.user_id = s.user_id AND s.seq >= a.q0)")
        elif k == same[0]:  # the class's events numbered per user; the first one's number carried
            plan.ctes.append(f"c{k} AS (SELECT user_id, ts, seq, row_number() OVER (PARTITION BY user_id ORDER BY seq) AS r FROM s{k})")
            plan.ctes.append(
                f"u{k} AS (SELECT a.*, {within}, s.r AS r{k} "
                f"FROM {prev} a ASOF LEFT JOIN c{k} s ON a.user_id = s.user_id AND s.seq >= a.q0)"
            )
        else:
            first = same[0]
            plan.ctes.append(
                f"u{k} AS (SELECT a.*, {within} "
                f"FROM {prev} a LEFT JOIN c{first} s ON a.user_id = s.user_id AND s.r = a.r{first} + {same.index(k)})"
            )
        found.append(f"f{k}")
    sorted_times = f"list_sort([{', '.join(found)}], 'ASC', 'NULLS LAST')"
    reached = " + ".join(f"({f} IS NOT NULL)::INT" for f in found)
    plan.ctes.append(f"sorted AS (SELECT user_id{carry}, q0 AS q1, qx, {sorted_times} AS ts_sorted, {reached} AS furthest FROM u{n})")
    times = ", ".join(f"ts_sorted[{k}] AS t{k}" for k in range(1, n + 1))
    # cut short by an excluded event before it completed: the attempt is void
    return f"SELECT user_id{carry}, furthest, false AS excluded, {times}, q1 FROM sorted WHERE qx IS NULL OR furthest = {n}"


def repeat_stats(orders: HasOrders, window: Window, n: int, window_s: int | None = None) -> StepStats:
    """The repeat-purchase funnel's step statistics, aggregated in the engine: over customers
    whose first purchase ever lies in the window, their 1st..n-th purchases (within
    ``window_s`` of the first, if given)."""
    end = sql.timestamp(window.end)
    since = f"WHERE {window.starts_before('t1')}" + (f" AND t1 >= {sql.timestamp(window.start)}" if window.start else "")
    within = lambda k: f"t{k}" if window_s is None else f"CASE WHEN t{k} <= t1 + INTERVAL {int(window_s)} SECOND THEN t{k} END"  # noqa: E731
    picks = ", ".join(f"max(order_ts) FILTER (WHERE k = {k}) AS t{k}" for k in range(1, n + 1))
    times = ", ".join(f"{within(k)} AS t{k}" for k in range(1, n + 1))
    furthest = " + ".join(f"({within(k)} IS NOT NULL)::INT" for k in range(1, n + 1))
    row = orders.engine.row(
        f"""WITH o AS (SELECT customer_id, order_ts, row_number() OVER (PARTITION BY customer_id ORDER BY order_ts, order_id) AS k
                       FROM orders WHERE reason IS NULL AND order_ts < {end}),
            p AS (SELECT customer_id AS user_id, {picks} FROM o WHERE k <= {int(n)} GROUP BY customer_id),
            u AS (SELECT user_id, {furthest} AS furthest, {times} FROM p {since})
        SELECT {_step_stat_columns(n)} FROM u"""
    )
    return _step_stats(list(row), n)


def event_user_counts(events: HasEvents, window: Window, limit: int = 10) -> list[tuple[str, int]]:
    """The most widespread event names in the window: (event, distinct users), most first."""
    events.facts.require_every_event("event names")
    rows = events.engine.rows(
        f"SELECT event, count(DISTINCT user_id) AS n FROM events WHERE reason IS NULL AND {window.within('event_ts')} "
        f"GROUP BY event ORDER BY n DESC, event LIMIT {int(limit)}"
    )
    return [(str(e), int(n)) for e, n in rows]


def purchase_paths(events: HasEvents, window: Window, purchase: tuple[str, ...], limit: int = 10) -> tuple[int, list[tuple[str, int, float]]]:
    """How users move to a purchase: the users with a ``purchase`` event in the window and,
    per other event, how many of them did it before their first purchase and the median
    seconds from its first time to that purchase (most users first)."""
    events.facts.require_every_event("event names")

    def scope(alias: str) -> str:
        return f"{alias}.reason IS NULL AND {window.within(f'{alias}.event_ts')}"

    buyers = f"SELECT user_id, min(event_ts) AS pt FROM events b WHERE {scope('b')} AND {sql.in_list('event', purchase)} GROUP BY user_id"
    n = int(events.engine.value(f"SELECT count(*) FROM ({buyers})"))
    rows = events.engine.rows(
        f"""WITH p AS ({buyers}),
            f AS (SELECT e.user_id, e.event, min(e.event_ts) AS ft FROM events e JOIN p ON e.user_id = p.user_id
                  WHERE {scope('e')} AND NOT {sql.in_list('e.event', purchase)} AND e.event_ts <= p.pt
                  GROUP BY e.user_id, e.event)
        SELECT f.event, count(*) AS users, median(epoch(p.pt - f.ft)) AS lead
        FROM f JOIN p ON f.user_id = p.user_id GROUP BY f.event ORDER BY users DESC, f.event LIMIT {int(limit)}"""
    )
    return n, [(str(e), int(u), float(lead)) for e, u, lead in rows]


def events_present(events: HasEvents, names: list[str]) -> set[str]:
    """Which of these event names some usable event has (a scan of the events table)."""
    if not names:
        return set()
    events.facts.require_every_event("event names")
    rows = events.engine.rows(f"SELECT DISTINCT event FROM events WHERE reason IS NULL AND {sql.in_list('event', names)}")
    return {str(r[0]) for r in rows}


def events_have_times(events: HasEvents) -> bool:
    """Whether some usable event has a time of day (an export of dates only has none).
    Stops at the first such event: instant on ordinary data."""
    events.facts.require_every_event("event times")
    return events.engine.value("SELECT 1 FROM events WHERE reason IS NULL AND event_ts <> date_trunc('day', event_ts) LIMIT 1") is not None
