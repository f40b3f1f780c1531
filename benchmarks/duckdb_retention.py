"""Baseline for ``userops retention --period week``: plain DuckDB SQL over the generated
events CSV computing weekly cohorts (first event) and, per cohort and week k, the distinct
users active again in week c+k.

    python benchmarks/duckdb_retention.py events.csv out.csv
"""

import sys

from baseline import connect

SQL = """
COPY (
  WITH act AS (SELECT DISTINCT user_id, CAST(date_trunc('week', CAST(timestamp AS TIMESTAMP)) AS DATE) AS p
               FROM read_csv(?, header = true, all_varchar = true)),
  cohorts AS (SELECT user_id, min(p) AS c FROM act GROUP BY 1)
  SELECT c AS cohort, date_diff('day', c, a.p) // 7 AS k, count(*) AS users
  FROM cohorts JOIN act a USING (user_id) GROUP BY 1, 2 ORDER BY 1, 2
) TO '{out}' (HEADER)
"""

if __name__ == "__main__":
    connect().execute(SQL.replace("{out}", sys.argv[2].replace("'", "''")), [sys.argv[1]])
