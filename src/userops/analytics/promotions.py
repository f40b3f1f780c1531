"""Promotion calendars: the windows of the big sales (618, 双11, Black Friday…) and a shop's
own, chosen by ``--promos cn|us|none`` or ``[promotions]`` in userops.toml.

Built-in calendars, by year (pre-sale included; the main sale's first day kept for shading):

``cn``
    年货节 — the four weeks before the couriers' Spring Festival pause (28 to 8 days before
    New Year's Day of the lunar calendar); 38 女王节 — 1–8 March; 618 — pre-sale from 20 May,
    main sale 1–18 June; 99 划算节 — 1–9 September; 双11 — pre-sale from 20 October, main
    sale 1–11 November; 双12 — 10–12 December.
``us``
    Prime Day — Amazon's announced days (2015–2025; later years are estimated as the second
    Tuesday of July and the day after, and said so); Black Friday–Cyber Monday — the Friday
    after Thanksgiving (the fourth Thursday of November) to the Monday after; Holiday season
    — 1 November to 24 December.

The platforms move these dates a little each year: a shop names its own windows in
``[promotions]``::

    [promotions]
    calendar = "cn"                              # or us, none
    "会员日" = [["2025-03-15", "2025-03-17"], ["2026-03-14", "2026-03-16"]]
    "Summer sale" = ["2025-07-01", "2025-07-14"]

A date in several windows belongs to the shortest (Black Friday in the holiday season is
Black Friday).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from userops.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

CALENDARS = ("cn", "us", "none")
ORGANIC = "organic"  # acquired outside every promotion (自然流量 in Chinese)
YEARS = range(2015, 2036)

#: New Year's Day of the lunar calendar (春节).
SPRING_FESTIVAL = {
    2015: (2, 19), 2016: (2, 8), 2017: (1, 28), 2018: (2, 16), 2019: (2, 5), 2020: (1, 25), 2021: (2, 12), 2022: (2, 1),
    2023: (1, 22), 2024: (2, 10), 2025: (1, 29), 2026: (2, 17), 2027: (2, 6), 2028: (1, 26), 2029: (2, 13), 2030: (2, 3),
    2031: (1, 23), 2032: (2, 11), 2033: (1, 31), 2034: (2, 19), 2035: (2, 8),
}
#: Prime Day as Amazon announced it (first and last day, US).
PRIME_DAY = {
    2015: ((7, 15), (7, 15)), 2016: ((7, 12), (7, 12)), 2017: ((7, 10), (7, 11)), 2018: ((7, 16), (7, 17)),
    2019: ((7, 15), (7, 16)), 2020: ((10, 13), (10, 14)), 2021: ((6, 21), (6, 22)), 2022: ((7, 12), (7, 13)),
    2023: ((7, 11), (7, 12)), 2024: ((7, 16), (7, 17)), 2025: ((7, 8), (7, 11)),
}


@dataclass(frozen=True)
class Promotion:
    """One promotion window, whole days ``start``..``end`` (both included)."""

    name: str
    start: dt.date
    end: dt.date
    main_start: dt.date | None = None  # the main sale's first day, after a pre-sale
    estimated: bool = False  # dates from a rule, not the organiser's announcement

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def overlaps(self, first: dt.date, last: dt.date) -> bool:
        return self.start <= last and self.end >= first


@dataclass(frozen=True)
class PromoCalendar:
    """The windows of a run: a built-in calendar's and the shop's own."""

    name: str  # cn, us, none (the shop's windows only)
    windows: tuple[Promotion, ...]

    def between(self, first: dt.date, last: dt.date) -> tuple[Promotion, ...]:
        """The windows overlapping ``first``..``last``, shortest first (a date in several
        belongs to the shortest), then by start."""
        kept = [w for w in self.windows if w.overlaps(first, last)]
        return tuple(sorted(kept, key=lambda w: (w.days, w.start, w.name)))

    def names(self) -> list[str]:
        return list(dict.fromkeys(w.name for w in self.windows))


def _cn(year: int) -> list[Promotion]:
    d = dt.date
    festival = d(year, *SPRING_FESTIVAL[year])
    return [
        Promotion("年货节", festival - dt.timedelta(days=28), festival - dt.timedelta(days=8)),
        Promotion("38女王节", d(year, 3, 1), d(year, 3, 8)),
        Promotion("618", d(year, 5, 20), d(year, 6, 18), d(year, 6, 1)),
        Promotion("99划算节", d(year, 9, 1), d(year, 9, 9)),
        Promotion("双11", d(year, 10, 20), d(year, 11, 11), d(year, 11, 1)),
        Promotion("双12", d(year, 12, 10), d(year, 12, 12)),
    ]


def _us(year: int) -> list[Promotion]:
    d = dt.date
    november = d(year, 11, 1)
    thanksgiving = november + dt.timedelta(days=(3 - november.weekday()) % 7 + 21)
    if year in PRIME_DAY:
        (m1, d1), (m2, d2) = PRIME_DAY[year]
        prime = Promotion("Prime Day", d(year, m1, d1), d(year, m2, d2))
    else:
        july = d(year, 7, 1)
        tuesday = july + dt.timedelta(days=(1 - july.weekday()) % 7 + 7)
        prime = Promotion("Prime Day", tuesday, tuesday + dt.timedelta(days=1), estimated=True)
    return [
        prime,
        Promotion("Black Friday–Cyber Monday", thanksgiving + dt.timedelta(days=1), thanksgiving + dt.timedelta(days=4)),
        Promotion("Holiday season", d(year, 11, 1), d(year, 12, 24)),
    ]


BUILT_IN = {"cn": _cn, "us": _us}


def promo_calendar(choice: str | None, table: dict[str, Any] | None = None, *, file: str | None = None) -> PromoCalendar | None:
    """The calendar of ``--promos`` (else ``calendar`` in ``[promotions]``, else none) with the
    shop's windows of ``[promotions]``; None when there is no window at all."""
    table = dict(table or {})
    configured = table.pop("calendar", None)
    name = choice if choice is not None else configured if configured is not None else "none"
    if name not in CALENDARS:
        raise UsageError(f"--promos must be one of {', '.join(CALENDARS)} (got {name!r})", file=file if choice is None else None)
    windows = [w for year in YEARS for w in BUILT_IN[name](year)] if name in BUILT_IN else []
    windows += shop_windows(table, file=file)
    return PromoCalendar(name, tuple(windows)) if windows else None


def shop_windows(table: dict[str, Any], *, file: str | None = None) -> list[Promotion]:
    """``[promotions]`` entries: a name and one ``[start, end]`` pair of dates, or a list of them."""
    out = []
    hint = 'e.g. "会员日" = ["2025-03-15", "2025-03-17"] (or a list of such pairs)'
    for name, value in table.items():
        pairs = value if isinstance(value, list) and value and all(isinstance(v, list) for v in value) else [value]
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise UsageError(f"[promotions] {name!r} must be a [start, end] pair of dates", file=file, hint=hint)
            start, end = (_date(v, name, file) for v in pair)
            if end < start:
                raise UsageError(f"[promotions] {name!r} ends ({end}) before it starts ({start})", file=file, hint=hint)
            out.append(Promotion(str(name), start, end))
    return out


def _date(value: Any, name: str, file: str | None) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise UsageError(f"[promotions] {name!r}: {value!r} is not a date", file=file, hint="write dates as YYYY-MM-DD") from None


def windows_for(calendar: PromoCalendar | None, loaded) -> tuple[Promotion, ...] | None:
    """The calendar's windows over the loaded orders' dates (None without a calendar)."""
    if calendar is None:
        return None
    if loaded.first_ts is None or loaded.last_ts is None:
        return ()
    return calendar.between(loaded.first_ts.date(), loaded.last_ts.date())


def estimated_notes(windows: tuple[Promotion, ...] | None) -> list[str]:
    """A line per window whose dates are estimated, naming the way to fix them."""
    from userops.glossary import say

    return [say("promo_estimated", name=w.name, year=w.start.year, start=w.start, end=w.end) for w in windows or () if w.estimated]


def period_bands(starts: list[dt.date], period: str, windows: tuple[Promotion, ...] | None) -> list[tuple[int, int, str]]:
    """For a chart over periods starting ``starts``: per window, the first and last index of
    the periods it overlaps, and its name (in order of start)."""
    from userops.analytics.periods import next_period_start

    bands = []
    for w in sorted(windows or (), key=lambda w: (w.start, w.name)):
        hit = [i for i, p in enumerate(starts) if w.overlaps(p, next_period_start(p, period) - dt.timedelta(days=1))]
        if hit:
            bands.append((hit[0], hit[-1], w.name))
    return bands


#: The days before a promotion its figures are compared with, and the repurchase horizons.
BASELINE_DAYS = 28
REPURCHASE_DAYS = (30, 60, 90)


@dataclass
class PromoReview:
    """A promotion after it ended (大促复盘): its days against the ``BASELINE_DAYS`` before
    it, and the repurchase of the customers it acquired against organic ones of the same
    months (first purchase in those months, outside every promotion)."""

    promotion: Promotion
    figures: "pd.DataFrame"  # metric, promotion, before, change (per day, AOV as it is)
    repurchase: "pd.DataFrame"  # acquired, customers, repurchase_30d, _60d, _90d (blank: not yet observable)


def last_promotion(windows: tuple[Promotion, ...] | None, first: dt.date, as_of: dt.date) -> Promotion | None:
    """The promotion that ended last by ``as_of`` and has ``BASELINE_DAYS`` of data before it."""
    done = [w for w in windows or () if w.end <= as_of and w.start - dt.timedelta(days=BASELINE_DAYS) >= first]
    return max(done, key=lambda w: (w.end, -w.days, w.name)) if done else None


def promo_review(loaded, window, windows: tuple[Promotion, ...], promotion: Promotion, *, lang: str = "en") -> PromoReview:
    """The figures of :class:`PromoReview`, from one engine pass."""
    import pandas as pd

    from userops.analytics.periods import next_period_start
    from userops.glossary import name
    from userops.scan import promotions as scan_promotions

    before = Promotion(promotion.name, promotion.start - dt.timedelta(days=BASELINE_DAYS), promotion.start - dt.timedelta(days=1))
    months = (promotion.start.replace(day=1), next_period_start(promotion.end.replace(day=1), "month"))
    sums, cohorts = scan_promotions.review_sums(loaded, window, promotion, before, months, windows, REPURCHASE_DAYS)
    rows = []
    for metric in ("revenue", "orders", "new_customers"):
        now, then = sums[metric][0] / promotion.days, sums[metric][1] / before.days
        rows.append({"metric": f"{metric}_per_day", "promotion": now, "before": then})
    aov = [sums["revenue"][i] / sums["orders"][i] if sums["orders"][i] else None for i in (0, 1)]
    rows.append({"metric": "aov", "promotion": aov[0], "before": aov[1]})
    figures = pd.DataFrame(rows)
    figures["change"] = [
        (r.promotion / r.before - 1) if r.promotion is not None and r.before not in (None, 0) else None for r in figures.itertuples()
    ]
    repurchase = pd.DataFrame(
        [{"acquired": promotion.name if key == "promotion" else name(ORGANIC, lang), "customers": size,
          **{f"repurchase_{d}d": rate for d, rate in zip(REPURCHASE_DAYS, rates)}} for key, size, rates in cohorts]
    )
    return PromoReview(promotion, figures, repurchase)
