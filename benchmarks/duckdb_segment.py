"""The baseline for ``userops segment``: a plain DuckDB SQL script computing the same RFM
values per customer (recency days, distinct orders, revenue) from the generated orders,
with the same exclusions (no customer id, refunded/cancelled), written to CSV.

    python benchmarks/duckdb_segment.py orders.csv out.csv
"""

import sys

from baseline import connect

SQL = """
COPY (
  WITH lines AS (
    SELECT customer_id, order_id, CAST(order_date AS TIMESTAMP) AS ts, CAST(line_total AS DOUBLE) AS amount
    FROM read_csv(?, header = true, all_varchar = true)
    WHERE customer_id IS NOT NULL AND status NOT IN ('refunded', 'cancelled')),
  orders AS (SELECT customer_id, order_id, min(ts) AS ts, sum(amount) AS amount FROM lines GROUP BY ALL),
  as_of AS (SELECT max(ts)::DATE AS d FROM orders)
  SELECT customer_id, date_diff('day', max(ts)::DATE, (SELECT d FROM as_of)) AS recency_days,
         count(*) AS frequency, round(sum(amount), 2) AS monetary
  FROM orders GROUP BY customer_id ORDER BY customer_id
) TO '{out}' (HEADER, DELIMITER ',')
"""

if __name__ == "__main__":
    connect().execute(SQL.replace("{out}", sys.argv[2].replace("'", "''")), [sys.argv[1]])
