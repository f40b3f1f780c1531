"""RunContext: the shared flags merged with ``userops.toml``, the one stderr console, and
the four steps every command takes (load, compute — in the library —, note, emit)."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from userops import schema
from userops.config import Config, load_config
from userops.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa
    from rich.console import Console

    from userops.analytics.promotions import PromoCalendar, Promotion
    from userops.io.normalise import LoadedEvents, LoadedOrders
    from userops.scan.engine import Engine
    from userops.scan.window import Window


#: The most threads --threads takes (more than any machine userops runs on has cores).
MAX_THREADS = 1024
#: The engines a command can run on.
ENGINES = ("duckdb", "spark")

#: What every command needs after the load (the summaries become frames): imported on a
#: background thread while the engine reads the data.
FRAME_MODULES = ("pandas",)
#: Formats people read whose headers --headers translates; JSON and Parquet keep the keys.
HEADED_FORMATS = ("table", "csv", "tsv", "markdown", "xlsx")

#: Days between the latest row and the as-of date beyond which the export is called stale.
STALE_DAYS = 7


def stdout_is_terminal() -> bool:
    return sys.stdout is not None and sys.stdout.isatty()  # None: stdout closed (>&-)


def _stderr_console() -> "Console":
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class RunContext:
    """Everything a command needs besides its own options."""

    command: str
    flags: dict[str, Any]
    config: Config
    inputs: list[str] = field(default_factory=list)
    _console: "Console | None" = None
    _loaded: list = field(default_factory=list)  # what was loaded: read notes that come late

    @classmethod
    def from_flags(cls, command: str, flags: dict[str, Any]) -> "RunContext":
        config = load_config(flags.get("config"), command=command)
        return cls(command=command, flags=flags, config=config)

    # --- options ----------------------------------------------------------------------
    def get(self, name: str, default: Any = None) -> Any:
        """A shared or command option: the flag if given, else userops.toml, else ``default``."""
        value = self.flags.get(name)
        if value is None:
            value = self.config.option(name)
        return default if value is None else value

    def choose(
        self, name: str, value: Any, default: Any, choices: tuple[str, ...] | None = None, *, whole: bool = False,
        bounds: tuple[int, int] | None = None,
    ) -> Any:
        """A command's own option: ``value`` if given on the command line, else config, else default.
        ``whole``: the value must be a whole number (the command line checks its own; this
        catches a config file's ``bins = "x"``)."""
        if value is None:
            value = self.config.option(name, default)
        if choices is not None and value is not None and value not in choices:  # None: an option left unset
            raise UsageError(f"--{name.replace('_', '-')} must be one of {', '.join(choices)} (got {value!r})")
        if whole and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise UsageError(f"--{name.replace('_', '-')} must be a whole number (got {value!r})", hint="check userops.toml")
        if bounds is not None and value is not None and not bounds[0] <= value <= bounds[1]:
            raise UsageError(f"--{name.replace('_', '-')} must be between {bounds[0]} and {bounds[1]} (got {value!r})", hint="check userops.toml")
        return value

    @property
    def quiet(self) -> bool:
        return bool(self.get("quiet", False))

    @property
    def lang(self) -> str:
        """--lang (or ``lang`` in userops.toml): the language of names, statuses and actions."""
        from userops.glossary import check_lang

        return check_lang(self.get("lang"))

    @property
    def headers(self) -> str:
        """--headers (or ``headers`` in userops.toml, e.g. under [output]): the language of
        column headers in CSV, XLSX, Markdown and the terminal."""
        from userops.glossary import check_lang

        return check_lang(self.get("headers"), "--headers")

    def column_overrides(self) -> dict[str, str]:
        cols = dict(self.config.columns)
        for role in schema.ALL_ROLES:
            if self.flags.get(f"{role}_col"):
                cols[role] = self.flags[f"{role}_col"]
        return cols

    def promo_calendar(self, choice: str | None) -> "PromoCalendar | None":
        """``--promos`` (or ``promos`` in userops.toml, or ``calendar`` under [promotions]) with
        the shop's own windows of [promotions]; None when there is none. Checked before the
        data is read."""
        from userops.analytics.promotions import promo_calendar

        return promo_calendar(self.choose("promos", choice, None), self.config.promotions, file=self.config.path)

    def promotions(self, calendar: "PromoCalendar | None", loaded: "LoadedOrders") -> "tuple[Promotion, ...] | None":
        """The calendar's windows over the loaded dates; estimated dates said on stderr."""
        from userops.analytics.promotions import estimated_notes, windows_for

        windows = windows_for(calendar, loaded)
        for note in estimated_notes(windows):
            self.note(note)
        return windows

    @property
    def on_spark(self) -> bool:
        return self.get("engine") == "spark"

    def engine(self) -> "Engine":
        """A scan engine: embedded DuckDB with --threads (or ``threads`` in userops.toml, or
        USEROPS_THREADS) and --memory-limit, the same thread count bounding Arrow's pool
        (CSV writing); or Spark (``--engine spark``, the master and [engine.conf])."""
        import os

        from userops.scan.engine import Engine, parse_memory_limit

        kind = self.get("engine", "duckdb")
        if kind not in ENGINES:
            raise UsageError(f"--engine must be one of {', '.join(ENGINES)} (got {kind!r})")
        threads = self.get("threads")
        if threads is None and os.environ.get("USEROPS_THREADS", "").strip():
            text = os.environ["USEROPS_THREADS"].strip()
            if not text.isdigit():
                raise UsageError(f"USEROPS_THREADS={text!r} must be a whole number of threads")
            threads = int(text)
        if threads is not None:
            if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
                raise UsageError(f"--threads must be between 1 and {MAX_THREADS} (got {threads!r})")
            bound_arrow_threads(threads)
        limit = self.get("memory_limit")
        memory_limit = parse_memory_limit(str(limit)) if limit is not None else None
        if kind == "spark":  # on a local master, --threads and --memory-limit size it
            from userops.io.writers import is_uri
            from userops.scan.spark import SparkEngine

            return SparkEngine(  # type: ignore[return-value]
                master=self.get("spark_master"), conf=self.config.spark_conf, threads=threads, memory_limit=memory_limit,
                lists_stay=is_uri(self.get("output")),
            )
        return Engine(threads=threads, memory_limit=memory_limit)

    def load_options(self, *, keep: tuple[str, ...] = ()):
        from userops.io.normalise import LoadOptions, check_time_zone

        decimal = self.get("decimal")
        if decimal not in (None, ".", ","):
            raise UsageError(f"--decimal must be '.' or ',' (got {decimal!r})")
        return LoadOptions(
            columns=self.column_overrides(),
            encoding=self.get("encoding"),
            decimal=decimal,
            dayfirst=self.get("dayfirst"),
            tz=check_time_zone(self.get("tz")),
            include_refunds=bool(self.get("include_refunds", False)),
            currency=self.get("currency"),
            purchase_events=tuple(e.strip() for e in str(self.get("purchase_event") or "").split(",") if e.strip()),
            strict=bool(self.get("strict", False)),
            keep=keep,
        )

    def keep_columns(self, value: str | None) -> tuple[str, ...]:
        """``--keep email,phone`` (or ``keep = [...]`` in userops.toml): input columns a customer
        list carries through."""
        keep = value if value is not None else self.config.option("keep")
        if not keep:
            return ()
        if isinstance(keep, (list, tuple)):
            return tuple(str(k) for k in keep)
        return tuple(k.strip() for k in str(keep).split(",") if k.strip())

    # --- stderr -----------------------------------------------------------------------
    @property
    def console(self) -> "Console":
        if self._console is None:
            self._console = _stderr_console()
        return self._console

    def note(self, message: str) -> None:
        """A line of chatter on stderr (drop summaries, chosen thresholds); ``--quiet`` hides it.
        The message is plain text (a '[report]' in it is not markup); on a terminal the prefix
        is dimmed, elsewhere (pipes, cron mail) the line is written as is, without loading rich."""
        if self.quiet:
            return
        from userops.glossary import in_language
        from userops.render.formats import printable

        message = printable(in_language(message, self.lang))
        if not sys.stderr.isatty():
            sys.stderr.write(f"userops: {message}\n")
            sys.stderr.flush()
            return
        from rich.text import Text

        self.console.print(Text.assemble(("userops:", "dim"), " ", message), highlight=False, soft_wrap=True)

    def warn(self, message: str, *, hint: str | None = None) -> None:
        """A warning: shown even with ``--quiet`` (cron mails it); ``--strict`` makes it fail the
        run (exit 65) instead."""
        from userops.glossary import in_language

        message, hint = in_language(message, self.lang), in_language(hint, self.lang) if hint else hint
        if self.get("strict", False):
            from userops.errors import DataError

            raise DataError(f"{message} (--strict)", hint=hint)
        from userops.render.formats import printable

        sys.stderr.write(printable(f"userops: warning: {message}{'; ' + hint if hint else ''}") + "\n")
        sys.stderr.flush()

    @contextlib.contextmanager
    def progress(self, message: str, *, after: float = 1.0) -> Iterator[None]:
        """A spinner on stderr for work that takes longer than ``after`` seconds — only on a
        terminal, never in pipes or cron mail."""
        if self.quiet or not sys.stderr.isatty() or not self.console.is_terminal:
            yield
            return
        import threading

        status = self.console.status(message, spinner="dots")
        timer = threading.Timer(after, status.start)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            status.stop()

    # --- the steps ----------------------------------------------------------------------
    def prefetch(self, *modules: str) -> None:
        """Import the model libraries on a background thread while the engine reads the data
        (:mod:`userops.imports`)."""
        from userops.imports import import_when_reading

        import_when_reading(*modules)

    def check_output(self, inputs: list[str], *, html: bool = False) -> None:
        """Fail on the output (unknown format, missing folder, an input's path) before the data
        is read, not after minutes of work."""
        from userops.io import writers

        output = self.get("output")
        if writers.is_uri(output):
            if not self.on_spark or html:
                raise UsageError(f"-o {output}: a cluster's path is written by Spark, for tables", hint="add --engine spark, or write a local file")
            fmt = writers.resolve_output(self.get("format"), output, stdout_is_terminal=False).format
            if fmt not in writers.DATASET_FORMATS:
                raise UsageError(f"-o {output}: Spark writes {' or '.join(writers.DATASET_FORMATS)} there (got {fmt})", hint="name it .parquet or .csv")
        if not html:
            writers.resolve_output(self.get("format"), output, stdout_is_terminal=stdout_is_terminal(), inputs=tuple(inputs))
        if output is not None:
            writers.check_output_path(str(output), tuple(inputs))

    def load_orders(
        self, inputs: list[str], *, line_detail: bool = False, order_detail: bool = True, keep: tuple[str, ...] = (), margin: bool = False
    ) -> "LoadedOrders":
        import dataclasses

        from userops.io.normalise import load_orders

        self.inputs = list(inputs)
        options = dataclasses.replace(self.load_options(keep=keep), margin=margin)
        self.check_output(self.inputs, html=self.command == "report")
        self.prefetch(*FRAME_MODULES)
        with self.progress(f"reading {', '.join(inputs)}"):
            loaded = load_orders(list(inputs), options, engine=self.engine(), line_detail=line_detail, order_detail=order_detail)
        return self._noted(loaded)

    def load_events(
        self, inputs: list[str], *, properties: tuple[str, ...] = (), activity=None, grain=("day", "monday"), sessions: bool = True
    ) -> "LoadedEvents":
        from userops.io.normalise import load_events

        self.inputs = list(inputs)
        options = self.load_options()
        self.check_output(self.inputs, html=self.command == "report")
        self.prefetch(*FRAME_MODULES)
        with self.progress(f"reading {', '.join(inputs)}"):
            loaded = load_events(
                list(inputs), options, engine=self.engine(), properties=properties, activity=activity, grain=grain, sessions=sessions
            )
        return self._noted(loaded)

    def close(self) -> None:
        """Close the engines of what was loaded: their catalogs and spill folders go now, not
        whenever the interpreter gets to them (the CLI skips its last garbage collection).
        The database stays for the process's next command (the tests run hundreds)."""
        for loaded in self._loaded:
            loaded.close(keep_database=True)

    def _noted(self, loaded):
        """Say how the data was read (time offsets, refunds netted...) and keep it for the
        notes that come later (a file re-read by the engine after the load)."""
        for line in loaded.notes:
            self.note(line)
        self._loaded.append(loaded)
        return loaded

    def window(self, loaded: "LoadedOrders | LoadedEvents", *, end_bounds_starts: bool = False) -> "Window":
        """The window from --as-of/--from/--to. With ``end_bounds_starts`` (funnels, retention)
        --to bounds only step-1 events / cohort starts (SPEC §2)."""
        from userops.glossary import say
        from userops.io.normalise import LoadedOrders
        from userops.scan.window import parse_date

        start = self.get("date_from")
        end = self.get("date_to")
        window = loaded.window(
            self.get("as_of"),
            start=parse_date(str(start), flag="--from") if start else None,
            end=parse_date(str(end), flag="--to") if end else None,
            end_bounds_starts=end_bounds_starts,
        )
        for line in loaded.drops_for(window).lines():
            self.note(line)
        first_ts, last_ts = loaded.first_ts, loaded.last_ts
        if first_ts is None or last_ts is None:
            return window
        stale = (window.as_of - last_ts.date()).days
        if stale > STALE_DAYS:
            what = say("latest_purchase" if isinstance(loaded, LoadedOrders) else "latest_event")
            self.warn(
                say("stale_export", what=what, last=last_ts.date(), days=f"{stale:,}", as_of=window.as_of),
                hint=say("stale_hint"),
            )
        if isinstance(loaded, LoadedOrders) and loaded.purchases_in(window) == 0:
            since = say("since_start", start=window.start.date()) if window.start else ""
            self.note(say("no_purchases_in_window", since=since, as_of=window.as_of, first=first_ts.date(), last=last_ts.date()))
        elif not isinstance(loaded, LoadedOrders) and first_ts >= window.end:
            self.note(say("no_events_in_window", as_of=window.as_of, first=first_ts.date(), last=last_ts.date()))
        return window

    def emit(
        self, frame: "pd.DataFrame | pa.Table", *, title: str | None = None, as_of: str | None = None, columns: str | None = None,
        display: dict[str, str] | None = None,
    ) -> None:
        """Write the table: rich on a terminal, else the chosen machine format (stdout or -o).
        ``columns`` ("a,b,c") chooses and orders the columns; ``display`` says how to show columns
        whose name does not say it (``"percent"``: % on the terminal and in XLSX, the values stay 0-1;
        ``"date"``: ISO date text, a date cell in XLSX)."""
        from userops.io import writers

        for loaded in self._loaded:  # a file the engine had to re-read after the load (rare)
            for line in loaded.late_notes():
                self.note(line)
        names = [str(c) for c in (frame.column_names if hasattr(frame, "column_names") else frame.columns)]
        if columns:
            wanted = [c.strip() for c in columns.split(",") if c.strip()]
            unknown = [c for c in wanted if c not in names]
            if unknown:
                raise UsageError(f"--columns: no column {', '.join(repr(c) for c in unknown)}", hint=f"columns: {', '.join(names)}")
            frame = frame.select(wanted) if hasattr(frame, "column_names") else frame[wanted]

        spec = writers.resolve_output(
            self.get("format"),
            self.get("output"),
            stdout_is_terminal=stdout_is_terminal(),
            bom=bool(self.get("excel", False) or self.get("bom", False)),
            raw=bool(self.get("raw", False)),
            inputs=tuple(self.inputs),
            as_of=as_of,
        )
        if display:
            import dataclasses

            spec = dataclasses.replace(
                spec,
                ratios=tuple(c for c, name in display.items() if name == "percent"),
                dates=tuple(c for c, name in display.items() if name == "date"),
            )
        headers: dict[str, str] = {}
        if self.headers != "en" and spec.format in HEADED_FORMATS:
            import dataclasses

            from userops.glossary import header

            headers = {c: header(c, self.headers) for c in names}
            spec = dataclasses.replace(spec, headers=tuple(headers.items()))
        if spec.format == "table":
            from rich.console import Console

            from userops.render.table import MAX_ROWS, rich_table

            console = Console(highlight=False)
            frame = writers.as_frame(frame)
            shown = rich_table(frame, title=title, width=console.width, display=display, headers=headers)
            console.print(shown.table)
            if shown.hidden:
                hidden = shown.hidden if len(shown.hidden) <= 6 else shown.hidden[:4] + ["…", shown.hidden[-1]]
                from userops.glossary import count, say

                self.note(say("columns_hidden", count=count(len(shown.hidden), "column"), names=", ".join(hidden)))
            if len(frame) > MAX_ROWS:
                from userops.glossary import say

                self.note(say("showing_rows", shown=MAX_ROWS, total=f"{len(frame):,}"))
            return
        if writers.is_uri(spec.path):
            from userops.scan.spark import write_dataset

            write_dataset(frame, str(spec.path), spec.format)
        else:
            writers.write_table(frame, spec)
        if spec.path:
            from userops.glossary import count, say

            self.note(say("wrote_rows", rows=count(len(frame), "row"), path=spec.path))


def bound_arrow_threads(threads: int) -> None:
    """Arrow's CPU and I/O pools (frames from the engine, CSV writing) get ``threads`` too.
    Arrow makes its pools on first use, sized from ``OMP_NUM_THREADS`` and ``ARROW_IO_THREADS``:
    while pyarrow is not loaded yet, saying it there spares the command a ~75 ms import on
    its path (pandas loads pyarrow on the prefetch thread, beside the read). A user's own
    ``OMP_NUM_THREADS`` is left alone and the pools are sized directly."""
    import os
    import sys

    if "pyarrow" not in sys.modules and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        os.environ["ARROW_IO_THREADS"] = str(threads)
        return
    import pyarrow as pa

    pa.set_cpu_count(threads)
    pa.set_io_thread_count(threads)
