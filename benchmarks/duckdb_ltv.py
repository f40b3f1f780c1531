"""Baseline for ``userops ltv ORDERS --by channel --long``: plain DuckDB SQL over the generated
orders CSV computing the cumulative revenue per customer of each monthly acquisition cohort
(first purchase) and first-order channel by month since the first purchase, with the same
exclusions as duckdb_segment.py and the order lines rolled into orders first.

    python benchmarks/duckdb_ltv.py orders.csv out.csv
"""

import sys

from baseline import connect

SQL = """
COPY (
  WITH lines AS (SELECT customer_id, order_id, CAST(order_date AS TIMESTAMP) AS ts, CAST(line_total AS DECIMAL(18, 4)) AS amount, channel
                 FROM read_csv(?, header = true, all_varchar = true)
                 WHERE customer_id IS NOT NULL AND status NOT IN ('refunded', 'cancelled')),
  orders AS (SELECT customer_id, order_id, min(ts) AS ts, sum(amount) AS amount, min(channel) AS channel FROM lines GROUP BY ALL),
  firsts AS (SELECT customer_id, CAST(date_trunc('month', min(ts)) AS DATE) AS c, arg_min(channel, ts) AS ch FROM orders GROUP BY 1),
  act AS (SELECT customer_id, CAST(date_trunc('month', ts) AS DATE) AS p, sum(amount) AS revenue FROM orders GROUP BY 1, 2),
  cells AS (SELECT c, ch, date_diff('month', c, p) AS k, sum(revenue) AS revenue FROM firsts JOIN act USING (customer_id) GROUP BY ALL),
  sizes AS (SELECT c, ch, count(*) AS n FROM firsts GROUP BY ALL)
  SELECT c AS cohort, ch AS channel, k AS period,
         round(CAST(sum(revenue) OVER (PARTITION BY c, ch ORDER BY k) AS DOUBLE) / n, 2) AS cumulative_revenue_per_customer
  FROM cells JOIN sizes USING (c, ch) ORDER BY 1, 2, 3
) TO '{out}' (HEADER)
"""

if __name__ == "__main__":
    connect().execute(SQL.replace("{out}", sys.argv[2].replace("'", "''")), [sys.argv[1]])
