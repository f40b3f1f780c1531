"""``userops uplift``: did the campaign work? Treatment against the held-out control group."""

from __future__ import annotations

from typing import Annotated

import typer

from userops.cli.app import command
from userops.cli.context import RunContext


@command("uplift")
def uplift(
    campaign_list: Annotated[str, typer.Argument(help="The campaign list with its group column (segment --holdout).", show_default=False)],
    orders: Annotated[list[str], typer.Argument(help="The order export(s) covering the campaign's window.", show_default=False)],
    since: Annotated[str, typer.Option("--since", help="The day the campaign started: the window begins here.")],
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="The window's length in days.")] = 30,
    *,
    run: RunContext,
) -> None:
    """Did the campaign work? Conversion and revenue per customer, treatment against control, with 95% intervals.

    Example: [bold]userops uplift at_risk_list.csv orders_after.csv --since 2025-06-01 --days 30[/bold]
    """
    from userops.analytics.campaign import campaign_uplift
    from userops.scan.window import parse_date

    start = parse_date(since, flag="--since")
    run.check_output([campaign_list, *orders])
    loaded = run.load_orders(orders)
    run.inputs = [campaign_list, *orders]
    with run.progress("reading the campaign"):
        result = campaign_uplift(loaded, campaign_list, since=start, days=days, encoding=run.get("encoding"))
    for note in result.notes:
        run.note(note)
    from userops.glossary import with_names

    run.emit(with_names(result.table, ["metric"], run.lang), title=f"uplift over {days} days from {start}")
