"""The scan: the only package that writes or runs SQL.

By default one embedded DuckDB connection (:mod:`~userops.scan.engine`) over the raw inputs, and one
module per concept, mirroring :mod:`userops.analytics`:

* :mod:`~userops.scan.sql` — quoting, literals, the id/money/timestamp parsers as SQL;
* :mod:`~userops.scan.window` — the analysis window and SQL period bucketing;
* :mod:`~userops.scan.load` — raw rows -> the canonical ``orders``/``events`` tables, drop
  reasons and counts;
* :mod:`~userops.scan.customers`, :mod:`~userops.scan.funnel`,
  :mod:`~userops.scan.retention`, :mod:`~userops.scan.churn` — every query whose cost grows
  with rows; they return small frames (summaries) or per-customer tables.

Analytics modules call their twin here and nothing else of the scan. Another engine runs the
same statements: :mod:`~userops.scan.spark` (``--engine spark``) has the methods of the DuckDB
engine the concept modules call, and :mod:`~userops.scan.spark_sql` translates each statement
for Spark SQL; nothing in this package imports Spark otherwise.
"""
