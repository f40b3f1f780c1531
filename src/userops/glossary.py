"""The product's words in each language: one data file per language
(``userops/data/glossary/en.toml`` and ``zh.toml``, the same keys in each).

* ``[names]``: values the tables hold (segment names, lifecycle states, risk tiers), keyed by
  userops' own English name; the engine writes the chosen language's name directly.
* ``[columns]``: column headers for ``--headers`` (``period_{k}`` names the numbered period
  columns of a retention matrix); machine formats keep the column keys.
* ``[report]``: the report's words.
* ``[notes]``: the messages on stderr, as templates. :func:`say` makes one: a :class:`Said`
  is the English text (a ``str``, so code and tests read it as before) and can say itself in
  another language (:func:`in_language`, which the command line applies to what it prints).
  Inside a message, a :class:`Name` is a value from ``[names]`` and a :class:`Joined` a list
  joined the language's way.
"""

from __future__ import annotations

import functools
import re

from userops.errors import UsageError

LANGS = ("en", "zh")
SECTIONS = ("names", "columns", "report", "notes")
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


def with_names(frame, columns: "tuple[str, ...] | list[str]", lang: str):
    """``frame`` with the values of ``columns`` named in ``lang`` (unknown values and
    non-text as they are); the frame itself in English."""
    if lang == "en":
        return frame
    out = frame.copy()
    for column in columns:
        out[column] = [name(v, lang) if isinstance(v, str) else v for v in out[column]]
    return out


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


class Said(str):
    """A message from the glossary's ``[notes]``: its English text, with the key and the values
    it was made with. A value may be another Said, or a list of them (joined as the language
    joins lists)."""

    key: str
    params: dict[str, object]

    def __new__(cls, key: str, params: dict[str, object]) -> "Said":
        said = super().__new__(cls, _render(key, params, "en"))
        said.key, said.params = key, params
        return said

    def in_language(self, lang: str) -> str:
        return _render(self.key, self.params, lang)

    def __reduce__(self):  # copies and pickles (dataclasses.asdict) keep the key and values
        return (Said, (self.key, self.params))


class Name(str):
    """A value from ``[names]`` (a model's name, a statistic) inside a message: English as it
    is, the glossary's name in another language."""

    def in_language(self, lang: str) -> str:
        return name(str(self), lang)


class Joined(tuple):
    """Items of a message joined by the language's ``[notes]`` separator ``separator`` (a plain
    list joins with ``list_separator``)."""

    separator: str

    def __new__(cls, items, separator: str) -> "Joined":
        joined = super().__new__(cls, items)
        joined.separator = separator
        return joined

    def __reduce__(self):
        return (Joined, (tuple(self), self.separator))


def say(key: str, **params: object) -> Said:
    """The ``[notes]`` message ``key`` filled with ``params`` (numbers already formatted)."""
    return Said(key, params)


def count(n: int, noun: str) -> Said:
    """``1 row``, ``2,000 rows``, ``2,000 行``: ``noun`` is a ``[notes]`` key with ``_one`` and
    ``_many`` forms."""
    return say(f"{noun}_{'one' if n == 1 else 'many'}", n=f"{n:,}")


def in_language(message: str, lang: str) -> str:
    """A message in ``lang``: a :class:`Said` (or :class:`Name`) says itself; any other text
    stays as it is."""
    return message.in_language(lang) if isinstance(message, (Said, Name)) else message


def _render(key: str, params: dict[str, object], lang: str) -> str:
    notes = words(lang)["notes"]
    template = notes.get(key) or words("en")["notes"][key]

    def shown(value: object) -> str:
        if isinstance(value, (Said, Name)):
            return value.in_language(lang)
        if isinstance(value, Joined):
            return notes[value.separator].join(shown(v) for v in value)
        if isinstance(value, (list, tuple)):
            return notes.get("list_separator", ", ").join(shown(v) for v in value)
        return str(value)

    return template.format(**{param: shown(value) for param, value in params.items()})
