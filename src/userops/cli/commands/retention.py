"""``userops retention``: do customers come back?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from userops.cli.app import command
from userops.cli.context import RunContext
from userops.cli.options import Inputs

if TYPE_CHECKING:  # pragma: no cover
    from userops.io.normalise import LoadedEvents, LoadedOrders


@command("retention")
def retention(
    inputs: Inputs,
    period: Annotated[Optional[str], typer.Option("--period", help="day|week|month cohorts and periods.", show_default="month")] = None,
    periods: Annotated[Optional[int], typer.Option("--periods", min=1, help="Show at most this many periods after the cohort's.")] = None,
    mode: Annotated[Optional[str], typer.Option("--mode", help="classic (a return in period k) or rolling (in k or later).", show_default="classic")] = None,
    cohort: Annotated[Optional[str], typer.Option("--cohort", help="first (period of the first start event) or recurring (every period with one).", show_default="first")] = None,
    start_event: Annotated[Optional[str], typer.Option("--start-event", help="Events: what puts a user in a cohort (comma-separated alternatives; default any event).")] = None,
    return_event: Annotated[Optional[str], typer.Option("--return-event", help="Events: what counts as coming back (default any event).")] = None,
    week_start: Annotated[Optional[str], typer.Option("--week-start", help="monday or sunday.", show_default="monday")] = None,
    values: Annotated[Optional[str], typer.Option("--values", help="count, percent, or revenue (orders).", show_default="count")] = None,
    by_promo: Annotated[bool, typer.Option("--by-promo", help="Orders: cohorts acquired in each promotion against organic ones, side by side (--promos cn|us or [promotions] in userops.toml).")] = False,
    promos: Annotated[Optional[str], typer.Option("--promos", help="The promotion calendar of --by-promo: cn, us or none (the shop's [promotions] windows only).")] = None,
    long: Annotated[bool, typer.Option("--long", help="One row per cohort and period (cohort, period, users, rate, revenue, complete).")] = False,
    *,
    run: RunContext,
) -> None:
    """Do customers come back? Cohort retention by day, week or month; incomplete periods stay blank.

    Example: [bold]userops retention orders.csv --period month --values percent[/bold]
    """
    from userops.analytics import retention as ret
    from userops.io.normalise import input_has_events

    as_list = lambda text: tuple(e.strip() for e in text.split(",") if e.strip()) if text else ()  # noqa: E731
    options = dict(
        period=run.choose("period", period, "month", ret.PERIODS), mode=run.choose("mode", mode, "classic", ret.MODES),
        cohort=run.choose("cohort", cohort, "first", ret.COHORTS), week_start=run.choose("week_start", week_start, "monday", ("monday", "sunday")),
        start_event=as_list(start_event), return_event=as_list(return_event), periods=periods,
    )
    shown = run.choose("values", values, "count", ret.VALUES)
    run.check_output(inputs)  # before the header read that tells events from orders
    if by_promo:
        _by_promo(inputs, run, options, shown, long, promos)
        return
    if input_has_events(inputs, run.load_options(), engine=run.engine() if run.on_spark else None):
        if shown == "revenue":  # before reading the events
            from userops.errors import UsageError

            raise UsageError("--values revenue needs order data (an amount column)")
        # retention needs only who was active in which period; as of the last event (the
        # default) whole periods can be kept, else days (an as-of date may split a period)
        grain = (options["period"], options["week_start"]) if run.get("as_of") is None else ("day", "monday")
        loaded: "LoadedOrders | LoadedEvents" = run.load_events(inputs, activity=(options["start_event"], options["return_event"]), grain=grain)
    else:
        loaded = run.load_orders(inputs, order_detail=False)
    window = run.window(loaded, end_bounds_starts=True)
    with run.progress("computing retention"):
        result = ret.retention(loaded, window, **options)
    for note in result.notes:
        run.note(note)
    table = ret.long_table(result) if long else ret.matrix_table(result, shown)
    # the matrix's cohorts are dates, written as text (the column also holds the "average" row)
    display = None if long else _matrix_display(table, shown)
    from userops.glossary import with_names

    run.emit(with_names(table, ["cohort"], run.lang), title=f"retention by {options['period']} ({options['mode']})", as_of=window.as_of.isoformat(), display=display)


def _by_promo(inputs, run: RunContext, options: dict, shown: str, long: bool, promos: str | None) -> None:
    """``--by-promo``: promotion against organic cohorts (orders, first cohorts, classic)."""
    from userops.analytics.retention import retention_by_promo
    from userops.errors import UsageError

    if long or options["cohort"] != "first" or options["mode"] != "classic" or options["start_event"] or options["return_event"]:
        raise UsageError("--by-promo compares first-purchase cohorts, classic returns, as a matrix", hint="drop --long, --cohort, --mode and the event options")
    calendar = run.promo_calendar(promos)
    if calendar is None:
        raise UsageError("--by-promo needs promotion windows", hint="add --promos cn (or us), or name the shop's windows under [promotions] in userops.toml")
    loaded = run.load_orders(inputs, order_detail=False)
    window = run.window(loaded, end_bounds_starts=True)
    with run.progress("computing retention by promotion"):
        table, notes = retention_by_promo(
            loaded, window, run.promotions(calendar, loaded) or (), period=options["period"], periods=options["periods"], values=shown, lang=run.lang,
        )
    for note in notes:
        run.note(note)
    from userops.glossary import with_names

    run.emit(with_names(table, ["cohort"], run.lang), title=f"retention by promotion ({options['period']})", as_of=window.as_of.isoformat(),
             display=_matrix_display(table, shown))


def _matrix_display(table, shown: str) -> dict[str, str]:
    """How a cohort matrix is shown: cohorts as dates, rates as %, counts whole (the mean
    row to one decimal)."""
    display = {"cohort": "date"}
    if shown in ("percent", "count"):
        display |= {c: "percent" if shown == "percent" else "count" for c in table.columns if c.startswith("period_") or (shown == "count" and c == "size")}
    return display
