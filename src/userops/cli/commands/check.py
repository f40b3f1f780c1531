"""``userops check``: KPI rules that fail a cron job (exit 3 when one is breached)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from userops.cli.app import command
from userops.cli.context import RunContext
from userops.cli.options import Inputs


@command("check")
def check(
    inputs: Inputs,
    events: Annotated[Optional[str], typer.Option("--events", help="A clickstream export, for funnel rules.")] = None,
    rules: Annotated[Optional[str], typer.Option("--rules", help="A TOML file of [[check]] rules (default: those in userops.toml).")] = None,
    profile: Annotated[Optional[str], typer.Option("--profile", help="A saved export profile (inspect --save-profile): the export is compared with it first, and a breaking change stops the checks (exit 3).")] = None,
    *,
    run: RunContext,
) -> None:
    """Do the KPIs hold? One line per [[check]] rule (ok or breached); exit 3 when one is breached.

    Example: [bold]userops check orders.csv --events events.csv --rules checks.toml || mail -s "KPI alert" ops@example.com[/bold]
    """
    from userops.analytics import checks as chk
    from userops.errors import EXIT_BREACHED
    from userops.glossary import say

    if rules:
        from userops.config import load_config

        tables = load_config(rules).checks
        where: str | None = rules
    else:
        tables, where = run.config.checks, run.config.path
    parsed = chk.parse_rules(tables, source=where)  # a malformed rule fails before the data is read
    if any(r.metric == "funnel" for r in parsed) and not events:
        from userops.errors import UsageError

        raise UsageError("a funnel rule needs --events")
    if profile:
        _export_unchanged(run, inputs, profile)
    loaded = run.load_orders(inputs)
    window = run.window(loaded)
    loaded_events = None
    if events:
        loaded_events = run.load_events([events], sessions=False)
        run.inputs = list(inputs) + [events]
    with run.progress("checking"):
        table = chk.run_checks(parsed, loaded, window, loaded_events)
    for row in table.itertuples(index=False):
        run.note(say(f"check_{row.status}", rule=row.rule, value=f"{row.value:,.6g}", detail=row.detail))
    from userops.glossary import with_names

    run.emit(with_names(table, ["status"], run.lang), title=f"checks as of {window.as_of}", as_of=window.as_of.isoformat())
    if (table["status"] == "breached").any():
        raise typer.Exit(EXIT_BREACHED)


def _export_unchanged(run: RunContext, inputs: list[str], profile: str) -> None:
    """The orders export against its saved profile: a breaking change is reported and stops
    the checks (exit 3) — rules on a broken export would pass or fail for the wrong reason."""
    from userops.errors import EXIT_BREACHED, UsageError
    from userops.glossary import say
    from userops.io import drift
    from userops.io.normalise import inspect_input

    if len(inputs) != 1:
        raise UsageError("--profile compares one export: give one orders file")
    saved = drift.load_profile(profile)
    result = inspect_input(inputs[0], run.load_options(), engine=run.engine())
    _, found = drift.compare_export(result, saved)
    if found.breaking:
        run.note(say("drift_summary", changes=len(found.table), breaking=found.breaking, against=profile))
        for row in found.table[found.table["severity"] == "breaking"].itertuples(index=False):
            run.note(say("check_export_broken", change=row.change, column=row.column, before=row.before, after=row.after))
        run.inputs = list(inputs)
        run.emit(found.table, title=f"changes against {profile}")
        raise typer.Exit(EXIT_BREACHED)
