"""The baseline: a plain DuckDB SQL script computing the same per-customer table as
``userops profile FILE --per customer`` on the generated orders (known layout, so no
detection, no parsing of odd formats, no drop accounting), written to CSV.

    python benchmarks/duckdb_profile.py orders.csv out.csv
"""

import sys

from baseline import connect

SQL = """
CREATE TEMP TABLE lines AS
SELECT order_id, customer_id, CAST(order_date AS TIMESTAMP) AS ts, status, channel, category, line_total
FROM read_csv(?, header = true, all_varchar = true)
WHERE customer_id IS NOT NULL AND status NOT IN ('refunded', 'cancelled');

CREATE TEMP TABLE orders AS
SELECT customer_id, order_id, min(ts) AS ts, sum(CAST(line_total AS DOUBLE)) AS amount,
       first(channel) AS channel
FROM lines GROUP BY customer_id, order_id;

CREATE TEMP TABLE params AS
SELECT max(ts)::DATE AS as_of FROM orders;

CREATE TEMP TABLE gaps AS
SELECT quantile_cont(gap, 0.5) AS median_gap, ceil(quantile_cont(gap, 0.9)) AS churn_days FROM (
  SELECT epoch(ts - lag(ts) OVER (PARTITION BY customer_id ORDER BY ts)) / 86400.0 AS gap FROM orders)
WHERE gap IS NOT NULL;

COPY (
  WITH base AS (
    SELECT customer_id, min(ts) AS first_order, max(ts) AS last_order, count(*) AS orders,
           round(sum(amount), 2) AS revenue, round(sum(amount) / count(*), 2) AS aov,
           round(epoch(max(ts) - min(ts)) / 86400.0 / nullif(count(*) - 1, 0), 2) AS mean_days_between_orders,
           count(DISTINCT date_trunc('month', ts)) AS active_periods
    FROM orders GROUP BY customer_id),
  cat AS (SELECT customer_id, category, count(*) AS n FROM lines GROUP BY ALL),
  top_cat AS (SELECT customer_id, first(category ORDER BY n DESC, category) AS top_category FROM cat GROUP BY 1),
  ch AS (SELECT customer_id, channel, count(*) AS n FROM orders GROUP BY ALL),
  top_ch AS (SELECT customer_id, first(channel ORDER BY n DESC, channel) AS top_channel FROM ch GROUP BY 1)
  SELECT b.customer_id, b.first_order, b.last_order, b.orders, b.revenue, b.aov, b.mean_days_between_orders,
         date_diff('day', b.first_order::DATE, p.as_of) AS tenure_days,
         date_diff('day', b.last_order::DATE, p.as_of) AS recency_days,
         c.top_category, h.top_channel, b.active_periods,
         CASE WHEN date_diff('day', b.first_order::DATE, p.as_of) < 30 THEN 'new'
              WHEN date_diff('day', b.last_order::DATE, p.as_of) > g.churn_days THEN 'churned'
              WHEN date_diff('day', b.last_order::DATE, p.as_of) > coalesce(b.mean_days_between_orders, g.median_gap) THEN 'at risk'
              ELSE 'active' END AS lifecycle_status
  FROM base b LEFT JOIN top_cat c USING (customer_id) LEFT JOIN top_ch h USING (customer_id), params p, gaps g
  ORDER BY b.customer_id
) TO '{out}' (HEADER, DELIMITER ',');
"""


def main(path: str, out: str) -> None:
    con = connect()
    statements = [s for s in SQL.replace("{out}", out.replace("'", "''")).split(";") if s.strip()]
    con.execute(statements[0], [path])
    for statement in statements[1:]:
        con.execute(statement)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
