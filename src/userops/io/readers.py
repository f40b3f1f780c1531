"""Bytes in: a path or ``-``, decompression, encoding, delimiter sniffing.

``open_source`` returns a :class:`RawSource` with no column semantics: either a UTF-8 CSV
file on disk that the scan engine reads directly (the fast path for big exports), or an
Arrow table (strings for CSV/XLSX/JSONL, native types for Parquet). Column roles are
found later by :mod:`userops.io.columns`.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import os
import sys
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from userops.errors import DataError, InputError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

SAMPLE_BYTES = 256 * 1024
DELIMITERS = ",;\t|"
COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".zip": "zip", ".bz2": "bz2", ".xz": "xz"}
TEXT_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv"}
OTHER_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx", ".xlsm": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl"}
MAGIC = [
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
]


@dataclass(frozen=True)
class ReadInfo:
    """What was read and how: shown by ``userops inspect`` and in reports."""

    name: str  # the path as given, or "<stdin>"
    format: str  # csv | parquet | xlsx | jsonl
    compression: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    headers: tuple[str, ...] = ()


@dataclass
class RawSource:
    """One input: either ``csv_path`` (UTF-8 CSV the engine reads itself) or ``table``."""

    info: ReadInfo
    csv_path: str | None = None
    csv_compression: str | None = None
    table: "pa.Table | None" = None
    paths: tuple[str, ...] = field(default_factory=tuple)  # real files behind it (for output==input checks)
    quoted_newlines: bool = False  # the CSV sample has a line break inside a quoted cell
    notes: tuple[str, ...] = ()  # what is odd about the file, for stderr
    external: Any = None  # the input as another engine's dataset (a Spark DataFrame)


def open_source(path: str, *, encoding: str | None = None, stdin: BinaryIO | None = None) -> RawSource:
    """Open one input (a path or ``-``) and return a :class:`RawSource`."""
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = stream.read()
        return _from_bytes(data, "<stdin>", fmt=None, compression=_magic_compression(data), encoding=encoding)

    if not os.path.exists(path):
        raise InputError("no such file", file=path, hint="check the path")
    if os.path.isdir(path):
        raise InputError("is a directory, not a file", file=path)
    if not os.access(path, os.R_OK):
        raise InputError("cannot read the file (permission denied)", file=path)
    if not os.path.isfile(path):
        # a pipe or device (/dev/stdin, <(zcat x.gz), a FIFO) can be read once: read it whole,
        # as stdin is, rather than sniff its first bytes away
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise InputError(f"cannot read the file ({exc.strerror})", file=path) from exc
        return _from_bytes(data, path, fmt=None, compression=_magic_compression(data), encoding=encoding)

    base, ext = os.path.splitext(path.lower())
    compression = COMPRESSIONS.get(ext)
    if compression:
        base, ext = os.path.splitext(base)
    fmt = TEXT_FORMATS.get(ext) or OTHER_FORMATS.get(ext)
    if fmt is None:
        fmt = "csv"  # unknown extension: sniff it as delimited text
    if compression is None and fmt == "csv":
        with open(path, "rb") as fh:
            compression = _magic_compression(fh.read(8))

    if fmt == "csv" and compression in (None, "gzip"):
        sample = _read_sample(path, compression)
        if not sample.strip():
            raise DataError("the file is empty", file=path, hint="export the data again")
        enc = encoding or detect_encoding(sample)
        if _is_utf8(enc):
            text = _decode_sample(sample, enc)
            delimiter = sniff_delimiter(text)
            headers = _headers(text, delimiter, path)
            info = ReadInfo(path, "csv", compression, "utf-8-sig" if sample.startswith(codecs.BOM_UTF8) else "utf-8", delimiter, headers)
            return RawSource(
                info, csv_path=path, csv_compression=compression, paths=(path,), quoted_newlines=has_quoted_newline(text, delimiter),
                notes=_trailing_nul_note(path) if compression is None else (),
            )

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:  # pragma: no cover - races and exotic file systems
        raise InputError(f"cannot read the file ({exc.strerror})", file=path) from exc
    source = _from_bytes(data, path, fmt=fmt, compression=compression, encoding=encoding)
    source.paths = (path,)
    return source


# --- sniffing -------------------------------------------------------------------------


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) if the sample decodes as UTF-8, else GB18030 (GBK superset)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still UTF-8
        if exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
    try:
        sample.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        return "latin-1"


def sniff_delimiter(text: str) -> str:
    """The delimiter among ``, ; tab |`` that splits the first lines most consistently."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of a sample may be cut
    best, best_score = ",", (-1, -1)
    for delim in DELIMITERS:
        try:
            rows = list(csv.reader(lines, delimiter=delim))
        except csv.Error:
            continue
        widths = [len(r) for r in rows]
        head = widths[0]
        if head < 2:
            continue
        consistent = sum(1 for w in widths if w == head)
        score = (consistent, head)
        if score > best_score:
            best, best_score = delim, score
    return best


def _trailing_nul_note(path: str) -> tuple[str, ...]:
    """A note when the file ends in NUL bytes (a disk-full or crashed export, a padded file):
    the rows before them are read, the NULs are no data and should not pass unsaid."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(path) - 65536))
            tail = fh.read()
    except OSError:
        return ()
    if b"\x00" not in tail:
        return ()
    run = len(tail) - len(tail.rstrip(b"\x00"))
    size = f"at least {run:,}" if run == len(tail) < os.path.getsize(path) else f"{run:,}"
    return (f"{path} ends in {size} NUL bytes after its rows (an export cut short or padded?): they are not data",)


def has_quoted_newline(text: str, delimiter: str) -> bool:
    """True when a record of the sample (the last, perhaps cut, left out) has a line break
    inside a quoted cell, or a cell too long for the csv module's default limit."""
    if '"' not in text:
        return False
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        return True
    return any("\n" in cell or "\r" in cell for row in rows[:-1] for cell in row)


def _headers(text: str, delimiter: str, name: str) -> tuple[str, ...]:
    if "\x00" in text:
        raise DataError("not a text file (it holds NUL bytes)", file=name, hint="export the data as CSV, or set --encoding utf-16le for a UTF-16 text file")
    try:
        first = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except csv.Error as exc:
        raise DataError(f"cannot read the header row ({exc})", file=name, row=1, hint="export the data as CSV") from exc
    headers = [h.strip() for h in first]
    if not any(headers):
        raise DataError("no header row found", file=name, row=1, hint="the first line must name the columns")
    return tuple(dedupe_headers(headers))


def dedupe_headers(headers: list[str]) -> list[str]:
    """Blank headers become ``column_N``; repeats get ``_2``, ``_3``..."""
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(headers, start=1):
        h = h or f"column_{i}"
        if h in seen:
            seen[h] += 1
            h = f"{h}_{seen[h]}"
        else:
            seen[h] = 1
        out.append(h)
    return out


def _is_utf8(enc: str) -> bool:
    return codecs.lookup(enc).name in ("utf-8", "utf-8-sig")


def _decode_sample(sample: bytes, enc: str) -> str:
    return sample.decode(enc, errors="ignore")


def _magic_compression(head: bytes) -> str | None:
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    return None


def _read_sample(path: str, compression: str | None) -> bytes:
    opener = gzip.open if compression == "gzip" else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(SAMPLE_BYTES)
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read the file ({exc})", file=path) from exc


def _decompress(data: bytes, compression: str | None, name: str) -> tuple[bytes, str | None]:
    """Return the decompressed bytes and, for zip, the member name."""
    try:
        if compression == "gzip":
            return gzip.decompress(data), None
        if compression == "bz2":
            return bz2.decompress(data), None
        if compression == "xz":
            return lzma.decompress(data), None
        if compression == "zip":
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                members = [m for m in zf.namelist() if not m.endswith("/") and not m.startswith("__MACOSX")]
                if len(members) != 1:
                    raise DataError(
                        f"the zip archive holds {len(members)} files; userops reads archives with exactly one",
                        file=name,
                        hint="unzip it and pass the file you want",
                    )
                return zf.read(members[0]), members[0]
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, ValueError) as exc:
        raise InputError(f"cannot decompress the file ({exc})", file=name) from exc
    return data, None


def _from_bytes(data: bytes, name: str, *, fmt: str | None, compression: str | None, encoding: str | None) -> RawSource:
    data, member = _decompress(data, compression, name)
    if fmt is None or (member and fmt == "csv"):
        inner = os.path.splitext((member or "").lower())[1]
        fmt = TEXT_FORMATS.get(inner) or OTHER_FORMATS.get(inner) or ("parquet" if data[:4] == b"PAR1" else None)
        if fmt is None:
            fmt = "jsonl" if data.lstrip()[:1] == b"{" else "csv"
    if not data.strip():
        raise DataError("the input is empty", file=name, hint="export the data again")
    if fmt == "parquet":
        return RawSource(ReadInfo(name, "parquet", compression), table=_read_parquet(data, name))
    if fmt == "xlsx":
        table = _read_xlsx(data, name)
        return RawSource(ReadInfo(name, "xlsx", compression, headers=tuple(table.column_names)), table=table)
    if fmt == "jsonl":
        table = _read_jsonl(data, name)
        return RawSource(ReadInfo(name, "jsonl", compression, "utf-8", headers=tuple(table.column_names)), table=table)
    enc = encoding or detect_encoding(data[:SAMPLE_BYTES])
    try:
        text = data.decode(enc)
    except (UnicodeDecodeError, LookupError) as exc:
        raise DataError(f"cannot decode the text as {enc}", file=name, hint="set --encoding (e.g. utf-8, gb18030)") from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    delimiter = sniff_delimiter(text[:SAMPLE_BYTES])
    headers = _headers(text[:SAMPLE_BYTES], delimiter, name)
    table = _read_csv_text(text, delimiter, headers, name)
    return RawSource(ReadInfo(name, "csv", compression, enc, delimiter, headers), table=table)


def _read_csv_text(text: str, delimiter: str, headers: tuple[str, ...], name: str) -> "pa.Table":
    import pyarrow as pa
    from pyarrow import csv as pacsv

    read = pacsv.ReadOptions(column_names=list(headers), skip_rows=1, block_size=1 << 24)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert = pacsv.ConvertOptions(
        column_types={h: pa.string() for h in headers}, strings_can_be_null=False, quoted_strings_can_be_null=False
    )
    try:
        return pacsv.read_csv(io.BytesIO(text.encode("utf-8")), read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise DataError(f"cannot parse the CSV ({_first_line(exc)})", file=name, hint="check the delimiter and quoting") from exc


def read_csv_strictly(source: RawSource) -> tuple["pa.Table", str | None]:
    """The careful reader, for a CSV file the engine's scanner refuses (mixed CRLF and LF line
    endings, a quote left open, an encoding that changes after the sample): Python's csv
    module in strict mode over the whole file, its encoding re-checked on all of it. Returns
    the table (text columns named by the headers) and a note when the encoding changed. A row
    it cannot read is a DataError naming the line."""
    import pyarrow as pa

    info = source.info
    assert source.csv_path is not None  # only CSV views are re-read
    try:
        if source.csv_compression == "gzip":
            with gzip.open(source.csv_path, "rb") as fh:
                data: bytes = fh.read()
        else:
            with open(source.csv_path, "rb") as plain:
                data = plain.read()
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read the file ({exc})", file=info.name) from exc
    note = None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise DataError("the text is not UTF-8", file=info.name, row=line, hint="set --encoding (e.g. gb18030, latin-1)") from exc
        note = f"{info.name} is not UTF-8 from line {line:,} on: read as GB18030 (set --encoding if that is wrong)"
    width = len(info.headers)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)  # a pasted HTML description is one field of megabytes
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=info.delimiter or ",", strict=True)
        next(reader, None)  # the header
        for row in reader:
            if not row:
                continue
            if len(row) > width:
                raise DataError(
                    f"the row has {len(row)} fields, the header {width}", file=info.name, row=reader.line_num,
                    hint="check the delimiter and quoting on that line",
                )
            for i in range(width):
                columns[i].append(row[i] if i < len(row) else None)
    except csv.Error as exc:
        raise DataError(
            f"cannot read the CSV ({exc}; a quoted cell is left open?)", file=info.name, row=reader.line_num,
            hint="close the quote on that line, or export the data again",
        ) from exc
    finally:
        csv.field_size_limit(limit)
    return pa.table({h: pa.array(col, type=pa.string()) for h, col in zip(info.headers, columns)}), note


def _read_parquet(data: bytes, name: str) -> "pa.Table":
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read the Parquet file ({_first_line(exc)})", file=name) from exc


def _read_jsonl(data: bytes, name: str) -> "pa.Table":
    import pyarrow as pa
    from pyarrow import json as pajson

    try:
        table = pajson.read_json(io.BytesIO(data))
    except pa.ArrowInvalid as exc:
        raise DataError(f"cannot parse the JSON lines ({_first_line(exc)})", file=name, hint="one JSON object per line") from exc
    return table


def _read_xlsx(data: bytes, name: str) -> "pa.Table":
    """First sheet of a workbook as strings (dates ISO, integral numbers without ``.0``)."""
    import datetime as dt

    import openpyxl
    import pyarrow as pa

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise DataError(f"cannot read the workbook ({_first_line(exc)})", file=name) from exc
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None or not any(v is not None for v in header):
        raise DataError("the first sheet is empty", file=name)
    headers = dedupe_headers([("" if v is None else str(v)).strip() for v in header])
    columns: list[list[str | None]] = [[] for _ in headers]

    def cell(v: object) -> str | None:
        if v is None:
            return None
        if isinstance(v, dt.datetime):
            return v.isoformat(sep=" ")
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    for row in rows:
        if row is None or all(v is None for v in row):
            continue
        for i in range(len(headers)):
            columns[i].append(cell(row[i]) if i < len(row) else None)
    wb.close()
    return pa.table({h: pa.array(col, type=pa.string()) for h, col in zip(headers, columns)})


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

