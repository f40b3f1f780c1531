"""``userops inspect``: what userops sees in a file before you analyse it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from userops.cli.app import command
from userops.cli.context import RunContext
from userops.cli.options import Inputs


@command("inspect")
def inspect(
    inputs: Inputs,
    save_profile: Annotated[Optional[str], typer.Option("--save-profile", help="Write the export's profile (columns, roles, types, rows, dates, statuses) to this JSON file.")] = None,
    against: Annotated[Optional[str], typer.Option("--against", help="Compare with a saved profile: write what changed; exit 3 on a breaking change.")] = None,
    max_row_drop: Annotated[float, typer.Option("--max-row-drop", min=0.0, max=1.0, help="--against: fewer rows by more than this share is breaking.")] = 0.2,
    *,
    run: RunContext,
) -> None:
    """Show the detected format, encoding, delimiter, column mapping, types, rows and date range.

    Example: [bold]userops inspect orders.csv[/bold] (drift: [bold]--against last.json --save-profile last.json[/bold])
    """
    from userops.glossary import count, say
    from userops.io.normalise import inspect_columns_in_language, inspect_input

    run.inputs = list(inputs)
    if (save_profile or against) and len(inputs) != 1:
        from userops.errors import UsageError

        raise UsageError("--save-profile and --against take one export at a time")
    for path in inputs:
        result = inspect_input(path, run.load_options(), engine=run.engine())
        info = result.info
        parts = [info.format]
        if info.compression:
            parts.append(info.compression)
        if info.encoding:
            parts.append(info.encoding)
        if info.delimiter:
            parts.append(say("inspect_delimiter", d=repr(info.delimiter)))
        run.note(say("inspect_read", file=info.name, how=parts, rows=count(result.rows, "row")))
        if result.first_ts is not None:
            bad = say("inspect_unparseable", n=f"{result.unparseable_times:,}") if result.unparseable_times else ""
            run.note(say("inspect_dates", file=info.name, first=result.first_ts, last=result.last_ts, bad=bad))
        missing = [r for r in ("user", "time") if r not in result.mapping]
        if missing:
            run.note(say("inspect_missing", file=info.name, roles=", ".join(missing), flag=missing[0]))
        if save_profile or against:
            _drift(run, result, save_profile=save_profile, against=against, max_row_drop=max_row_drop)
        if against is None:  # the comparison is the table of --against; otherwise the columns
            run.emit(inspect_columns_in_language(result.columns, run.lang), title=info.name)


def _drift(run: RunContext, result, *, save_profile: str | None, against: str | None, max_row_drop: float) -> None:
    """--against: the changes since a saved profile (exit 3 when one is breaking);
    --save-profile: this export's profile (not over a saved one when the export broke it)."""
    from userops.glossary import say
    from userops.io import drift

    breaking = 0
    if against:
        profile, found = drift.compare_export(result, drift.load_profile(against), max_row_drop=max_row_drop)
        breaking = found.breaking
        run.note(say("drift_summary", changes=len(found.table), breaking=breaking, against=against))
        run.emit(found.table, title=f"changes against {against}")
    else:
        profile = drift.export_profile(result, list(result.status_values))
    if save_profile:
        if breaking:
            run.note(say("drift_not_saved", path=save_profile))
        else:
            drift.save_profile(profile, save_profile)
            run.note(say("drift_saved", path=save_profile))
    if breaking:
        from userops.errors import EXIT_BREACHED

        raise typer.Exit(EXIT_BREACHED)
