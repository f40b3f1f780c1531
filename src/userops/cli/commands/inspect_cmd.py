"""``userops inspect``: what userops sees in a file before you analyse it."""

from __future__ import annotations

from userops.cli.app import command
from userops.cli.context import RunContext
from userops.cli.options import Inputs


@command("inspect")
def inspect(inputs: Inputs, *, run: RunContext) -> None:
    """Show the detected format, encoding, delimiter, column mapping, types, rows and date range.

    Example: [bold]userops inspect orders.csv[/bold]
    """
    from userops.glossary import count, say
    from userops.io.normalise import inspect_columns_in_language, inspect_input

    run.inputs = list(inputs)
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
        run.emit(inspect_columns_in_language(result.columns, run.lang), title=info.name)
