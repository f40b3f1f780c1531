"""The scan's SQL said for Spark: one definition of every query (the DuckDB text the concept
modules write), translated for Spark SQL by SQLGlot plus the rewrites below.

SQLGlot parses DuckDB and writes Spark, but it passes through what Spark has no word for
without a warning. The rewrites here cover the vocabulary the scan uses; the forms of it
they cannot say (a TIME type, a computed slice or pattern, an ASOF join of another shape)
fail loudly (:class:`Untranslatable`) instead of running with another meaning. The
equality of both engines' results, construct by construct and command by command, is held
by ``tests/test_spark.py``: a new query in the scan is tested there before it is trusted.

* ``* EXCLUDE`` / ``* REPLACE``: stars are expanded from the tables' schemas.
* ``ASOF LEFT JOIN``: Spark has none; the nearest following row is found with a window
  over both sides' keys (:func:`_asof_to_window`).
* ``first(x ORDER BY k)``: ``min_by(x, struct(k...))``.
* DuckDB-only functions (``epoch_us``, ``round_even``, ``isfinite``, ``timezone``, string
  slices, unsigned and ENUM types...) as their Spark equivalents.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
from collections.abc import Callable, Mapping
from typing import Any, cast

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify


class Untranslatable(Exception):
    """A construct of the scan's SQL with no Spark translation here."""


_names = itertools.count()


Schema = Mapping[str, Mapping[str, str]]


def translate(query: str, params: list | None = None, schema: Schema | Callable[[], Schema] | None = None) -> exp.Expression:
    """The parsed DuckDB statement rewritten for Spark (generate it with ``.sql("spark")``).
    ``schema``: table -> {column: DuckDB type} of the tables and views the query reads (or a
    function giving it, called only for a star to expand)."""
    if params:
        query = _numbered_placeholders(query)
    tree = cast(exp.Expression, sqlglot.parse_one(query, read="duckdb"))
    if params:
        tree = _bind(tree, list(params))
    if schema is not None and _has_special_stars(tree):
        tables = schema() if callable(schema) else schema
        tree = qualify(
            tree, schema={k: dict(v) for k, v in tables.items()}, dialect="duckdb", validate_qualify_columns=False,
            quote_identifiers=True, identify=False,
        )
    tree = _bottom_up(tree, _asof_to_window)
    return _bottom_up(tree, _spark_vocabulary)


def _bottom_up(tree: exp.Expression, rewrite) -> exp.Expression:
    """Rewrite every node, children before their parents (a rewritten parent keeps its
    rewritten children). A rewrite returns a new node (one holding the old node holds a copy
    of it) or the node itself."""
    for node in reversed(list(tree.walk(bfs=False))):
        new = rewrite(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def to_spark(query: str, params: list | None = None, schema: Schema | Callable[[], Schema] | None = None) -> str:
    return translate(query, params, schema).sql(dialect="spark")


def _has_special_stars(tree: exp.Expression) -> bool:
    return any(star.args.get("except_") or star.args.get("except") or star.args.get("replace") for star in tree.find_all(exp.Star))


# --- parameters -----------------------------------------------------------------------


def literal(value: Any) -> exp.Expression:
    """A Python value as an SQL literal (the ``?`` parameters DuckDB binds)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float, decimal.Decimal)):
        return exp.Literal.number(value)
    if isinstance(value, dt.datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP"))
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, (list, tuple)):
        return exp.Array(expressions=[literal(v) for v in value])
    raise Untranslatable(f"a parameter of type {type(value).__name__}")


def _numbered_placeholders(query: str) -> str:
    """Each ``?`` as ``$n``, numbered in the order of the text: the parsed tree is walked in
    the order of its clauses, not of the text (a CTE's ``?`` comes after the SELECT list's),
    so positional parameters would go to the wrong places."""
    from sqlglot.tokens import TokenType

    marks = [t.start for t in sqlglot.tokenize(query, read="duckdb") if t.token_type == TokenType.PLACEHOLDER and t.text == "?"]
    for number, start in reversed(list(enumerate(marks, start=1))):
        query = f"{query[:start]}${number}{query[start + 1:]}"
    return query


def _bind(tree: exp.Expression, params: list) -> exp.Expression:
    values = iter(params)

    for node in list(tree.find_all(exp.Placeholder, bfs=False)):  # in the order of the text
        number = str(node.this or "")
        node.replace(literal(params[int(number) - 1] if number.isdigit() else next(values)))  # $1 or ?
    return tree


# --- ASOF joins ---------------------------------------------------------------------------


def _asof_to_window(node: exp.Expression) -> exp.Expression:
    """``FROM A a ASOF LEFT JOIN S s ON a.u = s.u AND s.k > a.q`` (or ``>=``): each row of A
    with the row of S of the same ``u`` and the least ``k`` after ``q``. Spark has no ASOF
    join: A's distinct ``(u, q)`` and S's keys go into one window per ``u`` ordered by key,
    where the least S key from each A key on is the match (at an equal key S's rows sort
    before A's for ``>``, after them for ``>=``); A then joins its match by equality. S's
    keys are unique per ``u`` (event numbers)."""
    if not isinstance(node, exp.Select):
        return node
    joins = node.args.get("joins") or []
    asof = [j for j in joins if (j.args.get("method") or "").upper() == "ASOF"]
    if not asof:
        return node
    if len(joins) != 1 or (join := asof[0]).side.upper() != "LEFT":
        raise Untranslatable("an ASOF join beside other joins, or not a LEFT one")
    from_key = "from_" if "from_" in node.args else "from"
    left, right = node.args[from_key].this, join.this
    a, s = left.alias_or_name, right.alias_or_name
    conditions = list(join.args["on"].flatten()) if isinstance(join.args["on"], exp.And) else [join.args["on"]]
    equal = next((c for c in conditions if isinstance(c, exp.EQ)), None)
    after = next((c for c in conditions if isinstance(c, (exp.GT, exp.GTE))), None)
    if len(conditions) != 2 or equal is None or after is None or not all(isinstance(c, exp.Column) for c in (equal.this, equal.expression, after.this, after.expression)):
        raise Untranslatable("an ASOF join not of the form a.u = s.u AND s.k > a.q")
    a_part, s_part = (equal.this, equal.expression) if equal.this.table == a else (equal.expression, equal.this)
    s_key, a_key = after.this, after.expression
    if s_key.table != s or a_key.table != a or s_part.table != s or a_part.table != a:
        raise Untranslatable("an ASOF join not of the form a.u = s.u AND s.k > a.q")
    n = next(_names)
    nx, side = f"__asof{n}", f"__side{n}"
    sources = {}
    for name, table in ((a, left), (s, right)):
        sources[name] = table.this.sql("duckdb") if isinstance(table, exp.Table) else f"({table.this.sql('duckdb')})"
    order = f"k, {side} {'DESC' if isinstance(after, exp.GT) else 'ASC'}"
    keys = sqlglot.parse_one(
        f"""SELECT u, k, next_k FROM (
                SELECT u, k, {side}, min(CASE WHEN {side} = 1 THEN k END) OVER (
                       PARTITION BY u ORDER BY {order} ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_k
                FROM (SELECT DISTINCT {a_part.name} AS u, {a_key.name} AS k, 0 AS {side} FROM {sources[a]} WHERE {a_key.name} IS NOT NULL
                      UNION ALL SELECT {s_part.name} AS u, {s_key.name} AS k, 1 AS {side} FROM {sources[s]}))
            WHERE {side} = 0""",
        read="duckdb",
    )
    to_keys = exp.and_(
        exp.EQ(this=exp.column("u", nx), expression=a_part.copy()), exp.EQ(this=exp.column("k", nx), expression=a_key.copy())
    )
    to_match = exp.and_(equal.copy(), exp.EQ(this=s_key.copy(), expression=exp.column("next_k", nx)))
    node.set("joins", [
        exp.Join(this=exp.Subquery(this=keys, alias=exp.TableAlias(this=exp.to_identifier(nx))), side="LEFT", on=to_keys),
        exp.Join(this=right.copy(), side="LEFT", on=to_match),
    ])
    return node


# --- vocabulary -------------------------------------------------------------------------

_TYPES = {
    exp.DataType.Type.UTINYINT: "SMALLINT",
    exp.DataType.Type.USMALLINT: "INT",
    exp.DataType.Type.UINT: "BIGINT",
    exp.DataType.Type.UBIGINT: "DECIMAL(20, 0)",
    exp.DataType.Type.INT128: "DECIMAL(38, 0)",
    exp.DataType.Type.ENUM: "STRING",
    exp.DataType.Type.TIMESTAMPTZ: "TIMESTAMP_LTZ",  # an instant (Spark's plain TIMESTAMP is wall-clock here)
}


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _spark_vocabulary(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this in (exp.DataType.Type.TIME, exp.DataType.Type.TIMETZ):
        raise Untranslatable("the TIME type (Spark 4.0 has none; SQLGlot writes TIMESTAMP, another meaning)")
    if isinstance(node, exp.DataType) and node.this in _TYPES:
        return exp.DataType.build(_TYPES[node.this], dialect="spark")
    if isinstance(node, exp.CTE) and node.args.get("materialized"):  # a hint to DuckDB's planner
        node.set("materialized", None)
        return node
    if isinstance(node, exp.TryCast) and node.to.this in _TIME_TYPES:
        return _iso_only(node)
    if isinstance(node, exp.RegexpFullMatch):
        if not isinstance(node.expression, exp.Literal):
            raise Untranslatable("regexp_full_match with a computed pattern")
        return exp.RegexpLike(this=node.this, expression=exp.Literal.string(f"^(?:{node.expression.this})$"))
    if isinstance(node, exp.UnixToTime) and not node.args.get("scale") and not node.args.get("format"):  # epoch seconds -> instant
        return _call("timestamp_seconds", node.this)
    if isinstance(node, exp.DateDiff):
        return _date_diff(node)
    if isinstance(node, exp.First) and isinstance(node.this, exp.Order):
        return _first_ordered(node.this)
    if isinstance(node, exp.TimeToUnix) and isinstance(node.this, exp.Sub):  # epoch(a - b): seconds between
        later, earlier = node.this.this, node.this.expression
        return exp.paren(exp.Div(this=exp.paren(exp.Sub(this=_micros(later), expression=_micros(earlier))), expression=exp.Literal.number("1e6")))
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        args = node.expressions
        if name == "epoch_us":
            return _micros(args[0])
        if name in ("arg_min_null", "arg_max_null"):  # the value even where it is NULL: Spark's min_by/max_by
            return _call("min_by" if name == "arg_min_null" else "max_by", *args)
        if name == "round_even":
            return _call("bround", *args)
        if name == "isfinite":
            x = args[0]
            return exp.paren(exp.and_(
                exp.not_(_call("isnan", x.copy())),
                exp.not_(exp.In(this=x.copy(), expressions=[_call("double", exp.Literal.string("inf")), _call("double", exp.Literal.string("-inf"))])),
            ))
        if name == "timezone":  # a UTC instant as the wall-clock time in a zone
            zone, value = args
            return exp.cast(_call("from_utc_timestamp", value, zone), exp.DataType.build("TIMESTAMP_NTZ", dialect="spark"))
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Slice):
        return _slice(node.this, node.expressions[0])
    if isinstance(node, exp.PercentileCont) and node.args.get("expression") is not None:
        return _call("percentile", node.this, node.expression)
    return node


_TIME_TYPES = (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ, exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ, exp.DataType.Type.DATE)
#: What DuckDB's cast of text to a time requires: a year-month-day date first. Spark's cast
#: also reads ``2024`` or ``00004`` (an id) as 1 January of that year.
ISO_DATE_START = r"^\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"


def _iso_only(node: exp.TryCast) -> exp.Expression:
    """``TRY_CAST(x AS TIMESTAMP)`` as DuckDB reads text: NULL unless x starts with a date."""
    text = exp.cast(node.this.copy(), exp.DataType.build("STRING", dialect="spark"))
    return exp.Case(ifs=[exp.If(this=exp.RegexpLike(this=text, expression=exp.Literal.string(ISO_DATE_START)), true=node.copy())])


def _date_diff(node: exp.DateDiff) -> exp.Expression:
    """DuckDB's ``date_diff(unit, start, end)``: the unit boundaries crossed from start to
    end (Spark's ``timestampdiff`` counts whole units elapsed instead)."""
    unit = (node.text("unit") or "DAY").upper()
    end, start = node.this, node.expression
    if unit == "DAY":
        return _call("datediff", exp.cast(end, exp.DataType.build("DATE")), exp.cast(start, exp.DataType.build("DATE")))
    if unit == "MONTH":
        def months(value: exp.Expression) -> exp.Expression:
            return exp.paren(exp.Add(this=exp.Mul(this=_call("year", value.copy()), expression=exp.Literal.number(12)), expression=_call("month", value.copy())))
        return exp.paren(exp.Sub(this=months(end), expression=months(start)))
    raise Untranslatable(f"date_diff in {unit.lower()}s")


def _micros(value: exp.Expression) -> exp.Expression:
    """Microseconds since the epoch of a wall-clock timestamp (the session's zone is UTC)."""
    return _call("unix_micros", exp.cast(value, exp.DataType.build("TIMESTAMP_LTZ", dialect="spark")))


def _first_ordered(order: exp.Order) -> exp.Expression:
    """``first(x ORDER BY k1 DESC, k2)``: the x of the least ``struct(-k1, k2)``. A key sorted
    descending is negated, so it must be a number (the scan's are counts); a text literal is
    refused, a text column cannot be told apart here (its negation would be NULL)."""
    keys = []
    for ordered in order.expressions:
        key = ordered.this
        if ordered.args.get("desc"):
            if isinstance(key, exp.Literal) and key.is_string:
                raise Untranslatable("first(... ORDER BY text DESC)")
            key = exp.Neg(this=key.copy())
        keys.append(key)
    return _call("min_by", order.this, _call("struct", *keys) if len(keys) > 1 else keys[0])


def _slice(value: exp.Expression, piece: exp.Slice) -> exp.Expression:
    """DuckDB's ``s[i:j]`` (1-based, both ends inclusive; negative j counts from the end)."""
    start = piece.this
    end = piece.args.get("expression")
    if not isinstance(start, exp.Literal) or not (end is None or isinstance(end, (exp.Literal, exp.Neg))):
        raise Untranslatable("a string slice with computed bounds")
    i = int(start.this)
    if end is None:
        return exp.Substring(this=value, start=exp.Literal.number(i))
    j = -int(end.this.this) if isinstance(end, exp.Neg) else int(end.this)
    if j >= 0:
        return exp.Substring(this=value, start=exp.Literal.number(i), length=exp.Literal.number(j - i + 1))
    length = exp.Sub(this=exp.Length(this=value.copy()), expression=exp.Literal.number(i - j - 2))
    return exp.Substring(this=value, start=exp.Literal.number(i), length=length)
