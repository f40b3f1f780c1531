"""What the DuckDB baseline scripts share: a connection with the thread count the harness
asks for (``BENCH_THREADS``; unset: DuckDB's default, every core)."""

import os

import duckdb


def connect() -> "duckdb.DuckDBPyConnection":
    con = duckdb.connect()
    threads = os.environ.get("BENCH_THREADS")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con
