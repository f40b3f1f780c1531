"""A marketing-costs file (``ltv --costs``): spend per period and channel.

One row per period (and channel): ``period, channel, spend``, the headers found by alias
like the order export's (``month``/``日期``, ``source``/``渠道``, ``cost``/``花费``…). A
period is a date (the spend belongs to the period holding it), a month (``2024-03``,
``2024/3``, ``202403``, ``2024年3月``) or a quarter (``2024-Q1``). The channel column is
optional: without it the spend is the whole shop's. Spend is money as in the order export
(``¥1,234.50``); a blank row is skipped, any other row that cannot be read is an error naming
its line — a cost never goes missing silently.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from userops.errors import DataError
from userops.io.columns import ROLE_ALIASES, normalise_header
from userops.schema import ROLE_CHANNEL

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from userops.scan.engine import Engine

COST_ALIASES: dict[str, list[str]] = {
    "period": [
        "period", "period start", "month", "week", "quarter", "date", "day", "cohort", "start", "start date",
        "期间", "月份", "月", "周", "季度", "日期", "时间",
    ],
    "channel": [*ROLE_ALIASES[ROLE_CHANNEL][0], "platform", "media", "投放渠道", "媒体", "平台"],
    "spend": [
        "spend", "cost", "costs", "ad spend", "ad_spend", "ad cost", "marketing spend", "media spend", "amount",
        "花费", "消耗", "投放金额", "投放费用", "推广费用", "营销费用", "广告费", "费用", "成本",
    ],
}

#: The grain a period value is written in, by how it is written.
_MONTH = re.compile(r"^(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*月?|(\d{2}))$")
_QUARTER = re.compile(r"^(\d{4})\s*[-/ ]?\s*[Qq]([1-4])$|^(\d{4})\s*年\s*第?\s*([1-4一二三四])\s*季度?$")
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$|^(\d{4})(\d{2})(\d{2})$")
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}


@dataclass(frozen=True)
class Costs:
    """The spend per period start and channel (``channel`` None: the whole shop's)."""

    spend: "pd.DataFrame"  # period (date: the start of the ltv period), channel (str or None), spend
    has_channel: bool
    file: str


def parse_period(text: str) -> tuple[dt.date, str] | None:
    """``(first day, grain)`` of a period value: grain ``day``, ``month`` or ``quarter``."""
    text = text.strip()
    m = _DATE.match(text)
    if m:
        y, mo, d = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(5), m.group(6))
        try:
            return dt.date(int(y), int(mo), int(d)), "day"
        except ValueError:
            return None
    m = _MONTH.match(text)
    if m:
        month = int(m.group(2) or m.group(3))
        return (dt.date(int(m.group(1)), month, 1), "month") if 1 <= month <= 12 else None
    m = _QUARTER.match(text)
    if m:
        year, q = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        quarter = _CN_DIGITS.get(q) or int(q)
        return dt.date(int(year), 3 * quarter - 2, 1), "quarter"
    return None


#: Which ltv periods a cost written at each grain can be put in.
_FITS = {"day": ("week", "month", "quarter"), "month": ("month", "quarter"), "quarter": ("quarter",)}


def read_costs(path: str, engine: "Engine", *, period: str, week_start: str = "monday", encoding: str | None = None, decimal: str = ".") -> Costs:
    """Read and check a costs file; spend summed per ltv period (and channel)."""
    import pandas as pd

    from userops.scan import sql

    source = engine.open(path, encoding=encoding)
    name = source.info.name
    view, types = engine.register(source)
    headers = list(types)
    found: dict[str, str] = {}
    for role, aliases in COST_ALIASES.items():
        wanted = {normalise_header(a) for a in aliases}
        matches = [h for h in headers if normalise_header(h) in wanted and h not in found.values()]
        if len(matches) > 1:
            raise DataError(f"several columns could be the costs' {role}: {', '.join(matches)}", file=name, hint=f"keep one, or name it {role}")
        if matches:
            found[role] = matches[0]
    for role in ("period", "spend"):
        if role not in found:
            raise DataError(f"no {role} column in the costs (found: {', '.join(headers)})", file=name, hint="name the columns period, channel, spend")
    q = sql.quote_ident
    channel = sql.text_expr(f"trim(CAST({q(found['channel'])} AS VARCHAR))", "VARCHAR") if "channel" in found else "NULL::VARCHAR"
    spend_raw = f"trim(CAST({q(found['spend'])} AS VARCHAR))"
    with engine.file_order():
        rows = engine.frame(
            f"""SELECT row_number() OVER () AS line, trim(CAST({q(found['period'])} AS VARCHAR)) AS period,
                       {channel} AS channel, {sql.money_expr(spend_raw, 'VARCHAR', decimal)} AS spend, {spend_raw} AS spend_raw
                FROM {view}"""
        )
    kept = []
    for row in rows.itertuples(index=False):
        line = int(row.line) + 1  # the header is line 1
        values = (row.period, row.channel, row.spend_raw)
        if all(pd.isna(v) or (isinstance(v, str) and not v.strip()) for v in values):
            continue  # a blank row (a spreadsheet's trailing lines)
        parsed = parse_period("" if pd.isna(row.period) else row.period)
        if parsed is None:
            raise DataError(
                f"period {row.period!r} is not a date, month or quarter", file=name, row=line, column=found["period"],
                hint="write it as 2024-03-01, 2024-03 or 2024-Q1",
            )
        start, grain = parsed
        if period not in _FITS[grain]:
            raise DataError(
                f"spend per {grain} ({row.period!r}) cannot be split into {period}s", file=name, row=line, column=found["period"],
                hint=f"give the spend per {period} (or per day), or choose --period {grain}",
            )
        if pd.isna(row.spend):
            raise DataError(f"spend {row.spend_raw!r} is not an amount", file=name, row=line, column=found["spend"], hint="write it as a number, e.g. 1234.50")
        if row.spend < 0:
            raise DataError(f"spend {row.spend_raw!r} is negative", file=name, row=line, column=found["spend"], hint="a cost is a positive amount")
        kept.append((_period_of(start, period, week_start), None if pd.isna(row.channel) else row.channel, float(row.spend)))
    if not kept:
        raise DataError("the costs file has no rows", file=name, hint="one row per period (and channel): period, channel, spend")
    frame = pd.DataFrame(kept, columns=["period", "channel", "spend"])
    spend = frame.groupby(["period", "channel"], dropna=False, sort=True, as_index=False)["spend"].sum()
    return Costs(spend, "channel" in found, name)


def _period_of(day: dt.date, period: str, week_start: str) -> dt.date:
    """The start of the ltv period holding ``day`` (weeks from Monday, or Sunday)."""
    from userops.analytics.periods import period_start

    if period == "week" and week_start == "sunday":
        return day - dt.timedelta(days=(day.weekday() + 1) % 7)
    return period_start(day, period)
