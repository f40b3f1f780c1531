"""Baseline for ``userops retention ORDERS --period month``: plain DuckDB SQL over the
generated orders CSV computing monthly cohorts (first purchase) and, per cohort and month k,
the distinct customers who bought again in month c+k, with the same exclusions as
duckdb_segment.py (no customer id, refunded/cancelled).

    python benchmarks/duckdb_retention_orders.py orders.csv out.csv
"""

import sys

from baseline import connect

SQL = """
COPY (
  WITH act AS (SELECT DISTINCT customer_id, CAST(date_trunc('month', CAST(order_date AS TIMESTAMP)) AS DATE) AS p
               FROM read_csv(?, header = true, all_varchar = true)
               WHERE customer_id IS NOT NULL AND status NOT IN ('refunded', 'cancelled')),
  cohorts AS (SELECT customer_id, min(p) AS c FROM act GROUP BY 1)
  SELECT c AS cohort, date_diff('month', c, a.p) AS k, count(*) AS users
  FROM cohorts JOIN act a USING (customer_id) GROUP BY 1, 2 ORDER BY 1, 2
) TO '{out}' (HEADER)
"""

if __name__ == "__main__":
    connect().execute(SQL.replace("{out}", sys.argv[2].replace("'", "''")), [sys.argv[1]])
