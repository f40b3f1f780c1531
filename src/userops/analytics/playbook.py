"""Suggested actions per segment: read from ``userops/data/playbook.toml`` (the one place
they live), with overrides from ``userops.toml``'s ``[playbook]`` table."""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib import resources

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@lru_cache(maxsize=1)
def _shipped() -> dict[str, str]:
    text = resources.files("userops").joinpath("data/playbook.toml").read_text(encoding="utf-8")
    actions: dict[str, str] = {}
    for table in tomllib.loads(text).values():
        actions.update(table)
    return actions


def actions(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """segment name -> suggested action (shipped playbook, then overrides)."""
    merged = dict(_shipped())
    merged.update(overrides or {})
    return merged
