"""Baseline for ``userops retention ORDERS --period month --long``: plain DuckDB SQL over the
generated orders CSV computing what the command writes per monthly cohort (first purchase)
and month k: the customers who bought in month c+k, their share of the cohort, and their
revenue in that month, with the same exclusions as duckdb_segment.py (no customer id,
refunded/cancelled) and, like it, the order lines rolled into orders first (an order's time is
its first line's; userops applies a status and the amount per order, as exports need).

    python benchmarks/duckdb_retention_orders.py orders.csv out.csv
"""

import sys

from baseline import connect

SQL = """
COPY (
  WITH lines AS (SELECT customer_id, order_id, CAST(order_date AS TIMESTAMP) AS ts, CAST(line_total AS DECIMAL(18, 4)) AS amount
                 FROM read_csv(?, header = true, all_varchar = true)
                 WHERE customer_id IS NOT NULL AND status NOT IN ('refunded', 'cancelled')),
  orders AS (SELECT customer_id, order_id, min(ts) AS ts, sum(amount) AS amount FROM lines GROUP BY ALL),
  act AS (SELECT customer_id, CAST(date_trunc('month', ts) AS DATE) AS p, sum(amount) AS revenue FROM orders GROUP BY 1, 2),
  cohorts AS (SELECT customer_id, min(p) AS c FROM act GROUP BY 1),
  cells AS (SELECT c AS cohort, date_diff('month', c, a.p) AS k, count(*) AS users, CAST(sum(revenue) AS DOUBLE) AS revenue
            FROM cohorts JOIN act a USING (customer_id) GROUP BY 1, 2)
  SELECT cohort, k, users, round(users / first(users) OVER (PARTITION BY cohort ORDER BY k), 4) AS rate, round(revenue, 2) AS revenue
  FROM cells ORDER BY 1, 2
) TO '{out}' (HEADER)
"""

if __name__ == "__main__":
    connect().execute(SQL.replace("{out}", sys.argv[2].replace("'", "''")), [sys.argv[1]])
