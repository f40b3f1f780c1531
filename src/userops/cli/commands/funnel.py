"""``userops funnel``: where do visitors drop off on the way to purchase?"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from userops.cli.app import command
from userops.cli.context import RunContext
from userops.cli.options import Inputs


@command("funnel")
def funnel(
    inputs: Inputs,
    steps: Annotated[Optional[str], typer.Option("--steps", help="Event names in order, comma-separated; a step may list alternatives a|b.")] = None,
    window: Annotated[Optional[str], typer.Option("--window", help="Conversion window from the step-1 time: s/m/h/d/w, e.g. 14d.", show_default="14d")] = None,
    order: Annotated[Optional[str], typer.Option("--order", help="ordered (others may come between), strict (nothing between) or unordered.", show_default="ordered")] = None,
    by: Annotated[Optional[str], typer.Option("--by", help="One funnel per value of this event property (of the step-1 event); with --order-status: channel, category, province or a column.")] = None,
    trend: Annotated[Optional[str], typer.Option("--trend", help="Per period of the step-1 time: day|week|month|quarter|year.")] = None,
    session: Annotated[bool, typer.Option("--session", help="Count funnels within sessions (needs a session column) instead of users.")] = False,
    users: Annotated[bool, typer.Option("--users", help="One row per user: the furthest step reached (the retargeting list).")] = False,
    dropped_at: Annotated[Optional[str], typer.Option("--dropped-at", help="With --users: only users whose furthest step is this one.")] = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="EVENT[:FROM-TO]: drop attempts with this event between steps FROM and TO (default first to last); repeatable.")] = None,
    repeat: Annotated[Optional[int], typer.Option("--repeat", min=2, max=50, help="On orders: first order -> second -> ... -> this many (no event data needed).")] = None,
    order_status: Annotated[bool, typer.Option("--order-status", help="On orders: created -> paid -> shipped -> delivered -> reviewed, from the export's status times and final status; --by channel|category|province or a column, --trend week.")] = False,
    *,
    run: RunContext,
) -> None:
    """Where do visitors drop off? Conversion per step, with the time between steps.

    Example: [bold]userops funnel events.csv --steps home,product_view,add_to_cart,checkout,purchase --trend week[/bold]
    (or on orders: userops funnel orders.csv --repeat 3, or --order-status)
    """
    from userops.analytics import funnel as fun
    from userops.analytics.periods import PERIODS

    if order_status:
        from userops.analytics.order_status import order_status_funnel, through_latest_order

        trend = run.choose("trend", trend, None, PERIODS)
        orders = run.load_orders(inputs, order_detail=False)
        frame_window = run.window(orders, end_bounds_starts=True)
        if not run.get("as_of"):
            frame_window = through_latest_order(orders, frame_window, run.column_overrides())
        with run.progress("computing the order-status funnel"):
            result = order_status_funnel(orders, frame_window, overrides=run.column_overrides(), by=by, trend=trend, lang=run.lang)
        for note in result.notes:
            run.note(note)
        run.emit(result.table, title="order-status funnel", as_of=frame_window.as_of.isoformat())
        return
    if repeat:
        orders = run.load_orders(inputs, order_detail=False)
        frame_window = run.window(orders, end_bounds_starts=True)
        limit = fun.parse_window(window) if window else None
        run.emit(fun.repeat_funnel(orders, frame_window, repeat, window_s=limit, lang=run.lang), title="repeat-purchase funnel", as_of=frame_window.as_of.isoformat())
        return
    step_list = run.choose("steps", steps, None)
    if not step_list:
        from userops.errors import UsageError

        raise UsageError("--steps is required", hint="e.g. --steps home,product_view,purchase")
    parsed_steps = fun.parse_steps(step_list)
    spec = fun.FunnelSpec(
        parsed_steps,
        fun.parse_window(run.choose("window", window, "14d")),
        run.choose("order", order, "ordered", fun.ORDERS),
        fun.parse_exclusions(exclude, len(parsed_steps)),
    )
    trend = run.choose("trend", trend, None, PERIODS)
    by = run.choose("by", by, None)
    fun.check_by_trend(by, trend)  # option errors before the (possibly long) read
    if dropped_at:
        fun.dropped_step(spec, dropped_at)
    loaded = run.load_events(inputs, properties=(by,) if by else (), sessions=session)
    frame_window = run.window(loaded, end_bounds_starts=True)
    with run.progress("computing the funnel"):
        if users or dropped_at:
            table = fun.users_table(fun.funnel_users(loaded, frame_window, spec, session=session), spec, dropped_at=dropped_at)
        else:
            table = fun.funnel_table(loaded, frame_window, spec, by=by, trend=trend, session=session)
    if table.attrs.get("pooled_groups"):
        from userops.glossary import say

        run.note(say("funnel_pooled", by=by, groups=f"{table.attrs['pooled_groups']:,}", most=fun.MAX_GROUPS, other=fun.OTHER_LABEL))
    dates_only = fun.dates_only_note(loaded)
    if dates_only:
        run.note(dates_only)
    for warning in fun.funnel_warnings(loaded, frame_window, spec, table):
        run.warn(warning)
    run.emit(table, title=f"funnel ({spec.order}, window {window or '14d'})", as_of=frame_window.as_of.isoformat())
