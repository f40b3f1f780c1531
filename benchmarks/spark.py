"""The same commands on Spark (a local master) and on DuckDB, as whole processes, over the
generated order lines and clickstream rows as Parquet (the way a data lake holds them):

    python benchmarks/spark.py                            # 1M and 10M rows, local[2], 1 run
    python benchmarks/spark.py --rows 1000000 --repeat 3 --master local[2]

Each command runs once per engine (``--repeat`` times; the median is shown) with the same
thread count (``--threads``, default 2: DuckDB's threads, Spark's ``local[N]``), and the two
outputs must be equal byte for byte. Spark's time includes starting its JVM (4-7 s here).
Data: benchmarks/data/ (made by benchmarks/run.py's generator, converted to Parquet once).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import OUT, generate  # noqa: E402

STEPS = "home,product_view,add_to_cart,checkout,purchase"
COMMANDS = {
    "profile": ("orders", ["profile", "{orders}", "--per", "customer"]),
    "segment": ("orders", ["segment", "{orders}"]),
    "retention-orders": ("orders", ["retention", "{orders}", "--period", "month", "--long"]),
    "retention": ("events", ["retention", "{events}", "--period", "week", "--long"]),
    "funnel": ("events", ["funnel", "{events}", "--steps", STEPS, "--window", "7d"]),
    "churn": ("orders", ["churn", "{orders}"]),
}


def as_parquet(csv_path: str) -> str:
    """The CSV as Parquet beside it (typed columns; made once)."""
    import duckdb

    path = csv_path[: -len(".csv")] + ".parquet"
    if not os.path.exists(path):
        duckdb.sql(f"COPY (SELECT * FROM read_csv('{csv_path}')) TO '{path}' (FORMAT parquet)")
    return path


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--commands", nargs="+", default=list(COMMANDS), choices=list(COMMANDS))
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    userops = [sys.executable, "-m", "userops"]
    print(f"| rows | command | DuckDB ({args.threads} threads) | Spark local[{args.threads}] | Spark / DuckDB |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for rows in args.rows:
        files = {"orders": as_parquet(generate(rows, "orders")), "events": as_parquet(generate(rows, "events"))}
        for name in args.commands:
            kind, template = COMMANDS[name]
            base = [a.format(**files) for a in template]
            outs = {engine: os.path.join(OUT, f"spark_{name}_{rows}_{engine}.csv") for engine in ("duckdb", "spark")}
            engine_args = {
                "duckdb": ["--threads", str(args.threads)],
                "spark": ["--engine", "spark", "--threads", str(args.threads)],
            }
            times: dict[str, list[float]] = {"duckdb": [], "spark": []}
            for _ in range(args.repeat):
                for engine in ("duckdb", "spark"):
                    times[engine].append(timed([*userops, *base, *engine_args[engine], "-q", "-o", outs[engine]]))
            with open(outs["duckdb"], "rb") as a, open(outs["spark"], "rb") as b:
                same = a.read() == b.read()
            duck, spark = statistics.median(times["duckdb"]), statistics.median(times["spark"])
            note = "" if same else " (outputs differ!)"
            print(f"| {rows:,} {kind} | {name} | {duck:.1f} s | {spark:.1f} s | {spark / duck:.1f}×{note} |", flush=True)


if __name__ == "__main__":
    main()
