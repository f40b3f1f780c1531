"""``userops report``: the self-contained HTML report, from cron."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from userops.cli.app import command
from userops.cli.context import RunContext
from userops.cli.options import Inputs


@command("report")
def report(
    inputs: Inputs,
    events: Annotated[Optional[str], typer.Option("--events", help="A clickstream export for the funnel section.")] = None,
    title: Annotated[Optional[str], typer.Option("--title", help="The report's title.")] = None,
    period: Annotated[Optional[str], typer.Option("--period", help="week or month: the KPI comparison and the trends.", show_default="week")] = None,
    steps: Annotated[Optional[str], typer.Option("--steps", help="Funnel steps (default: the 5 most widespread events, in that order).")] = None,
    funnel_window: Annotated[Optional[str], typer.Option("--window", help="Funnel window.", show_default="14d")] = None,
    horizon: Annotated[Optional[str], typer.Option("--horizon", help="Churn: how far ahead (90d, 13w).", show_default="90d")] = None,
    promos: Annotated[Optional[str], typer.Option("--promos", help="Promotion calendar cn|us|none (and [promotions] in userops.toml): windows shaded on the trends, and a review of the last promotion.")] = None,
    purchase_model: Annotated[Optional[str], typer.Option("--model", help="Churn's purchase model: auto (back-tested, drawn in the report), bgnbd, pareto or mbgnbd.", show_default="auto")] = None,
    *,
    run: RunContext,
) -> None:
    """The weekly HTML report: one self-contained file (no network), English or Chinese, safe for cron.

    Example: [bold]userops report orders.csv --events events.csv -o 'reports/weekly-{as_of}.html'[/bold]
    """
    import os

    from userops.analytics.churn import DEFAULT_HORIZON_DAYS, PURCHASE_MODELS, parse_days
    from userops.analytics.playbook import actions
    from userops.errors import UsageError
    from userops.glossary import say
    from userops.io import writers
    from userops.render.html import render_report
    from userops.report.model import REPORT_PERIODS, build_report_model

    output = run.get("output")
    fmt = run.get("format")
    if fmt not in (None, "html"):
        raise UsageError("the report is HTML", hint="drop --format, or use the other commands for tables")
    if output is None:
        raise UsageError("the report needs an output file", hint="add -o report.html (the name may contain {as_of}), or -o - for stdout")
    run.check_output(list(inputs) + ([events] if events else []), html=True)
    calendar = run.promo_calendar(promos)
    from userops.cli.commands.churn import MODEL_MODULES

    run.prefetch(*MODEL_MODULES, "lifelines")
    loaded = run.load_orders(inputs)
    window = run.window(loaded)
    loaded_events = None
    if events:
        loaded_events = run.load_events([events], sessions=False)
        run.inputs = list(inputs) + [events]  # -o must not overwrite either input
    with run.progress("building the report"):
        model = build_report_model(
            loaded, window, events=loaded_events,
            lang=run.lang, period=run.choose("period", period, "week", REPORT_PERIODS),
            title=run.choose("title", title, None), steps=run.choose("steps", steps, None), funnel_window=run.choose("window", funnel_window, "14d"),
            horizon_days=parse_days(run.choose("horizon", horizon, "90d"), "--horizon") or DEFAULT_HORIZON_DAYS, actions=actions(run.config.playbook),
            purchase_model=run.choose("model", purchase_model, "auto", ("auto", *PURCHASE_MODELS)),
            inputs=list(inputs) + ([events] if events else []), columns=run.column_overrides(),
            promotions=run.promotions(calendar, loaded),
        )
        html = render_report(model)
    for line in model.skipped:
        run.note(say("left_out", what=line))
    for warning in model.warnings:
        run.warn(warning)
    if output == "-":  # e.g. piped into a mail command
        writers.write_stdout(lambda fh: None if fh.write(html.encode("utf-8")) else None)
        return
    path = output.replace("{as_of}", window.as_of.isoformat())
    writers.write_atomic(path, html.encode("utf-8"), inputs=tuple(run.inputs))
    run.note(say("wrote_file", path=path, mb=f"{os.path.getsize(path) / 1e6:.1f}"))
