"""Machine output: csv / tsv / json / jsonl / markdown / xlsx / parquet.

Values are preserved (ISO dates, ratios 0–1, the rounding the analytics applied); text cells
that a spreadsheet would run as a formula (starting with ``= + - @``, tab or CR) are
neutralised unless ``raw``; ``bom`` writes a UTF-8 BOM for Excel; files are written
atomically (temp file + ``os.replace``) and never over an input.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import sys
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Callable

from userops import schema
from userops.errors import OutputError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa
    from pyarrow import csv as pacsv

FORMATS = ("table", "csv", "tsv", "json", "jsonl", "markdown", "xlsx", "parquet")
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".md": "markdown",
    ".markdown": "markdown",
    ".xlsx": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
}
FORMULA_PATTERN = r"^[=+\-@\t\r]"
#: A signed number or an international phone number (``-12.5``, ``+8613800138000``): it starts
#: like a formula but a spreadsheet reads it as a number, so SMS and CRM lists keep it as is.
#: ``+86-138-...`` or ``+86 138 ...`` stay guarded (Excel would compute or intersect them).
SIGNED_NUMBER_PATTERN = r"^[+\-][0-9]+(\.[0-9]+)?$"


@dataclass(frozen=True)
class OutputSpec:
    """Where and how a table is written. ``format`` is resolved (never None)."""

    format: str
    path: str | None = None  # None: stdout
    bom: bool = False
    raw: bool = False
    inputs: tuple[str, ...] = ()
    #: columns holding 0-1 ratios whose name does not say so (XLSX shows them as %)
    ratios: tuple[str, ...] = ()
    #: text columns of ISO dates and labels (a matrix's cohorts and its "average" row): XLSX
    #: writes the dates as dates
    dates: tuple[str, ...] = ()
    #: (column, header shown) for --headers: CSV, TSV, Markdown and XLSX write the header
    #: shown; formats are still chosen by the column's own name
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, column: str) -> str:
        return dict(self.headers).get(column, column)


def resolve_output(
    fmt: str | None, path: str | None, *, stdout_is_terminal: bool, bom: bool = False, raw: bool = False,
    inputs: tuple[str, ...] = (), as_of: str | None = None,
) -> OutputSpec:
    """Pick the format: the flag, else the output extension, else a table on a terminal and CSV in a pipe."""
    if path is not None and as_of is not None:
        path = path.replace("{as_of}", as_of)
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r}", hint=f"choose one of {', '.join(FORMATS)}")
    if fmt is None and path is not None:
        fmt = EXTENSIONS.get(os.path.splitext(path)[1].lower())
        if fmt is None and _is_stream(path):
            fmt = "csv"  # /dev/stdout, a named pipe: what a pipe gets
        if fmt is None:
            raise UsageError(f"cannot tell the format from {path!r}", hint="add --format or use a known extension (.csv, .xlsx, .json, ...)")
    if fmt is None:
        fmt = "table" if stdout_is_terminal else "csv"
    if fmt == "table" and path is not None:
        raise UsageError("--format table is for the terminal", hint="write a file as csv, xlsx, json, markdown or parquet")
    if fmt in ("xlsx", "parquet") and path is None and stdout_is_terminal:
        raise UsageError(f"{fmt} is binary and stdout is a terminal", hint="add -o FILE")
    return OutputSpec(fmt, path, bom, raw, inputs)


# --- value preparation -------------------------------------------------------------------


def text_table(frame: "pd.DataFrame | pa.Table", *, guard: bool) -> "pa.Table":
    """The frame (or an Arrow table from the engine) as Arrow, timestamps as dates when every time in the column is midnight (else
    whole seconds), and, with ``guard``, text cells that would run as a formula prefixed
    with ``'``. Vectorised in Arrow: this runs on million-row customer tables."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    columns = []
    for col in table.columns:
        if pa.types.is_timestamp(col.type):
            valid = pc.drop_null(col)
            midnight = len(valid) == 0 or pc.all(pc.equal(pc.floor_temporal(valid, unit="day"), valid)).as_py()
            # Arrow writes date32 as YYYY-MM-DD and timestamp[s] as YYYY-MM-DD HH:MM:SS (casts,
            # not strftime, which is ~30x slower on million-row tables)
            col = pc.cast(col, pa.date32()) if midnight else pc.cast(col, pa.timestamp("s", tz=col.type.tz), safe=False)
        elif pa.types.is_dictionary(col.type) and (pa.types.is_string(col.type.value_type) or pa.types.is_large_string(col.type.value_type)):
            # pandas categoricals (segment, status, action...) stay dictionaries: the writer
            # decodes them as it goes, and the guard only looks at the few distinct values
            col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
            values = pc.cast(col.dictionary, pa.string())
            col = pa.DictionaryArray.from_arrays(col.indices, _guarded(values) if guard else values)
        elif pa.types.is_large_string(col.type):
            col = pc.cast(col, pa.string())
        if guard and pa.types.is_string(col.type):
            col = _guarded(col)
        columns.append(col)
    return pa.table(columns, names=table.column_names)


def as_frame(table: "pd.DataFrame | pa.Table") -> "pd.DataFrame":
    """A pandas frame of an Arrow table from the engine; a frame as it is."""
    import pyarrow as pa

    from userops.scan.engine import arrow_to_frame

    return arrow_to_frame(table) if isinstance(table, pa.Table) else table


def _guarded(col):
    """Text cells that would run as a formula in a spreadsheet, prefixed with ``'``."""
    import pyarrow.compute as pc

    # missing cells give a missing condition, and if_else keeps them missing: no fill_null
    # (its Python False goes through pyarrow's pandas check, importing pandas: 0.3 s)
    risky = pc.and_(pc.match_substring_regex(col, FORMULA_PATTERN), pc.invert(pc.match_substring_regex(col, SIGNED_NUMBER_PATTERN)))
    if not pc.any(risky).as_py():  # rebuilding a text column is the slow part: only when needed
        return col
    return pc.if_else(risky, pc.binary_join_element_wise("'", col, ""), col)


def _records(frame: "pd.DataFrame") -> list[dict]:
    """Rows as dicts of JSON-ready values (ISO dates, None for missing, no NaN)."""
    import datetime as dt
    import math

    rows = text_table(frame, guard=False).to_pylist()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
                row[key] = None
            elif isinstance(value, dt.datetime):
                row[key] = value.isoformat(sep=" ")
            elif isinstance(value, dt.date):
                row[key] = value.isoformat()
    return rows


# --- writers -------------------------------------------------------------------------------


def to_bytes(frame: "pd.DataFrame", spec: OutputSpec) -> bytes:
    """The table in ``spec.format`` as bytes (everything but the terminal table)."""
    fmt = spec.format
    if fmt in ("csv", "tsv"):
        return _csv_bytes(frame, "," if fmt == "csv" else "\t", spec)
    if fmt in ("json", "jsonl"):
        return _json_bytes(frame, fmt, spec)
    if fmt == "markdown":
        return _markdown_bytes(frame, spec)
    if fmt == "xlsx":
        return xlsx_bytes({"data": frame}, raw=spec.raw, ratios=spec.ratios, dates=spec.dates, headers=dict(spec.headers))
    if fmt == "parquet":
        return _parquet_bytes(frame)
    raise UsageError(f"cannot write format {fmt!r} to a file")


def write_table(frame: "pd.DataFrame | pa.Table", spec: OutputSpec, *, stdout: BinaryIO | None = None) -> None:
    """Write one table to ``spec.path`` (atomically) or to stdout. CSV/TSV stream straight to
    the file: a million-row table never sits in memory twice. An Arrow table (a per-customer
    list from the engine) goes to CSV/TSV without pandas; the other formats take it as a frame."""

    def write(fh: BinaryIO) -> None:
        if spec.format in ("csv", "tsv"):
            _write_csv(frame, "," if spec.format == "csv" else "\t", spec, fh)
        else:
            fh.write(to_bytes(as_frame(frame), spec))

    if spec.path is None:
        write_stdout(write, stdout)
    else:
        write_atomic(spec.path, write, inputs=spec.inputs)


def write_stdout(write: "Callable[[BinaryIO], None]", stdout: BinaryIO | None = None) -> None:
    """Write to standard output; a closed or full stdout is an output error (exit 73). A reader
    that stopped early (``| head``) is a BrokenPipeError, handled by the CLI (exit 0)."""
    if stdout is None:
        if sys.stdout is None or getattr(sys.stdout, "buffer", None) is None:
            raise OutputError("standard output is closed", hint="write to a file with -o")
        stdout = sys.stdout.buffer
    try:
        write(stdout)
        stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: I/O on a closed file
        reason = getattr(exc, "strerror", None) or str(exc)
        raise OutputError(f"cannot write to standard output ({reason})", hint="write to a file with -o") from exc


#: Temp files this module leaves in an output folder while writing: ``.userops-<pid>-<random>.tmp``.
TEMP_PREFIX = ".userops-"
_TEMP_NAME = re.compile(r"^\.userops-(\d+)-.*\.tmp$")


def write_atomic(path: str, data: "bytes | Callable[[BinaryIO], None]", *, inputs: tuple[str, ...] = ()) -> None:
    """Write ``data`` (bytes, or a function writing to a binary file) to ``path`` through a temp
    file in the same folder and ``os.replace``: readers never see half a file.

    A character device or FIFO (``/dev/stdout``, a named pipe) is written through: there is
    no file to replace. A symlink is followed and its target replaced (the link stays)."""
    check_not_input(path, inputs)
    if _is_stream(path):
        try:
            with open(path, "wb") as fh:
                data(fh) if callable(data) else fh.write(data)
        except OSError as exc:
            raise OutputError(f"cannot write the output ({exc.strerror or exc})", file=path) from exc
        return
    target = os.path.realpath(path) if os.path.islink(path) else path
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise OutputError("the output folder does not exist", file=path, hint="create it first")
    remove_stale_temps(folder)
    tmp = None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=".tmp", delete=False) as fh:
            tmp = fh.name
            # the temp file is private (0600); the output gets the mode a new file would get,
            # or keeps the one of the file it replaces
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode) if os.path.exists(target) else 0o666 & ~_umask())
            if callable(data):
                data(fh)  # type: ignore[arg-type]  # a NamedTemporaryFile is a BinaryIO
            else:
                fh.write(data)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise OutputError(f"cannot write the output ({exc.strerror or exc})", file=path) from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temps(folder: str) -> None:
    """Remove the temp files of userops processes that are gone (killed mid-write: SIGKILL
    leaves no chance to clean up); a live process's temp file is left alone."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(TEMP_PREFIX)]
    except OSError:
        return
    for name in names:
        match = _TEMP_NAME.match(name)
        if not match or _alive(int(match.group(1))):
            continue
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _is_stream(path: str) -> bool:
    """A character device or FIFO: written through, not replaced."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _stdin_is(path: str) -> bool:
    try:
        given, out = os.fstat(0), os.stat(path)
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(given.st_mode) and (given.st_dev, given.st_ino) == (out.st_dev, out.st_ino)


#: The formats a cluster writes (``-o s3a://bucket/list.parquet`` on the Spark engine).
DATASET_FORMATS = ("parquet", "csv")


def is_uri(path: str | None) -> bool:
    """An output for a cluster's file system (``s3a://``, ``hdfs://``, ``abfss://``...)."""
    import re

    return path is not None and re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", path) is not None


def check_output_path(path: str, inputs: tuple[str, ...] = ()) -> None:
    """What can be known about an output path before any work: its folder exists and can be
    written, it is not a folder itself, and it is not an input. A ``{as_of}`` in the path is
    filled in later; the folder before it is checked now. A cluster's path (a URI) is the
    cluster's to check."""
    if path == "-" or is_uri(path):
        return
    fixed = path.split("{as_of}")[0]
    folder = os.path.dirname(os.path.abspath(fixed if "{as_of}" not in path else fixed + "x"))
    if not os.path.isdir(folder):
        raise OutputError("the output folder does not exist", file=path, hint="create it first")
    if not os.access(folder, os.W_OK):
        raise OutputError("the output folder is not writable (permission denied)", file=path)
    if "{as_of}" not in path:
        if os.path.isdir(path):
            raise OutputError("the output path is a folder", file=path, hint="give a file name")
        check_not_input(path, inputs)


def check_not_input(path: str, inputs: tuple[str, ...]) -> None:
    """Refuse to write over an input file (also one given as ``-``: stdin redirected from it)."""
    target = os.path.realpath(path)
    for src in inputs:
        if src == "-":
            if _stdin_is(path):
                raise OutputError("the output path is the file on standard input; refusing to overwrite it", file=path, hint="choose another -o path")
            continue
        same = os.path.realpath(src) == target
        if not same and os.path.exists(path) and os.path.exists(src):
            try:
                same = os.path.samefile(src, path)
            except OSError:
                same = False
        if same:
            raise OutputError("the output path is an input file; refusing to overwrite it", file=path, hint="choose another -o path")


def _csv_bytes(frame: "pd.DataFrame", delimiter: str, spec: OutputSpec) -> bytes:
    buf = io.BytesIO()
    _write_csv(frame, delimiter, spec, buf)
    return buf.getvalue()


#: Tables of more rows than this are formatted in slices on a few threads (pyarrow's CSV
#: writer formats on one core; the slices are written in order, a few in flight at a time).
CSV_SLICE_ROWS = 100_000
CSV_SLICES_IN_FLIGHT = 4


def _write_csv(frame: "pd.DataFrame | pa.Table", delimiter: str, spec: OutputSpec, fh: BinaryIO) -> None:
    from pyarrow import csv as pacsv

    table = text_table(frame, guard=not spec.raw)
    if spec.bom:
        fh.write(b"\xef\xbb\xbf")
    # the header is written here, quoted only where needed (every pyarrow version quotes every
    # header name, or needs >= 19 not to); the rows by pyarrow
    fh.write(csv_header([spec.header(str(c)) for c in table.column_names], delimiter))
    options = csv_write_options(delimiter=delimiter, include_header=False)
    if table.num_rows <= CSV_SLICE_ROWS:
        pacsv.write_csv(table, fh, options)
        return
    _write_csv_sliced(table, options, options, fh)


def csv_header(names: list[str], delimiter: str = ",") -> bytes:
    """The header line: names as they are, quoted only when they hold a delimiter, quote or
    line break (as pyarrow quotes the cells)."""
    import csv

    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(names)
    return buf.getvalue().encode("utf-8")


def _write_csv_sliced(table: "pa.Table", first: "pacsv.WriteOptions", rest: "pacsv.WriteOptions", fh: BinaryIO) -> None:
    """The same bytes as one ``write_csv`` call, formatted slice by slice on worker threads
    (pyarrow releases the GIL): about 2.5x faster on 2 cores for million-row tables."""
    import collections
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    from pyarrow import csv as pacsv

    def formatted(start: int) -> "pa.Buffer":
        out = pa.BufferOutputStream()
        pacsv.write_csv(table.slice(start, CSV_SLICE_ROWS), out, first if start == 0 else rest)
        return out.getvalue()

    with ThreadPoolExecutor(max_workers=min(4, pa.cpu_count())) as pool:  # --threads bounds Arrow's pool
        pending: collections.deque = collections.deque()
        for start in range(0, table.num_rows, CSV_SLICE_ROWS):
            pending.append(pool.submit(formatted, start))
            if len(pending) >= CSV_SLICES_IN_FLIGHT:
                fh.write(pending.popleft().result())
        while pending:
            fh.write(pending.popleft().result())


def csv_write_options(*, delimiter: str = ",", quoting_style: str = "needed", include_header: bool = True):
    """pyarrow CSV options (userops writes its header itself: see :func:`csv_header`)."""
    from pyarrow import csv as pacsv

    return pacsv.WriteOptions(include_header=include_header, delimiter=delimiter, quoting_style=quoting_style)


def _json_bytes(frame: "pd.DataFrame", fmt: str, spec: OutputSpec) -> bytes:
    records = _records(frame)
    if fmt == "json":
        body = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    else:
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return body.encode("utf-8")


def _markdown_bytes(frame: "pd.DataFrame", spec: OutputSpec) -> bytes:
    import pandas as pd

    def cell(v) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
            return str(v)
        return str(v).replace("|", "\\|").replace("\n", " ")

    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in frame.columns]
    lines = ["| " + " | ".join(cell(spec.header(str(c))) for c in frame.columns) + " |"]
    lines.append("| " + " | ".join("---:" if n else "---" for n in numeric) + " |")
    for row in _records(frame):
        lines.append("| " + " | ".join(cell(v) for v in row.values()) + " |")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _parquet_bytes(frame: "pd.DataFrame") -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf)
    return buf.getvalue()


#: Rows in an Excel worksheet, the header included.
XLSX_MAX_ROWS = 1_048_576


def xlsx_bytes(
    sheets: dict[str, "pd.DataFrame"], *, raw: bool = False, ratios: tuple[str, ...] = (), dates: tuple[str, ...] = (), headers: dict[str, str] | None = None
) -> bytes:
    """A workbook with one sheet per table: bold frozen header, column widths, ids and text as
    text cells (never formulas), numbers as numbers, dates as dates (also the ISO date text
    of the ``dates`` columns; their other text stays text)."""
    import datetime as dt

    import pandas as pd
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    def blank(v) -> bool:  # a missing value of any kind (None, NaN, NaT, nullable columns' NA)
        return v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and v != v)

    for name, frame in sheets.items():
        if len(frame) + 1 > XLSX_MAX_ROWS:
            raise OutputError(
                f"{len(frame):,} rows do not fit an Excel sheet ({XLSX_MAX_ROWS - 1:,} at most)",
                hint="write CSV or Parquet (-o out.csv, -o out.parquet), or narrow the list (--top, --tier, --filter)",
            )
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for name, frame in sheets.items():
        ws = wb.create_sheet(title=name[:31])
        ws.freeze_panes = "A2"
        kinds, widths = [], []
        for col in frame.columns:
            s = frame[col]
            if pd.api.types.is_datetime64_any_dtype(s):
                valid = s.dropna()
                midnight = bool((valid == valid.dt.normalize()).all()) if len(valid) else True
                kinds.append("date" if midnight else "datetime")
                widths.append(12 if midnight else 20)
            elif col in dates and not pd.api.types.is_numeric_dtype(s):
                kinds.append("date text")
                widths.append(12)
            elif (schema.is_ratio(str(col)) or col in ratios) and pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                kinds.append("ratio")  # the 0-1 value stays in the cell; Excel shows 13.7%
                widths.append(9)
            else:
                kinds.append("other")
                lengths = [len(str(v)) for v in s.head(1000).tolist() if not blank(v)]
                widths.append(max(lengths) + 2 if lengths else 10)
        shown = [(headers or {}).get(str(col), str(col)) for col in frame.columns]
        for i, col in enumerate(frame.columns):
            widths[i] = min(max(widths[i], len(shown[i]) + 2, 8), 60)
            ws.column_dimensions[get_column_letter(i + 1)].width = widths[i]
        header = []
        for name in shown:
            c = WriteOnlyCell(ws, value=name)
            c.font = bold
            header.append(c)
        ws.append(header)
        for row in frame.itertuples(index=False, name=None):
            cells: list[Any] = []
            for v, kind in zip(row, kinds):
                if blank(v):
                    cells.append(None)
                    continue
                if kind == "date text" and isinstance(v, str):
                    try:
                        v = dt.date.fromisoformat(v)
                    except ValueError:
                        pass  # a label among the dates ("average")
                if kind in ("date", "datetime"):
                    c = WriteOnlyCell(ws, value=v.to_pydatetime() if kind == "datetime" else v.date())
                    c.number_format = "yyyy-mm-dd hh:mm:ss" if kind == "datetime" else "yyyy-mm-dd"
                elif isinstance(v, dt.datetime):
                    c = WriteOnlyCell(ws, value=v)
                    c.number_format = "yyyy-mm-dd hh:mm:ss"
                elif isinstance(v, dt.date):
                    c = WriteOnlyCell(ws, value=v)
                    c.number_format = "yyyy-mm-dd"
                elif isinstance(v, str):
                    c = WriteOnlyCell(ws, value=v)
                    if not raw:
                        c.data_type = "s"  # text, never a formula
                elif hasattr(v, "item"):
                    c = WriteOnlyCell(ws, value=v.item())
                else:
                    c = WriteOnlyCell(ws, value=v)
                if kind == "ratio":
                    c.number_format = "0.0%"
                cells.append(c)
            ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    return _stable_zip(buf.getvalue())


def _stable_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed member timestamps so the same table gives the same bytes."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            dst.writestr(fixed, data)
    return out.getvalue()
