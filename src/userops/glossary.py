"""The product's words in each language: one data file per language
(``userops/data/glossary/en.toml`` and ``zh.toml``, the same keys in each).

* ``[names]``: values the tables hold (segment names, lifecycle states, risk tiers), keyed by
  userops' own English name; the engine writes the chosen language's name directly.
* ``[columns]``: column headers for ``--headers`` (``period_{k}`` names the numbered period
  columns of a retention matrix); machine formats keep the column keys.
* ``[report]``: the report's words.
"""

from __future__ import annotations

import functools
import re

from userops.errors import UsageError

LANGS = ("en", "zh")
SECTIONS = ("names", "columns", "report")
_NUMBERED = re.compile(r"^(.*_)(\d+)$")


def check_lang(lang: str | None, option: str = "--lang") -> str:
    """``lang`` if it is a language userops speaks (en when None), else a usage error."""
    if lang is None:
        return "en"
    if lang not in LANGS:
        raise UsageError(f"{option} must be one of {', '.join(LANGS)} (got {lang!r})")
    return lang


@functools.cache
def words(lang: str) -> dict[str, dict[str, str]]:
    """The glossary of ``lang``: section -> key -> text."""
    import sys
    from importlib import resources

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    text = resources.files("userops").joinpath(f"data/glossary/{check_lang(lang)}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return {section: dict(data.get(section, {})) for section in SECTIONS}


def name(value: str, lang: str) -> str:
    """A value's name in ``lang`` (segment, lifecycle state, risk tier); unknown values as they are."""
    return words(lang)["names"].get(value, value)


def header(column: str, lang: str) -> str:
    """A column's header in ``lang``; a column the glossary does not know keeps its key."""
    columns = words(lang)["columns"]
    if column in columns:
        return columns[column]
    numbered = _NUMBERED.match(column)
    if numbered and f"{numbered.group(1)}{{k}}" in columns:
        return columns[f"{numbered.group(1)}{{k}}"].format(k=numbered.group(2))
    return column


def report_labels(lang: str) -> dict[str, str]:
    """The report's words in ``lang`` (English for a key the language lacks)."""
    merged = dict(words("en")["report"])
    merged.update(words(lang)["report"])
    return merged
