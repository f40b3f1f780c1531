"""Campaign lists: the holdout (control) group of a list, drawn in the engine.

The draw is stratified by segment and seeded: within each segment the customers are ordered
by the MD5 of ``seed|customer_id`` and the first round(n × share) are the control group, so
every segment is held out to within one customer, and the same seed gives the same groups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from userops.scan import sql

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def assign_holdout(table: "pa.Table", share: float, *, seed: int = 0) -> "pa.Table":
    """``table`` (a campaign list with customer_id and segment) with a ``group`` column,
    ``treatment`` or ``control``, in the list's order."""
    from userops.io.readers import RawSource, ReadInfo
    from userops.scan.engine import Engine

    engine = Engine(threads=1)
    try:
        view, _ = engine.register(RawSource(ReadInfo("<campaign list>", "frame", headers=tuple(table.column_names)), table=table))
        strata = "CAST(segment AS VARCHAR)" if "segment" in table.column_names else "''"
        key = f"md5({sql.sql_str(str(int(seed)) + '|')} || CAST(customer_id AS VARCHAR))"
        return engine.arrow(
            f"""SELECT * EXCLUDE (__row, __rank, __size),
                       CASE WHEN __rank <= round(__size * {float(share)!r}) THEN 'control' ELSE 'treatment' END AS "group"
                FROM (SELECT *, row_number() OVER (PARTITION BY {strata} ORDER BY {key}, customer_id) AS __rank,
                             count(*) OVER (PARTITION BY {strata}) AS __size
                      FROM (SELECT *, row_number() OVER () AS __row FROM {view}))
                ORDER BY __row"""
        )
    finally:
        engine.close()


def group_sums(orders, list_path: str, *, since, end, encoding: str | None = None) -> "tuple[dict, int]":
    """Per group of the campaign list (``group``: treatment/control): customers, buyers in
    [since, end), their revenue and its square summed over customers; and how many listed
    customers bought nothing ever in the export (ids that may not match)."""
    from userops import schema
    from userops.analytics.campaign import GroupSums
    from userops.errors import DataError
    from userops.io import columns as colmod

    engine = orders.engine
    source = engine.open(list_path, encoding=encoding)
    view, types = engine.register(source)
    name = source.info.name
    mapping = colmod.resolve_roles(list(types), {}, file=name, roles=(schema.ROLE_USER,))
    user = mapping.get(schema.ROLE_USER)
    group = next((h for h in types if colmod.normalise_header(h) in {"group", "holdoutgroup", "分组", "组别"}), None)
    if user is None or group is None:
        raise DataError(
            f"the campaign list needs a customer id and a group column (found: {', '.join(types)})", file=name,
            hint="use the list segment --holdout wrote",
        )
    q = sql.quote_ident
    ids = sql.id_expr(q(user), types[user])
    rows = engine.rows(
        f"""WITH listed AS (SELECT DISTINCT {ids} AS customer_id, lower(trim(CAST({q(group)} AS VARCHAR))) AS grp FROM {view}),
             bought AS (SELECT customer_id, CAST(sum(amount) AS DOUBLE) AS revenue FROM orders
                        WHERE reason IS NULL AND order_ts >= {sql.timestamp(since)} AND order_ts < {sql.timestamp(end)} GROUP BY 1),
             known AS (SELECT DISTINCT customer_id FROM orders WHERE reason IS NULL)
            SELECT grp, count(*), count(b.customer_id), coalesce(sum(b.revenue), 0), coalesce(sum(b.revenue * b.revenue), 0),
                   count(*) FILTER (WHERE k.customer_id IS NULL)
            FROM listed l LEFT JOIN bought b USING (customer_id) LEFT JOIN known k USING (customer_id)
            GROUP BY grp ORDER BY grp""",
        file=name,
    )
    other = [r[0] for r in rows if r[0] not in ("treatment", "control")]
    if other:
        raise DataError(f"group {other[0]!r} is neither treatment nor control", file=name, column=group)
    sums = {r[0]: GroupSums(int(r[1]), int(r[2]), float(r[3]), float(r[4])) for r in rows}
    return sums, sum(int(r[5]) for r in rows)
