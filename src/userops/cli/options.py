"""Every shared flag, defined once.

``SHARED_OPTIONS`` is added to each command's signature by :func:`userops.cli.app.command`;
the command body receives them bundled in a :class:`~userops.cli.context.RunContext`.
All shared flags default to ``None`` so ``userops.toml`` can fill what the user did not set.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Optional

import typer

from userops import schema

INPUT_PANEL = "Input"
OUTPUT_PANEL = "Output"
COLUMNS_PANEL = "Columns (override detection)"
GENERAL_PANEL = "General"

Inputs = Annotated[list[str], typer.Argument(help="Input file(s): csv/tsv/txt (optionally .gz/.zip/.bz2/.xz), parquet, xlsx, jsonl; '-' reads stdin.", show_default=False)]


def _opt(name: str, annotation, *decls: str, help: str, panel: str) -> inspect.Parameter:
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[annotation, typer.Option(*decls, help=help, rich_help_panel=panel, show_default=False)],
    )


def _flag(name: str, decl: str, *, help: str, panel: str) -> inspect.Parameter:
    return _opt(name, Optional[bool], decl, help=help, panel=panel)


SHARED_OPTIONS: list[inspect.Parameter] = [
    # output
    _opt("format", Optional[str], "--format", "-f", help="table|csv|tsv|json|jsonl|markdown|xlsx|parquet (default: table on a terminal, csv in a pipe, else from -o).", panel=OUTPUT_PANEL),
    _opt("output", Optional[str], "--output", "-o", help="Write to this file (format from the extension; '{as_of}' is filled in).", panel=OUTPUT_PANEL),
    _flag("excel", "--excel/--no-excel", help="Write a UTF-8 BOM so Excel opens non-ASCII CSV correctly (alias --bom).", panel=OUTPUT_PANEL),
    _flag("bom", "--bom", help="Same as --excel.", panel=OUTPUT_PANEL),
    _flag("raw", "--raw", help="Do not neutralise cells starting with = + - @ (formula injection guard).", panel=OUTPUT_PANEL),
    _opt("headers", Optional[str], "--headers", help="en or zh: column headers of CSV, XLSX, Markdown and terminal tables (JSON and Parquet keep the keys; default en).", panel=OUTPUT_PANEL),
    # input
    _opt("as_of", Optional[str], "--as-of", help="Reference date YYYY-MM-DD or 'today' (default: the latest order or event in the data). Later rows are ignored.", panel=INPUT_PANEL),
    _opt("date_from", Optional[str], "--from", help="Only rows on or after this date (funnel: the step-1 event; retention: the cohort's start).", panel=INPUT_PANEL),
    _opt("date_to", Optional[str], "--to", help="Only rows on or before this date (funnel: the step-1 event; retention: the cohort's start).", panel=INPUT_PANEL),
    _opt("encoding", Optional[str], "--encoding", help="Input text encoding (default: detect UTF-8/BOM/GBK).", panel=INPUT_PANEL),
    _opt("decimal", Optional[str], "--decimal", help="Decimal separator of amounts: '.' or ',' (default: detect).", panel=INPUT_PANEL),
    _flag("dayfirst", "--dayfirst/--monthfirst", help="Read 01/02/2024 as 1 February (default: detect, else month first).", panel=INPUT_PANEL),
    _opt("tz", Optional[str], "--tz", help="Time zone to convert timestamps with a UTC offset to (default: the export's own local time as written; epoch numbers UTC).", panel=INPUT_PANEL),
    _flag("include_refunds", "--include-refunds", help="Keep cancelled/refunded/unpaid orders and negative totals as purchases.", panel=INPUT_PANEL),
    _opt("currency", Optional[str], "--currency", help="Keep only orders in this currency (e.g. CNY) when the export mixes currencies.", panel=INPUT_PANEL),
    _opt("purchase_event", Optional[str], "--purchase-event", help="Orders from a clickstream: the event(s) that are purchases (e.g. purchase); a price column, if any, is the amount.", panel=INPUT_PANEL),
    _flag("strict", "--strict", help="Fail (exit 65) instead of dropping unusable rows.", panel=INPUT_PANEL),
    # columns
    *[
        _opt(f"{role}_col", Optional[str], schema.ROLE_FLAGS[role], help=f"Column holding the {role.replace('_', ' ')}.", panel=COLUMNS_PANEL)
        for role in schema.ALL_ROLES
    ],
    # general
    _opt("lang", Optional[str], "--lang", help="en or zh: segment names, statuses, actions and the report (default en).", panel=GENERAL_PANEL),
    _opt("threads", Optional[int], "--threads", help="Threads the engine uses (default: every core; also USEROPS_THREADS).", panel=GENERAL_PANEL),
    _opt("memory_limit", Optional[str], "--memory-limit", help="The engine's memory before it spills to disk, e.g. 8GB or 50% (default: half the RAM).", panel=GENERAL_PANEL),
    _opt("engine", Optional[str], "--engine", help="duckdb (embedded, the default) or spark (pip install 'userops[spark]'); also [engine] kind in userops.toml.", panel=GENERAL_PANEL),
    _opt("spark_master", Optional[str], "--spark-master", help="With --engine spark: the master, e.g. yarn, spark://host:7077 or local[*] (default: local[*]).", panel=GENERAL_PANEL),
    _opt("config", Optional[str], "--config", help="Read defaults from this TOML file (default: ./userops.toml if present).", panel=GENERAL_PANEL),
    _opt("quiet", Optional[bool], "--quiet", "-q", help="No notes or progress on stderr (errors still show).", panel=GENERAL_PANEL),
    _flag("debug", "--debug", help="Show Python tracebacks for internal errors.", panel=GENERAL_PANEL),
]

SHARED_NAMES = [p.name for p in SHARED_OPTIONS]


def option_kinds(params: list[inspect.Parameter]) -> dict[str, type]:
    """Option name -> the Python type its value has (bool, int, float, str, list), from the
    ``Annotated[Optional[T], typer.Option(...)]`` annotations of a command's parameters."""
    import typing

    kinds = {}
    for param in params:
        annotation = param.annotation
        if typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        base = args[0] if typing.get_origin(annotation) is typing.Union and args else annotation
        base = typing.get_origin(base) or base
        if base in (bool, int, float, str, list):
            kinds[param.name] = base
    return kinds


def check_config_types(options: dict, kinds: dict[str, type], known: set[str], *, file: str | None) -> None:
    """Every ``userops.toml`` value has its option's type (``strict = "false"`` is not a
    boolean: it would turn --strict on), and every key is some command's option."""
    import datetime as dt

    from userops.errors import UsageError

    for key, value in options.items():
        if key not in known:
            raise UsageError(f"unknown option {key!r} in the config", file=file, hint="keys are option names, e.g. as_of, period, strict")
        kind = kinds.get(key)
        if kind is None:
            continue
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:  # text options: a string, a list of strings (keep, exclude), a TOML date, or a
            # whole number where a duration is text ("90d" or 90 days)
            ok = (
                isinstance(value, (str, dt.date))
                or (isinstance(value, int) and not isinstance(value, bool))
                or (isinstance(value, list) and all(isinstance(v, str) for v in value))
            )
        if not ok:
            wanted = {bool: "true or false", int: "a whole number", float: "a number", str: "text", list: "a list of text"}[kind]
            raise UsageError(f"{key} = {value!r} in the config must be {wanted}", file=file, hint=f'e.g. {key} = {_example(kind)}')


def _example(kind: type) -> str:
    return {bool: "true", int: "5", float: "0.01", str: '"week"', list: '["email"]'}[kind]
