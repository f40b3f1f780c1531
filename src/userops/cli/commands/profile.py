"""``userops profile``: KPIs, customer profiles, activity per period."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from userops.cli.app import command
from userops.cli.context import RunContext
from userops.cli.options import Inputs


@command("profile")
def profile(
    inputs: Inputs,
    per: Annotated[Optional[str], typer.Option("--per", help="summary (dataset KPIs), customer (one row per customer) or period.", show_default="summary")] = None,
    period: Annotated[Optional[str], typer.Option("--period", help="day|week|month|quarter|year for active periods and --per period.", show_default="month")] = None,
    bridge: Annotated[bool, typer.Option("--bridge", help="Revenue bridge: each period's revenue against the previous one's, split into new, reactivated, expansion, contraction and lost (--period week|month|quarter).")] = False,
    by: Annotated[Optional[str], typer.Option("--by", help="--bridge per order channel or line category: channel or category.")] = None,
    promos: Annotated[Optional[str], typer.Option("--promos", help="With --per period: a promotion calendar, cn (618, 双11…), us (Prime Day, Black Friday…) or none; the shop's own windows go under [promotions] in userops.toml.")] = None,
    *,
    run: RunContext,
) -> None:
    """Who are my customers? Headline KPIs, one profile row per customer, or activity per period.

    Example: [bold]userops profile orders.csv --per customer -o customers.xlsx[/bold]
    """
    from userops.analytics.periods import PERIODS
    from userops.analytics.profile import PER_CHOICES, profile_table

    per = run.choose("per", per, "summary", PER_CHOICES)
    period = run.choose("period", period, "month", PERIODS)
    calendar = run.promo_calendar(promos) if per == "period" else None
    if bridge:
        from userops.analytics.bridge import BY_CHOICES, revenue_bridge

        by = run.choose("by", by, None, BY_CHOICES)
        loaded = run.load_orders(inputs)
        window = run.window(loaded)
        with run.progress("bridging revenue"):
            bridged = revenue_bridge(loaded, window, period=period, by=by)
        for note in bridged.notes:
            run.note(note)
        run.emit(bridged.table, title=f"revenue bridge by {period} as of {window.as_of}", as_of=window.as_of.isoformat(), display={"period": "date"})
        return
    if by is not None:
        from userops.errors import UsageError

        raise UsageError("--by goes with --bridge")
    loaded = run.load_orders(inputs, line_detail=per == "customer")
    window = run.window(loaded)
    with run.progress("profiling"):
        result = profile_table(loaded, window, per=per, period=period, lang=run.lang, promotions=run.promotions(calendar, loaded))
    for note in result.notes:
        run.note(note)
    run.emit(result.output, title=f"profile ({per}) as of {window.as_of}", as_of=window.as_of.isoformat())
