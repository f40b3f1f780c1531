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
    loaded = run.load_orders(inputs, line_detail=per == "customer")
    window = run.window(loaded)
    with run.progress("profiling"):
        result = profile_table(loaded, window, per=per, period=period, lang=run.lang)
    for note in result.notes:
        run.note(note)
    run.emit(result.output, title=f"profile ({per}) as of {window.as_of}", as_of=window.as_of.isoformat())
