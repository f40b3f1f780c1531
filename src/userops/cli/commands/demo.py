"""``userops demo``: write the deterministic example data."""

from __future__ import annotations

from typing import Annotated

import typer

from userops.cli.app import app
from userops.errors import OutputError


@app.command("demo")
def demo(
    out: Annotated[str, typer.Option("--out", help="Folder to write orders.csv, events.csv and costs.csv into.")] = "examples",
    customers: Annotated[int, typer.Option("--customers", min=1, help="Customers in orders.csv.")] = 4000,
    visitors: Annotated[int, typer.Option("--visitors", min=1, help="Visitors in events.csv.")] = 8000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same bytes).")] = 7,
) -> None:
    """Write realistic example data: order lines (refunds, channels, categories, ~18 months), a clickstream and marketing spend.

    Example: [bold]userops demo --out examples[/bold]
    """
    from userops.demo import generate_demo

    try:
        paths = generate_demo(out, customers=customers, visitors=visitors, seed=seed)
    except OSError as exc:
        typer.echo(f"userops: error: {out}: cannot write the example data ({exc.strerror or exc})", err=True)
        raise typer.Exit(OutputError.exit_code) from None
    for path in paths:
        typer.echo(f"userops: wrote {path}", err=True)
