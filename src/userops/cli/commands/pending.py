"""Commands that are registered but not built yet: they say so and exit 1 (no fake output)."""

from __future__ import annotations

from userops.cli.app import command
from userops.cli.context import RunContext
from userops.cli.options import Inputs
from userops.errors import NotImplementedYet

_PENDING = {
    "report": "The weekly HTML report, from cron.\n\nExample: userops report orders.csv --events events.csv -o 'weekly-{as_of}.html'",
}


def _make(name: str, doc: str) -> None:
    def pending(inputs: Inputs, *, run: RunContext) -> None:
        raise NotImplementedYet(f"'{name}' is not implemented yet")

    pending.__doc__ = doc + "\n\n(not implemented yet)"
    pending.__name__ = name
    command(name)(pending)


for _name, _doc in _PENDING.items():
    _make(_name, _doc)
