"""The Spark engine: the scan's queries run on Apache Spark (a cluster, or ``local[*]``),
behind the same methods as the embedded DuckDB :class:`~userops.scan.engine.Engine`.

Inputs are what the cluster reads: Parquet, ORC and CSV paths (``s3a://``, ``hdfs://``,
local) and catalog tables (``table:db.orders``). Spark's typed readers do the parsing;
the tolerant parsing of messy small exports is the DuckDB engine's. Every statement is
the concept modules' own text, translated by :mod:`~userops.scan.spark_sql`; results
come back as Arrow (only summaries and per-customer tables travel to the driver).

Spark sessions: one per process (the JVM starts once, 4-7 s), a new SQL session per
engine (its own temporary views: a report's orders and events do not meet), wall-clock
timestamps (``TIMESTAMP_NTZ``) in UTC, as DuckDB's ``TIMESTAMP``.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
from typing import TYPE_CHECKING, Any

from userops.errors import DataError, InputError, UsageError, UseropsError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

    from userops.io.readers import RawSource

#: Settings every userops Spark session has (a user's ``[engine.conf]`` cannot change them:
#: the numbers depend on them).
FIXED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    # DuckDB's semantics: TRY_CAST and NULL where a value does not convert; the queries say
    # where a failure is an error
    "spark.sql.ansi.enabled": "false",
    "spark.sql.caseSensitive": "false",
}
#: Defaults a user's ``[engine.conf]`` may change.
DEFAULT_CONF = {
    "spark.app.name": "userops",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
}
#: Defaults for a local master only (a cluster's own settings stand).
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
}

#: File extensions -> Spark reader.
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".orc": "orc", ".csv": "csv", ".tsv": "csv", ".txt": "csv"}

_VIEW_IDS = itertools.count()


def require_pyspark() -> None:
    """A one-line usage error (exit 2) when the spark extra (pyspark, SQLGlot) is not installed."""
    for module in ("pyspark", "sqlglot"):
        try:
            __import__(module)
        except ImportError:
            raise UsageError(f"--engine spark needs {module}, which is not installed", hint="pip install 'userops[spark]'") from None


def spark_session(master: str | None = None, conf: dict[str, str] | None = None, *, threads: int | None = None, memory_limit: str | None = None):
    """The process's Spark session (made on first use with ``master`` and ``conf``). On a
    local master, where the driver does all the work, ``threads`` (``local[N]``; default every
    core) and ``memory_limit`` (a DuckDB size, ``8GB`` or ``11983MiB``; default half the RAM,
    as the DuckDB engine's) size it; Spark's own default heap, 1 GB, fails on a few million rows."""
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    import logging
    from importlib import resources

    # a failed query is an error userops reports in one line; pyspark would log it whole too
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    master = master or os.environ.get("USEROPS_SPARK_MASTER")
    builder = SparkSession.builder
    if master is None and "PYSPARK_GATEWAY_PORT" in os.environ:
        local = False  # started by spark-submit: its --master and --conf stand
    else:
        master = master or (f"local[{threads}]" if threads else "local[*]")
        builder = builder.master(master)
        local = master.startswith("local")
    if local:
        from userops.scan.engine import DEFAULT_MEMORY_SHARE, memory_size

        heap = jvm_size(memory_limit or memory_size(DEFAULT_MEMORY_SHARE))
        conf = {**({"spark.driver.memory": heap} if heap else {}), **(conf or {})}
    quiet = str(resources.files("userops") / "data" / "spark-log4j2.properties")
    java_options = f"-Dlog4j2.configurationFile=file:{quiet}"
    settings = {
        **DEFAULT_CONF, "spark.driver.extraJavaOptions": java_options, **(LOCAL_CONF if local else {}), **(conf or {}),
        **FIXED_CONF,
    }
    for key, value in settings.items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def jvm_size(size: str | None) -> str | None:
    """A DuckDB memory size (``8GB``, ``11983MiB``) as a JVM one in megabytes (``8192m``)."""
    import re

    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", size or "", flags=re.IGNORECASE)
    if not match:
        return None
    unit = match.group(2).upper().replace("I", "")
    scale = {"KB": 1 / 1024, "MB": 1, "GB": 1024, "TB": 1024 * 1024}[unit]
    return f"{max(1, int(float(match.group(1)) * scale))}m"


def spark_type(data_type) -> str:
    """A Spark column type as the DuckDB type name the SQL builders (:mod:`~userops.scan.sql`)
    know; a wall-clock ``TIMESTAMP_NTZ`` is DuckDB's ``TIMESTAMP``, an instant (``TIMESTAMP``,
    Spark's default) its ``TIMESTAMP WITH TIME ZONE``."""
    name = data_type.typeName()
    simple = {
        "string": "VARCHAR", "varchar": "VARCHAR", "char": "VARCHAR", "integer": "INTEGER", "long": "BIGINT", "short": "SMALLINT",
        "byte": "TINYINT", "double": "DOUBLE", "float": "FLOAT", "boolean": "BOOLEAN", "date": "DATE",
        "timestamp_ntz": "TIMESTAMP", "timestamp": "TIMESTAMP WITH TIME ZONE",
    }
    if name == "decimal":
        return f"DECIMAL({data_type.precision}, {data_type.scale})"
    return simple.get(name, name.upper())


class _Result:
    """A statement's rows, collected (DuckDB's fetchone/fetchall)."""

    def __init__(self, rows: list[tuple]) -> None:
        self._rows = rows
        self._next = 0

    def fetchone(self) -> tuple | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[tuple]:
        rest, self._next = self._rows[self._next:], len(self._rows)
        return rest


class SparkEngine:
    """The scan's engine on Spark: the methods of :class:`~userops.scan.engine.Engine` that
    the concept modules call, over temporary views of one Spark SQL session."""

    dialect = "spark"

    def __init__(
        self, *, master: str | None = None, conf: dict[str, str] | None = None, threads: int | None = None, memory_limit: str | None = None,
        lists_stay: bool = False,
    ) -> None:
        self.spark = spark_session(master, conf, threads=threads, memory_limit=memory_limit).newSession()
        #: per-customer lists stay on the cluster (:class:`SparkList`): the output is a
        #: cluster's path, which Spark writes from the executors
        self.lists_stay = lists_stay
        self.read_notes: list[str] = []
        self.time_offsets: set[str] = set()
        self._views: dict[str, Any] = {}  # name -> DataFrame (cached tables are unpersisted on close)

    # --- inputs -----------------------------------------------------------------------
    def open(self, path: str, *, encoding: str | None = None, stdin=None) -> RawSource:
        """An input the cluster reads: a path (by its extension) or ``table:db.name``."""
        from userops.io.readers import RawSource, ReadInfo

        if path == "-":
            raise UsageError("--engine spark reads paths and tables, not standard input", hint="give a path the cluster can read")
        frame, fmt = self._read(path, encoding)
        return RawSource(ReadInfo(path, fmt, encoding=encoding, headers=tuple(frame.columns)), external=frame)

    def _read(self, path: str, encoding: str | None):
        from pyspark.errors import PySparkException

        try:
            if path.startswith("table:"):
                return self.spark.table(path[len("table:"):]), "table"
            fmt = self._format(path)
            reader = self.spark.read
            if fmt == "csv":
                # every column as text, as the DuckDB engine reads CSV: ids keep their
                # leading zeros, and the scan's parsers type amounts and times
                reader = reader.options(
                    header=True, inferSchema=False, sep="\t" if path.lower().endswith(".tsv") else self._delimiter(path, encoding),
                    quote='"', escape='"', multiLine=True, encoding=encoding or "UTF-8", mode="PERMISSIVE",
                )
            return reader.format(fmt).load(path), fmt
        except PySparkException as exc:
            raise self._error(exc, path) from None

    @staticmethod
    def _format(path: str) -> str:
        base = path.rstrip("/").lower()
        for suffix in (".gz", ".bz2", ".snappy", ".zst"):
            base = base.removesuffix(suffix)
        ext = os.path.splitext(base)[1]
        if ext in FORMATS:
            return FORMATS[ext]
        if os.path.isdir(path):  # a local dataset folder: the format of its parts
            for name in sorted(os.listdir(path)):
                ext = os.path.splitext(name.lower().removesuffix(".gz").removesuffix(".snappy"))[1]
                if ext in FORMATS:
                    return FORMATS[ext]
            raise UsageError(f"{path}: no .parquet, .orc or .csv files in the folder", hint="give the folder of the dataset's part files")
        if not os.path.exists(path) and "://" in path:  # a folder on the cluster: Parquet, as Spark's own default
            return "parquet"
        raise UsageError(f"{path}: cannot tell the format from the name", hint="name it .parquet, .orc or .csv, or read a catalog table as table:db.name")

    @staticmethod
    def _delimiter(path: str, encoding: str | None) -> str:
        """A local CSV's delimiter, sniffed as the DuckDB engine does; a comma elsewhere."""
        from userops.io.readers import sniff_delimiter

        if not os.path.isfile(path) or path.lower().endswith((".gz", ".bz2")):
            return ","
        with open(path, "rb") as fh:
            sample = fh.read(1 << 16)
        return sniff_delimiter(sample.decode(encoding or "utf-8", errors="replace"))

    def register(self, source: RawSource) -> tuple[str, dict[str, str]]:
        """An input as a temporary view; its name and column types (as DuckDB names)."""
        frame = source.external
        if frame is None:  # a table read on the driver (a DataFrame handed in)
            assert source.table is not None
            frame = self.spark.createDataFrame(source.table.to_pandas())
        view = f"raw_{next(_VIEW_IDS)}"
        frame.createOrReplaceTempView(view)
        self._views[view] = frame
        return view, {f.name: spark_type(f.dataType) for f in frame.schema.fields}

    # --- running --------------------------------------------------------------------
    def _schema(self) -> dict[str, dict[str, str]]:
        out = {}
        for name, frame in self._views.items():
            out[name] = {f.name: spark_type(f.dataType) for f in frame.schema.fields}
        return out

    def _frame(self, query: str, params: list | None, file: str | None):
        """Run a statement: a query gives its DataFrame; CREATE/DROP of tables and views
        change the temporary views; settings (DuckDB's) are ignored."""
        import sqlglot
        from pyspark.errors import PySparkException
        from sqlglot import exp

        from userops.scan import spark_sql

        try:
            tree = spark_sql.translate(query, params, self._schema)
            if isinstance(tree, (exp.Set, exp.Command)):
                return None
            if isinstance(tree, exp.Create):
                name = tree.this.name if isinstance(tree.this, exp.Table) else tree.this.this.name
                frame = self.spark.sql(tree.expression.sql(dialect="spark"))
                if (tree.args.get("kind") or "").upper() == "TABLE":
                    # computed now, as DuckDB's CREATE TABLE is, and cut from its sources:
                    # the tables it was made from may be dropped next
                    frame = frame.localCheckpoint(eager=True)
                self._drop(name)
                frame.createOrReplaceTempView(name)
                self._views[name] = frame
                return None
            if isinstance(tree, exp.Drop):
                for table in tree.args.get("tables") or [tree.this]:
                    self._drop(table.name)
                return None
            if isinstance(tree, exp.Describe):
                frame = self.spark.sql(tree.this.sql(dialect="spark"))
                return self.spark.createDataFrame([(f.name, spark_type(f.dataType)) for f in frame.schema.fields], "column_name string, column_type string")
            return self.spark.sql(tree.sql(dialect="spark"))
        except spark_sql.Untranslatable as exc:
            raise UseropsError(f"internal error: the Spark engine cannot run this query ({exc})") from exc
        except sqlglot.errors.SqlglotError as exc:
            raise UseropsError(f"internal error: the query does not translate for Spark ({str(exc).splitlines()[0]})") from exc
        except PySparkException as exc:
            raise self._error(exc, file) from exc

    def _drop(self, name: str) -> None:
        frame = self._views.pop(name, None)
        if frame is not None:
            with contextlib.suppress(Exception):
                frame.unpersist()
        self.spark.catalog.dropTempView(name)

    def _collect(self, run):
        from pyspark.errors import PySparkException

        try:
            return run()
        except PySparkException as exc:
            raise self._error(exc, None) from exc

    def execute(self, query: str, params: list | None = None, *, file: str | None = None) -> _Result:
        frame = self._frame(query, params, file)
        if frame is None:
            return _Result([])
        return _Result([tuple(row) for row in self._collect(frame.collect)])

    def value(self, query: str, params: list | None = None, *, file: str | None = None) -> Any:
        row = self.execute(query, params, file=file).fetchone()
        return None if row is None else row[0]

    def row(self, query: str, params: list | None = None, *, file: str | None = None) -> tuple:
        return tuple(self.execute(query, params, file=file).fetchone() or ())

    def rows(self, query: str, params: list | None = None, *, file: str | None = None) -> list[tuple]:
        return self.execute(query, params, file=file).fetchall()

    def arrow(self, query: str, params: list | None = None) -> pa.Table:
        """A query's result as Arrow, the way DuckDB gives it (see :func:`wall_clock`)."""
        return wall_clock(self._collect(self._frame(query, params, None).toArrow))

    def list_table(self, query: str, params: list | None = None) -> "pa.Table | SparkList":
        """A per-customer list: Arrow on the driver, or (``lists_stay``) a :class:`SparkList`."""
        if self.lists_stay:
            return SparkList(self._frame(query, params, None), self)
        return self.arrow(query, params)

    def frame(self, query: str, params: list | None = None) -> pd.DataFrame:
        from userops.scan.engine import arrow_to_frame

        return arrow_to_frame(self.arrow(query, params))

    @property
    def threads(self) -> int:
        return int(self.spark.sparkContext.defaultParallelism)

    @contextlib.contextmanager
    def file_order(self):
        """Spark keeps no file order: samples are some rows of the input."""
        yield

    @contextlib.contextmanager
    def one_thread_more(self):
        yield

    def close(self, *, keep_database: bool = False) -> None:
        for name in list(self._views):
            self._drop(name)

    def _error(self, exc: Exception, file: str | None) -> UseropsError:
        """A Spark failure as an error a user can act on: a path or table that is not there
        blames the input (exit 66), a value Spark cannot read the data (exit 65)."""
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        condition = getattr(exc, "getCondition", lambda: None)() or getattr(exc, "getErrorClass", lambda: None)() or ""
        if condition in ("PATH_NOT_FOUND", "TABLE_OR_VIEW_NOT_FOUND") and file:
            return InputError(f"Spark cannot find it ({first})", file=file, hint="check the path (the cluster reads it) or the table name")
        if "MALFORMED" in condition or "CANNOT_PARSE" in condition:
            return DataError(f"Spark cannot read the data ({first})", file=file)
        return UseropsError(f"internal error in the Spark engine: {first} (rerun with --debug for the traceback)")


def wall_clock(table: "pa.Table") -> "pa.Table":
    """Spark's Arrow with DuckDB's times: a timestamp with the session's zone (UTC, e.g. from
    ``date_trunc``) as the wall-clock timestamp it stands for."""
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp(field.type.unit)))
    return table


class SparkList:
    """A per-customer list kept on the cluster until Spark writes it (``-o s3a://...``): the
    columns are known, the rows are computed by the write. Whatever else is asked of it (a
    ``--filter``, the summary) is answered by the list brought to the driver as Arrow."""

    def __init__(self, frame, engine: SparkEngine) -> None:
        self.frame = frame
        self._engine = engine
        self.rows_written: int | None = None

    @property
    def column_names(self) -> list[str]:
        return list(self.frame.columns)

    def select(self, names: list[str]) -> "SparkList":
        return SparkList(self.frame.select(*[f"`{n}`" for n in names]), self._engine)

    def drop_columns(self, names: list[str]) -> "SparkList":
        return SparkList(self.frame.drop(*names), self._engine)

    def __len__(self) -> int:
        return self.rows_written if self.rows_written is not None else int(self._engine._collect(self.frame.count))

    def to_arrow(self) -> "pa.Table":
        return self._arrow

    @functools.cached_property
    def _arrow(self) -> "pa.Table":
        return wall_clock(self._engine._collect(self.frame.toArrow))

    def __getitem__(self, key):
        return self._arrow[key]

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._arrow, name)


def write_dataset(table: "pa.Table | pd.DataFrame | SparkList", path: str, fmt: str) -> None:
    """A result written by Spark where the cluster writes (``s3a://``, ``hdfs://``): a folder
    of part files, as Spark writes a dataset, replacing what was there. A :class:`SparkList`
    is written by the executors (it never comes to the driver); a table from the driver (a
    summary, a list computed in Python) is handed to Spark first."""
    import pyarrow as pa
    from pyspark.errors import PySparkException

    session = spark_session()
    try:
        if isinstance(table, SparkList):
            frame = table.frame.persist()  # written, then counted for the note: computed once
        else:
            if not isinstance(table, pa.Table):
                table = pa.Table.from_pandas(table, preserve_index=False)
            for i, field in enumerate(table.schema):  # categoricals (statuses, segments) as their text
                if pa.types.is_dictionary(field.type):
                    table = table.set_column(i, field.name, table.column(i).cast(field.type.value_type))
            frame = session.createDataFrame(table)
        writer = frame.write.mode("overwrite").format(fmt)
        if fmt == "csv":
            writer = writer.option("header", True)
        writer.save(path)
        if isinstance(table, SparkList):
            table.rows_written = int(frame.count())
            frame.unpersist()
    except PySparkException as exc:
        text = str(exc).strip()
        raise UseropsError(f"{path}: Spark could not write it ({text.splitlines()[0] if text else type(exc).__name__})") from exc
