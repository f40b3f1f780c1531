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
    from userops.io.normalise import inspect_input

    run.inputs = list(inputs)
    for path in inputs:
        result = inspect_input(path, run.load_options())
        info = result.info
        parts = [info.format]
        if info.compression:
            parts.append(info.compression)
        if info.encoding:
            parts.append(info.encoding)
        if info.delimiter:
            parts.append(f"delimiter {info.delimiter!r}")
        run.note(f"{info.name}: {', '.join(parts)}; {result.rows:,} rows")
        if result.first_ts is not None:
            bad = f"; {result.unparseable_times:,} unparseable" if result.unparseable_times else ""
            run.note(f"{info.name}: dates {result.first_ts} .. {result.last_ts}{bad}")
        missing = [r for r in ("user", "time") if r not in result.mapping]
        if missing:
            run.note(f"{info.name}: no column found for {', '.join(missing)} (set --{missing[0]}-col)")
        run.emit(result.columns, title=info.name)
