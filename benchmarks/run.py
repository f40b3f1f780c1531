"""Benchmarks, as whole processes, each against a plain DuckDB SQL script over the same CSV:

* profile: ``userops profile FILE --per customer -o out.csv`` vs benchmarks/duckdb_profile.py
  (the same per-customer table);
* segment: ``userops segment FILE -o out.csv`` vs benchmarks/duckdb_segment.py (every column
  the command writes: RFM values, scores, code, rfm10 segment, lifecycle status, action);
  segment-values: only the four RFM values on both sides (``duckdb_segment.py --values``,
  ``--columns``; userops still scores and names);
* funnel: ``userops funnel EVENTS --steps home,...,purchase --window 7d`` vs
  benchmarks/duckdb_funnel.py (the same users per step);
* retention: ``userops retention EVENTS --period week --long`` vs benchmarks/duckdb_retention.py
  (the same weekly cohort cells); retention-orders: ``userops retention ORDERS --period month
  --long`` vs benchmarks/duckdb_retention_orders.py (the same monthly cells: users, rate,
  revenue);
* ltv: ``userops ltv ORDERS --by channel --long`` vs benchmarks/duckdb_ltv.py (the same
  cumulative revenue per customer of each monthly cohort and first-order channel);
* churn: ``userops churn FILE -o out.csv`` against ``userops segment FILE`` (no SQL
  equivalent of the models: the reference is the one-pass command on the same order lines);
* report: ``userops report FILE --events EVENTS -o out.html`` (N order lines and N clickstream
  rows), report-orders: ``userops report FILE`` alone, each against ``userops segment FILE``;
* segment-kmeans: ``userops segment FILE --scheme kmeans`` against ``userops segment FILE``
  (rfm10): the k search and the fit, in seconds more than the RFM scoring;
* order-status: ``userops funnel FILE --order-status --trend week`` (the raw rows re-read:
  step times, statuses), retention-promo: ``userops retention FILE --by-promo --promos cn``,
  churn-cox: ``userops churn FILE --cox --promos cn`` (the first-order experience read from
  the raw rows), each against ``userops segment FILE``.

    python benchmarks/run.py                     # profile and segment, 1M and 10M rows, 3 runs
    python benchmarks/run.py --commands segment --rows 1000000 --repeat 5
    python benchmarks/run.py --threads 1 2       # each pair at 1 and at 2 engine threads

With ``--threads``, userops runs with ``--threads N`` and the script with ``SET threads = N``
(BENCH_THREADS); from two thread counts T1 < T2 the harness also projects both tools to 16
threads by Amdahl's law: the serial part S and the parallel part P solve T = S + P/t at the
two counts (for 1 and 2: S = 2*T2 - T1, P = 2*(T1 - T2)), T16 = S + P/16. What does not
shrink with threads (Python, pandas, start-up) is what dominates on a 16-core machine.

Data is generated with the demo generator (userops.demo) into benchmarks/data/ (kept
between runs). Each tool runs once untimed (``--warmup``), then the tools take turns
``--repeat`` times. Wall time and peak RSS come from os.wait4 on each child process; the
median of the runs is reported, with the ratio userops / DuckDB. Both outputs are
compared (row count, ids, revenue) so the two really compute the same table.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
OUT = os.path.join(HERE, "out")
ROWS_PER_CUSTOMER = 3.45  # order lines per customer in the demo generator
EVENTS_PER_VISITOR = 5.7  # clickstream rows per visitor in the demo generator
CHUNK = {"orders": 250_000, "events": 200_000}  # customers or visitors generated at a time


#: Larger files are this one replicated with suffixed ids (a 100M-row file in about a minute).
REPLICATE_ABOVE = 10_000_000


def replicate(source: str, path: str, times: int, kind: str) -> str:
    """``times`` copies of ``source``, each with its ids suffixed (``C000123-3``): as many
    customers (visitors) per row as the source, and the same dates."""
    import duckdb

    ids = ("customer_id", "order_id") if kind == "orders" else ("user_id", "session_id")
    renamed = ", ".join(f"{c} || '-' || i AS {c}" for c in ids)
    tmp = path + ".tmp"
    t0 = time.perf_counter()
    duckdb.connect().execute(
        f"COPY (SELECT * REPLACE ({renamed}) FROM read_csv(?, header = true, all_varchar = true), range({int(times)}) t(i)) "
        f"TO '{tmp}' (HEADER, DELIMITER ',')",
        [source],
    )
    os.replace(tmp, path)
    print(f"generated {path} ({os.path.getsize(path) / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return path


def generate(rows: int, kind: str = "orders") -> str:
    """``rows`` order lines or clickstream rows from the demo generator, written in chunks of
    people with unique ids (the next chunk's order/session ids start past this chunk's rows)."""
    from pyarrow import csv as pacsv

    from userops.demo import generate_events, generate_orders
    from userops.io.writers import csv_header, csv_write_options

    path = os.path.join(DATA, f"{kind}_{rows}.csv")
    if os.path.exists(path):
        return path
    os.makedirs(DATA, exist_ok=True)
    if rows > REPLICATE_ABOVE and rows % REPLICATE_ABOVE == 0:
        return replicate(generate(REPLICATE_ABOVE, kind), path, rows // REPLICATE_ABOVE, kind)
    people = max(1, int(rows / (ROWS_PER_CUSTOMER if kind == "orders" else EVENTS_PER_VISITOR)))
    width = len(str(people))
    tmp = path + ".tmp"
    t0 = time.perf_counter()
    with open(tmp, "wb") as fh:
        done, chunk, next_id = 0, 0, 100001 if kind == "orders" else 0
        while done < people:
            n = min(CHUNK[kind], people - done)
            if kind == "orders":
                table = generate_orders(n, seed=1000 + chunk, first_customer=done, first_order=next_id, id_width=width)
            else:
                table = generate_events(n, seed=2000 + chunk, first_user=done, first_session=next_id, id_width=width)
            next_id += int(table.num_rows)
            if chunk == 0:
                fh.write(csv_header(table.column_names))
            pacsv.write_csv(table, fh, csv_write_options(quoting_style="none", include_header=False))
            done += n
            chunk += 1
    os.replace(tmp, path)
    print(f"generated {path} ({os.path.getsize(path) / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return path


#: The children run with Python's bytecode cache on, as an installed tool does (pip compiles
#: it at install time): a PYTHONDONTWRITEBYTECODE set in the shell would otherwise make every
#: run of an editable checkout recompile its own modules (~60 ms that users never pay).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process.

    Linux carries a process's peak RSS across fork and exec, so a child of a big parent
    reports at least the parent's size: this process stays small (data generation and the
    output comparison run in subprocesses of their own)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**CHILD_ENV, **(env or {})})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err}")
    return wall, usage.ru_maxrss / 1024.0


COMPARED = {
    "profile": ["orders", "revenue", "tenure_days", "recency_days", "top_category", "top_channel", "active_periods", "lifecycle_status"],
    "segment": ["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_code", "segment", "lifecycle_status", "action"],
    "segment-values": ["recency_days", "frequency", "monetary"],
    "funnel": [],
    "retention": [],
    "retention-orders": [],
    "ltv": [],
    "churn": [],  # no SQL baseline: BG/NBD, Gamma-Gamma and the risk model are not SQL
    "report": [],  # no SQL baseline; orders and the same number of clickstream rows
    "report-orders": [],  # the report of the order lines alone
    "segment-kmeans": [],  # k-means against rfm10 on the same order lines
    "order-status": [],  # no SQL baseline: against segment on the same order lines
    "retention-promo": [],
    "churn-cox": [],
}
FUNNEL_STEPS = "home,product_view,add_to_cart,checkout,purchase"


def compare(a: str, b: str, cols: list[str], command: str = "profile") -> str:
    """Same customers and values (or funnel steps, or retention cells) in both outputs?"""
    if command == "funnel":
        with open(a, newline="") as fh:
            ours = [int(r["users"]) for r in csv.DictReader(fh)]
        with open(b, newline="") as fh:
            theirs = [int(v) for v in next(csv.DictReader(fh)).values()]
        return f"same funnel ({ours})" if ours == theirs else f"DIFFERENT funnel {ours} vs {theirs}"
    if command == "retention":
        # users (and, where the baseline writes them, rates and revenue) of the complete cells
        def cell(r, names):
            return tuple(_norm(r[n]) if n in r else "" for n in names)

        with open(b, newline="") as fh:
            rows = list(csv.DictReader(fh))
        names = [n for n in ("users", "rate", "revenue") if rows and n in rows[0]]
        theirs = {(r["cohort"], r["k"]): cell(r, names) for r in rows if r["k"] != "0"}
        with open(a, newline="") as fh:
            ours = {(r["cohort"], r["period"]): cell(r, names) for r in csv.DictReader(fh) if r["complete"] == "true" and r["period"] != "0"}
        bad = sum(1 for key, values in ours.items() if theirs.get(key) != values)
        return f"same cells ({len(ours):,} complete cells: {', '.join(names)})" if bad == 0 else f"{bad:,} cells differ"

    if command == "ltv":
        # the baseline has a row where a cohort bought; ours has every period (complete ones)
        with open(b, newline="") as fh:
            theirs = {(r["cohort"], r["channel"], r["period"]): _norm(r["cumulative_revenue_per_customer"]) for r in csv.DictReader(fh)}
        with open(a, newline="") as fh:
            ours = {(r["cohort"], r["channel"], r["period"]): _norm(r["cumulative_revenue_per_customer"]) for r in csv.DictReader(fh) if r["complete"] == "true"}
        bad = sum(1 for key, value in theirs.items() if key in ours and ours[key] != value)
        return f"same cells ({len(ours):,} complete cells)" if bad == 0 else f"{bad:,} cells differ"

    def read(path):
        with open(path, newline="") as fh:
            return {r["customer_id"]: r for r in csv.DictReader(fh)}

    ra, rb = read(a), read(b)
    if ra.keys() != rb.keys():
        return f"DIFFERENT customers ({len(ra)} vs {len(rb)})"
    bad = sum(1 for k in ra if any(_norm(ra[k][c]) != _norm(rb[k][c]) for c in cols))
    return f"same table ({len(ra):,} customers)" if bad == 0 else f"{bad:,} customers differ"


def _norm(v: str) -> str:
    try:
        return f"{float(v):.2f}"
    except ValueError:
        return v


#: name -> (command, input kind, userops options, baseline script or None, what to compare)
VARIANTS = {
    "profile": ("profile", "orders", ["--per", "customer"], "duckdb_profile.py", "profile"),
    "segment": ("segment", "orders", [], "duckdb_segment.py", "segment"),
    # like for like: the same four columns as the DuckDB script (scores, segments, lifecycle
    # and actions are still computed, just not written)
    "segment-values": ("segment", "orders", ["--columns", "customer_id,recency_days,frequency,monetary"], "duckdb_segment.py --values", "segment-values"),
    "funnel": ("funnel", "events", ["--steps", FUNNEL_STEPS, "--window", "7d"], "duckdb_funnel.py", "funnel"),
    "retention": ("retention", "events", ["--period", "week", "--long"], "duckdb_retention.py", "retention"),
    "retention-orders": ("retention", "orders", ["--period", "month", "--long"], "duckdb_retention_orders.py", "retention"),
    "ltv": ("ltv", "orders", ["--by", "channel", "--long"], "duckdb_ltv.py", "ltv"),
    "churn": ("churn", "orders", [], None, "churn"),
    "report": ("report", "orders", [], None, "report"),
    "report-orders": ("report", "orders", [], None, "report-orders"),
    "segment-kmeans": ("segment", "orders", ["--scheme", "kmeans"], None, "segment-kmeans"),
    "order-status": ("funnel", "orders", ["--order-status", "--trend", "week"], None, "order-status"),
    "retention-promo": ("retention", "orders", ["--by-promo", "--promos", "cn", "--values", "percent"], None, "retention-promo"),
    "churn-cox": ("churn", "orders", ["--cox", "--promos", "cn"], None, "churn-cox"),
}


def amdahl(times: dict[int, float], cores: int = 16) -> float:
    """The wall time at ``cores`` threads from times at two thread counts: T = S + P/t."""
    (t1, w1), (t2, w2) = sorted(times.items())[:2]
    parallel = (w1 - w2) / (1 / t1 - 1 / t2)
    serial = w1 - parallel / t1
    return serial + parallel / cores


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "--generate":
        generate(int(sys.argv[2]), sys.argv[3])
        return
    if len(sys.argv) > 4 and sys.argv[1] == "--compare":
        print(compare(sys.argv[2], sys.argv[3], COMPARED[sys.argv[4]], sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each tool first (default 1)")
    parser.add_argument("--commands", nargs="+", default=["profile", "segment"], choices=sorted(VARIANTS))
    parser.add_argument("--threads", type=int, nargs="+", default=[0], help="engine threads, e.g. 1 2 (default: all cores)")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    userops = [sys.executable, "-m", "userops"]
    print("| rows | threads | tool | wall s (median) | peak RSS MB (median) | runs |")
    print("| ---: | ---: | --- | ---: | ---: | --- |")
    for rows, variant in [(r, c) for r in args.rows for c in args.commands]:
        command, kind, extra, script, compared = VARIANTS[variant]
        path = os.path.join(DATA, f"{kind}_{rows}.csv")
        subprocess.run([sys.executable, __file__, "--generate", str(rows), kind], check=True)
        ours_out = os.path.join(OUT, f"userops_{variant}_{rows}.{'html' if command == 'report' else 'csv'}")
        if variant == "report":
            subprocess.run([sys.executable, __file__, "--generate", str(rows), "events"], check=True)
            extra = ["--events", os.path.join(DATA, f"events_{rows}.csv")]
        base_out = os.path.join(OUT, f"duckdb_{variant}_{rows}.csv")
        walls: dict[str, dict[int, float]] = {}
        for threads in args.threads:
            env = {"BENCH_THREADS": str(threads)} if threads else {}
            ours = userops + [command, path, "-o", ours_out, "--quiet"] + extra + (["--threads", str(threads)] if threads else [])
            tools = {f"userops {variant} {' '.join(extra)}".strip(): (ours, {})}
            if script:
                script_name, *script_args = script.split()
                tools[f"DuckDB SQL script ({variant})"] = ([sys.executable, os.path.join(HERE, script_name), *script_args, path, base_out], env)
            else:  # no SQL equivalent: the reference is segment on the same order lines
                tools["userops segment (reference)"] = (userops + ["segment", path, "-o", base_out, "--quiet"] + (["--threads", str(threads)] if threads else []), {})
            # one discarded warm-up run each (the first run after a pause pays for a cold page
            # cache, and the tool that goes first would always pay it), then the tools take
            # turns, so a drift of the machine's speed during the runs touches both alike
            for _ in range(args.warmup):
                for cmd, cmd_env in tools.values():
                    measure(cmd, cmd_env)
            timed: dict[str, list[tuple[float, float]]] = {name: [] for name in tools}
            for _ in range(args.repeat):
                for name, (cmd, cmd_env) in tools.items():
                    timed[name].append(measure(cmd, cmd_env))
            medians = {}
            shown_threads = threads or "all"
            for name, runs in timed.items():
                wall = statistics.median(r[0] for r in runs)
                rss = statistics.median(r[1] for r in runs)
                medians[name] = (wall, rss)
                walls.setdefault(name, {})[threads] = wall
                shown = ", ".join(f"{w:.2f}s/{m:.0f}MB" for w, m in runs)
                print(f"| {rows:,} | {shown_threads} | {name} | {wall:.2f} | {rss:.0f} | {shown} |", flush=True)
            if len(medians) < 2:
                continue
            (ow, om), (bw, bm) = medians.values()
            if script:
                same = subprocess.run(
                    [sys.executable, __file__, "--compare", ours_out, base_out, compared], check=True, capture_output=True, text=True
                ).stdout.strip()
            else:
                same = f"{ow - bw:+.2f} s against segment"
            # the runs alternate, so run i of each tool saw the same machine: their ratios too
            ours_runs, base_runs = timed.values()
            paired = statistics.median(o[0] / b[0] for o, b in zip(ours_runs, base_runs))
            print(
                f"| {rows:,} | {shown_threads} | ratio userops/{'DuckDB' if script else 'segment'} | {ow / bw:.2f}x | {om / bm:.2f}x | {same}; "
                f"median of the paired wall ratios {paired:.2f}x |",
                flush=True,
            )
        counts = [t for t in args.threads if t]
        if len(counts) >= 2:
            projected = {name: amdahl(times) for name, times in walls.items()}
            for name, t16 in projected.items():
                print(f"| {rows:,} | 16 (Amdahl) | {name} | {t16:.2f} |  | projected from {counts[0]} and {counts[1]} threads |", flush=True)
            if len(projected) == 2:
                ours16, base16 = projected.values()
                print(f"| {rows:,} | 16 (Amdahl) | ratio userops/{'DuckDB' if script else 'segment'} | {ours16 / base16:.2f}x |  | |", flush=True)


if __name__ == "__main__":
    main()
