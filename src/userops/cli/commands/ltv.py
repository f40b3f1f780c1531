"""``userops ltv``: what is a customer of each acquisition cohort worth, and when do they pay back?"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from userops.cli.app import command
from userops.cli.context import RunContext
from userops.cli.options import Inputs


@command("ltv")
def ltv(
    inputs: Inputs,
    period: Annotated[Optional[str], typer.Option("--period", help="week|month|quarter cohorts and periods.", show_default="month")] = None,
    periods: Annotated[Optional[int], typer.Option("--periods", min=1, max=520, help="Show at most this many periods after the cohort's.")] = None,
    by: Annotated[Optional[str], typer.Option("--by", help="Split cohorts by the first order's channel: channel.")] = None,
    margin: Annotated[Optional[float], typer.Option("--margin", help="Gross margin as a share of revenue, e.g. 0.35 (else a margin column, if any).")] = None,
    costs: Annotated[Optional[str], typer.Option("--costs", help="Marketing spend: a file with period, channel (optional) and spend columns; adds spend, cac and payback_period.")] = None,
    values: Annotated[Optional[str], typer.Option("--values", help="What the period columns add up per customer: revenue or margin (default: margin when there is one).")] = None,
    week_start: Annotated[Optional[str], typer.Option("--week-start", help="monday or sunday.", show_default="monday")] = None,
    long: Annotated[bool, typer.Option("--long", help="One row per cohort and period: customers, buyers, revenue, margin, cumulative values per customer, complete.")] = False,
    *,
    run: RunContext,
) -> None:
    """What is a customer worth by acquisition cohort? Cumulative revenue or margin per customer, CAC and payback.

    Example: [bold]userops ltv orders.csv --by channel --margin 0.35 --costs spend.csv[/bold]
    """
    from userops.analytics import ltv as lt
    from userops.errors import UsageError

    options = dict(
        period=run.choose("period", period, "month", lt.PERIODS), by=run.choose("by", by, None, lt.BY_CHOICES),
        week_start=run.choose("week_start", week_start, "monday", ("monday", "sunday")), periods=periods,
    )
    share = run.choose("margin", margin, None)
    if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1):
        raise UsageError(f"--margin is gross margin as a share of revenue, between 0 and 1 (got {share!r})", hint="e.g. 0.35")
    shown = run.choose("values", values, None, lt.VALUES)
    costs_path = run.choose("costs", costs, None)
    spend = None
    if costs_path:  # read first: a bad costs file fails before minutes of reading orders
        from userops.io.costs import read_costs
        from userops.scan.engine import Engine

        run.check_output([*inputs, str(costs_path)])
        spend = read_costs(
            str(costs_path), Engine(threads=1), period=options["period"], week_start=options["week_start"], encoding=run.get("encoding"),
            decimal=run.get("decimal") or ".",
        )
    loaded = run.load_orders(inputs, margin=share is None)
    window = run.window(loaded, end_bounds_starts=True)
    with run.progress("computing LTV"):
        result = lt.ltv(loaded, window, margin_share=share, costs=spend, **options)
    for note in result.notes:
        run.note(note)
    shown = shown or ("margin" if result.has_margin else "revenue")
    if long:
        table = lt.long_table(result)
        display: dict[str, str] | None = None
    else:
        table = lt.matrix_table(result, shown)
        display = {"cohort": "date"}
    title = f"cumulative {shown} per customer by {options['period']} of first purchase"
    from userops.glossary import with_names

    run.emit(with_names(table, ["cohort"], run.lang), title=title, as_of=window.as_of.isoformat(), display=display)
