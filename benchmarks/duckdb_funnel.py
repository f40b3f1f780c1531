"""Baseline for ``userops funnel``: plain DuckDB SQL over the generated events CSV computing
the same ordered 5-step funnel (7-day window): users reaching each step, each user counted
once at the furthest step of any attempt, the earliest next-step event after the previous.

    python benchmarks/duckdb_funnel.py events.csv out.csv
"""

import sys

from baseline import connect

STEPS = ["home", "product_view", "add_to_cart", "checkout", "purchase"]


def main(path: str, out: str) -> None:
    con = connect()
    con.execute(
        "CREATE TABLE e AS SELECT user_id, event, CAST(timestamp AS TIMESTAMP) AS ts, "
        "row_number() OVER (PARTITION BY user_id ORDER BY CAST(timestamp AS TIMESTAMP), event) AS seq "
        "FROM read_csv(?, header = true, all_varchar = true)",
        [path],
    )
    ctes = [f"s{k} AS (SELECT user_id, ts, seq FROM e WHERE event = '{name}')" for k, name in enumerate(STEPS, start=1)]
    ctes.append("a1 AS (SELECT user_id, ts AS t1, seq AS q1 FROM s1)")
    for k in range(2, len(STEPS) + 1):
        ctes.append(
            f"a{k} AS (SELECT a.*, CASE WHEN s.ts <= a.t1 + INTERVAL 7 DAY THEN s.seq END AS q{k} "
            f"FROM a{k - 1} a ASOF LEFT JOIN s{k} s ON a.user_id = s.user_id AND s.seq > a.q{k - 1})"
        )
    furthest = " + ".join(f"(q{k} IS NOT NULL)::INT" for k in range(1, len(STEPS) + 1))
    steps = ", ".join(f"count(*) FILTER (WHERE f >= {k}) AS step_{k}" for k in range(1, len(STEPS) + 1))
    con.execute(
        f"COPY (WITH {', '.join(ctes)}, best AS (SELECT user_id, max({furthest}) AS f FROM a{len(STEPS)} GROUP BY 1) "
        f"SELECT {steps} FROM best) TO '{out}' (HEADER)"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
