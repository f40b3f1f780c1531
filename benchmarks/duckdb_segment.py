"""The baseline for ``userops segment``: a plain DuckDB SQL script computing every column
``userops segment`` writes, from the generated orders, with the same exclusions (no
customer id, refunded/cancelled), written to CSV:

* RFM values: recency days, distinct orders, revenue (rounded to cents);
* R/F/M scores 1-5 against the 20/40/60/80 % quantiles (linear interpolation), the code;
* the rfm10 segment (R x F grid) and its playbook action (read from userops' playbook file);
* the lifecycle status: new (first purchase within 30 days), churned (recency beyond the 90th
  percentile of the gaps between consecutive orders, rounded up), at risk (recency beyond the
  customer's mean gap, or the median gap for one-order customers), else active.

    python benchmarks/duckdb_segment.py orders.csv out.csv
    python benchmarks/duckdb_segment.py --values orders.csv out.csv   # only the four RFM values
"""

import os
import sys

from baseline import connect

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "userops", "data", "playbook.toml")
RFM10_GRID = {  # R score -> F scores 1..5 -> segment (SPEC §4)
    5: ["New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"],
    4: ["Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"],
    3: ["About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"],
    2: ["Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"],
    1: ["Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"],
}

ORDERS = """
  lines AS (
    SELECT customer_id, order_id, CAST(order_date AS TIMESTAMP) AS ts, CAST(line_total AS DECIMAL(18, 4)) AS amount
    FROM read_csv(?, header = true, all_varchar = true)
    WHERE customer_id IS NOT NULL AND status NOT IN ('refunded', 'cancelled')),
  orders AS (SELECT customer_id, order_id, min(ts) AS ts, sum(amount) AS amount FROM lines GROUP BY ALL),
  as_of AS (SELECT max(ts)::DATE AS d FROM orders)"""

VALUES = """
COPY (
  WITH {orders}
  SELECT customer_id, date_diff('day', max(ts)::DATE, (SELECT d FROM as_of)) AS recency_days,
         count(*) AS frequency, round(sum(amount), 2) AS monetary
  FROM orders GROUP BY customer_id ORDER BY customer_id
) TO '{out}' (HEADER, DELIMITER ',')
"""

SEGMENTS = """
COPY (
  WITH {orders},
  gaps AS (
    SELECT quantile_cont(gap, [0.5, 0.9]) AS q
    FROM (SELECT epoch(ts - lag(ts) OVER (PARTITION BY customer_id ORDER BY ts)) / 86400.0 AS gap FROM orders)
    WHERE gap IS NOT NULL),
  customers AS (
    SELECT customer_id, date_diff('day', max(ts)::DATE, (SELECT d FROM as_of)) AS recency_days,
           date_diff('day', min(ts)::DATE, (SELECT d FROM as_of)) AS tenure_days, count(*) AS frequency,
           CAST(round(sum(amount), 2) AS DOUBLE) AS monetary,
           CASE WHEN count(*) > 1 THEN epoch(max(ts) - min(ts)) / 86400.0 / (count(*) - 1) END AS mean_gap
    FROM orders GROUP BY customer_id),
  cuts AS (
    SELECT quantile_cont(recency_days, [0.2, 0.4, 0.6, 0.8]) AS r, quantile_cont(frequency, [0.2, 0.4, 0.6, 0.8]) AS f,
           quantile_cont(monetary, [0.2, 0.4, 0.6, 0.8]) AS m
    FROM customers),
  scored AS (
    SELECT c.*,
           5 - ((recency_days > r[1])::INT + (recency_days > r[2])::INT + (recency_days > r[3])::INT + (recency_days > r[4])::INT) AS r_score,
           1 + (frequency > f[1])::INT + (frequency > f[2])::INT + (frequency > f[3])::INT + (frequency > f[4])::INT AS f_score,
           1 + (monetary > m[1])::INT + (monetary > m[2])::INT + (monetary > m[3])::INT + (monetary > m[4])::INT AS m_score
    FROM customers c, cuts),
  named AS (
    SELECT *, {segment} AS segment FROM scored)
  SELECT customer_id, recency_days, frequency, monetary, r_score, f_score, m_score,
         CAST(r_score * 100 + f_score * 10 + m_score AS VARCHAR) AS rfm_code, segment,
         CASE WHEN tenure_days < 30 THEN 'new'
              WHEN recency_days > greatest(1, ceil((SELECT q[2] FROM gaps))) THEN 'churned'
              WHEN recency_days > coalesce(mean_gap, (SELECT q[1] FROM gaps)) THEN 'at risk'
              ELSE 'active' END AS lifecycle_status,
         {action} AS action
  FROM named ORDER BY customer_id
) TO '{out}' (HEADER, DELIMITER ',')
"""


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def segment_sql() -> str:
    cases = " ".join(f"WHEN r_score = {r} AND f_score = {f + 1} THEN {quoted(name)}" for r, row in RFM10_GRID.items() for f, name in enumerate(row))
    with open(PLAYBOOK, "rb") as fh:
        actions = tomllib.load(fh)["rfm10"]
    action = " ".join(f"WHEN segment = {quoted(name)} THEN {quoted(text)}" for name, text in actions.items())
    return SEGMENTS.format(orders=ORDERS, segment=f"CASE {cases} END", action=f"CASE {action} END", out="{out}")


if __name__ == "__main__":
    args = sys.argv[1:]
    sql = VALUES.format(orders=ORDERS, out="{out}") if args[0] == "--values" else segment_sql()
    args = args[1:] if args[0] == "--values" else args
    connect().execute(sql.replace("{out}", args[1].replace("'", "''")), [args[0]])
