"""Segment migration (``userops segment --since DATE``): who moved from which segment to which.

Every customer is scored twice with the same scheme and the same cut points — as of the
``since`` date and as of the as-of date — the cut points being the earlier date's quantiles
(``cuts_from="since"``, the default) or the later one's (``"as-of"``). A customer whose first
purchase came after ``since`` moves from ``(new)``. The transition table has one row per
(from, to) pair with customers: ``share_of_from`` is their share of the ``from`` segment,
``revenue_since`` what they spent after ``since`` up to the as-of date. Row sums are the
segment sizes at ``since``, column sums the sizes at the as-of date (with those cut points).

Only schemes scored by cut points migrate: ``rfm10``. (cn8 splits at each date's own mean,
k-means at its own centres.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from userops.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

    from userops.analytics.rfm import RfmCuts
    from userops.glossary import Said
    from userops.io.normalise import LoadedOrders
    from userops.scan.window import Window

NEW = "(new)"
CUTS_FROM = ("since", "as-of")
COLUMNS = ["from_segment", "to_segment", "customers", "share_of_from", "revenue_since"]


@dataclass(frozen=True)
class Migration:
    transitions: "pd.DataFrame"  # COLUMNS
    customers: "pa.Table"  # the as-of list (segment = to) with from_segment
    cuts: "RfmCuts"
    since: dt.date
    notes: "list[Said]" = field(default_factory=list)


def new_label(lang: str) -> str:
    """``(new)`` in the language of the segment names."""
    from userops.glossary import name

    return str(name(NEW, lang))


def parse_moves(text: str, names: list[str], lang: str = "en") -> list[tuple[str, str]]:
    """``"Champions>At risk,Loyal>About to sleep"`` as pairs, every name checked."""
    new = new_label(lang)
    pairs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.count(">") != 1:
            raise UsageError(f"--moved {part!r} is not FROM>TO", hint='e.g. --moved "Champions>At risk,Loyal>About to sleep"')
        source, target = (s.strip() for s in part.split(">"))
        for name in (source, target):
            if name not in names and not (name == new and name == source):
                raise UsageError(f"--moved: no segment named {name!r}", hint=f"segments: {', '.join(names)}, and {new} as a FROM")
        pairs.append((source, target))
    if not pairs:
        raise UsageError("--moved needs FROM>TO pairs", hint='e.g. --moved "Champions>At risk"')
    return pairs


def segment_migration(
    loaded: "LoadedOrders", window: "Window", *, since: dt.date, cuts_from: str = "since", keep: tuple[str, ...] = (), **options
) -> Migration:
    """Score every customer at ``since`` and at the as-of date with the same cut points and
    count who moved where (see the module docstring). ``options`` are segment options."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from userops.analytics.rfm import segment_order
    from userops.analytics.segment import segment_customers
    from userops.glossary import say
    from userops.scan import customers as scan_customers

    scheme = options.get("scheme", "rfm10")
    if scheme != "rfm10":
        raise UsageError(f"--since compares rfm10 segments (got --scheme {scheme})", hint="cn8 and kmeans split at each date's own mean or centres")
    if cuts_from not in CUTS_FROM:
        raise UsageError(f"--cuts-from must be since or as-of (got {cuts_from!r})")
    if since >= window.as_of:
        raise UsageError(f"--since {since} must be before the as-of date {window.as_of}")
    if window.start is not None and dt.datetime.combine(since, dt.time()) < window.start:
        raise UsageError(f"--since {since} is before --from")
    then = dataclasses.replace(window, as_of=since, end=dt.datetime.combine(since + dt.timedelta(days=1), dt.time()), until=None)
    given: dict[str, Any] = {k: options.pop(k, None) for k in ("r_cuts", "f_cuts", "m_cuts")}
    first_at, second_at = (then, window) if cuts_from == "since" else (window, then)
    first = segment_customers(loaded, first_at, **options, **given)
    cuts = first.cuts
    same: dict[str, Any] = {"r_cuts": cuts.recency, "f_cuts": cuts.frequency, "m_cuts": cuts.monetary or None}
    second = segment_customers(loaded, second_at, keep=keep if second_at is window else (), **options, **same)
    if cuts_from == "since":
        before, after = first, second
    else:  # the as-of list carries --keep: score it again with the kept columns
        before, after = second, segment_customers(loaded, window, keep=keep, **options, **same) if keep else first
    assert before.arrow is not None and after.arrow is not None  # scored in the engine
    before_table = before.arrow.select(["customer_id", "segment"]).rename_columns(["customer_id", "from_segment"])
    after_table = after.arrow
    # what each customer spent after `since`, up to the as-of date
    spent = scan_customers.revenue_between(loaded, then.end, window.end)
    joined = after_table.join(before_table, "customer_id", join_type="left outer").join(spent, "customer_id", join_type="left outer")
    new = new_label(options.get("lang", "en"))
    joined = joined.set_column(joined.schema.get_field_index("from_segment"), "from_segment", pc.fill_null(pc.cast(joined["from_segment"], pa.string()), new))
    counted = joined.group_by(["from_segment", "segment"]).aggregate([("customer_id", "count"), ("revenue_since", "sum")])
    transitions = counted.to_pandas().rename(columns={"segment": "to_segment", "customer_id_count": "customers", "revenue_since_sum": "revenue_since"})
    order = segment_order(scheme, options.get("lang", "en"))
    rank = {name: i for i, name in enumerate([*order, new])}
    transitions["revenue_since"] = transitions["revenue_since"].fillna(0.0).round(2)
    transitions["customers"] = transitions["customers"].astype("int64")
    sizes = transitions.groupby("from_segment")["customers"].transform("sum")
    transitions["share_of_from"] = (transitions["customers"] / sizes).round(4)
    transitions = transitions.sort_values(
        ["from_segment", "to_segment"], key=lambda column: column.map(rank), kind="stable"
    ).reset_index(drop=True)[COLUMNS]
    # the per-customer list (for --moved): the as-of row with where the customer came from
    columns = list(after_table.column_names)
    ordered = joined.sort_by("customer_id").select([columns[0], "from_segment", *columns[1:]])
    notes = [say("migration_cuts", date=(since if cuts_from == "since" else window.as_of).isoformat(), cuts=cuts.said())]
    return Migration(transitions, ordered, cuts, since, notes)


def moved_customers(migration: Migration, pairs: list[tuple[str, str]]) -> "pa.Table":
    """The customers of the given (from, to) transitions, as the as-of list shows them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = migration.customers
    wanted = pa.array([f"{a}\x1f{b}" for a, b in pairs])
    key = pc.binary_join_element_wise(table["from_segment"], pc.cast(table["segment"], pa.string()), "\x1f")
    return table.filter(pc.is_in(key, value_set=wanted))
