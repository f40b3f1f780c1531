"""Machine formats: values preserved, formula injection neutralised, atomic writes."""

import io
import json
import os

import pandas as pd
import pytest

from userops.errors import OutputError, UsageError
from userops.io import writers
from userops.io.writers import OutputSpec, resolve_output, to_bytes, write_atomic


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "customer_id": ["=1+1", "+33 6", "-5", "@SUM(A1)", "\tx", "plain", "a|b"],
            "revenue": [1.5, None, 3.0, 4.25, 0.0, 2.0, 1.0],
            "when": pd.to_datetime(["2024-01-01"] * 6 + [None]),
        }
    )


def test_csv_guards_formulas_and_writes_dates(frame):
    text = to_bytes(frame, OutputSpec("csv")).decode()
    lines = text.splitlines()
    assert lines[0] == "customer_id,revenue,when"
    assert lines[1] == "\"'=1+1\",1.5,2024-01-01"
    assert lines[2].startswith("\"'+33 6\",,")  # missing number -> empty cell
    assert lines[3].startswith('"-5"') and lines[4].startswith("\"'@SUM(A1)\"")  # a signed number is no formula
    assert lines[5].startswith("\"'\tx\"")
    assert lines[7] == '"a|b",1,'
    raw = to_bytes(frame, OutputSpec("csv", raw=True)).decode().splitlines()
    assert raw[1].startswith('"=1+1"')


def test_tsv_and_bom(frame):
    data = to_bytes(frame, OutputSpec("tsv", bom=True))
    assert data.startswith(b"\xef\xbb\xbfcustomer_id\trevenue\twhen\n")


def test_json_jsonl_markdown(frame):
    records = json.loads(to_bytes(frame, OutputSpec("json")))
    assert records[0] == {"customer_id": "=1+1", "revenue": 1.5, "when": "2024-01-01"}
    assert records[1]["revenue"] is None and records[6]["when"] is None
    lines = to_bytes(frame, OutputSpec("jsonl")).decode().splitlines()
    assert len(lines) == 7 and json.loads(lines[2])["customer_id"] == "-5"
    md = to_bytes(frame, OutputSpec("markdown")).decode().splitlines()
    assert md[0] == "| customer_id | revenue | when |"
    assert md[1] == "| --- | ---: | --- |"
    assert md[8] == "| a\\|b | 1.0 |  |"


def test_datetimes_keep_their_time():
    frame = pd.DataFrame({"ts": pd.to_datetime(["2024-01-01 10:30:00", "2024-01-02 00:00:00"])})
    assert to_bytes(frame, OutputSpec("csv")).decode().splitlines()[1:] == ["2024-01-01 10:30:00", "2024-01-02 00:00:00"]


def test_parquet_round_trip(frame):
    back = pd.read_parquet(io.BytesIO(to_bytes(frame, OutputSpec("parquet"))))
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_xlsx_text_cells_never_formulas(frame, tmp_path):
    import openpyxl

    path = tmp_path / "x.xlsx"
    path.write_bytes(to_bytes(frame, OutputSpec("xlsx")))
    ws = openpyxl.load_workbook(path).active
    assert ws["A2"].value == "=1+1" and ws["A2"].data_type == "s"
    assert ws["B2"].value == 1.5 and ws["B3"].value is None
    assert ws["C2"].is_date


def test_resolve_output():
    assert resolve_output(None, None, stdout_is_terminal=True).format == "table"
    assert resolve_output(None, None, stdout_is_terminal=False).format == "csv"
    assert resolve_output(None, "out.xlsx", stdout_is_terminal=True).format == "xlsx"
    assert resolve_output("json", "out.txt", stdout_is_terminal=True).format == "json"
    assert resolve_output(None, "r-{as_of}.md", stdout_is_terminal=True, as_of="2024-01-02").path == "r-2024-01-02.md"
    with pytest.raises(UsageError):
        resolve_output(None, "out.weird", stdout_is_terminal=True)
    with pytest.raises(UsageError):
        resolve_output("xlsx", None, stdout_is_terminal=True)


def test_atomic_write_leaves_no_temp_and_refuses_inputs(tmp_path):
    target = tmp_path / "out.csv"
    write_atomic(str(target), b"a\n")
    assert target.read_bytes() == b"a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    with pytest.raises(OutputError, match="input"):
        write_atomic(str(target), b"b\n", inputs=(str(target),))
    link = tmp_path / "link.csv"
    os.symlink(target, link)
    with pytest.raises(OutputError, match="input"):
        write_atomic(str(link), b"b\n", inputs=(str(target),))
    assert target.read_bytes() == b"a\n"


def test_categorical_text_is_guarded_and_written_as_text(frame):
    # segment names, statuses and actions arrive as pandas categoricals (Arrow dictionaries)
    cat = frame.assign(customer_id=pd.Categorical(frame["customer_id"]), label=pd.Categorical(["x", "=cmd", "x", None, "y", "y", "x"]))
    lines = to_bytes(cat, OutputSpec("csv")).decode().splitlines()
    assert lines[1] == "\"'=1+1\",1.5,2024-01-01,\"x\""
    assert lines[2].endswith(",\"'=cmd\"") and lines[4].endswith(",")  # missing stays empty
    assert to_bytes(cat, OutputSpec("csv", raw=True)).decode().splitlines()[2].endswith(',"=cmd"')
    records = json.loads(to_bytes(cat, OutputSpec("json")))
    assert records[1]["label"] == "=cmd" and records[3]["label"] is None


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_large_tables_are_formatted_in_slices_with_the_same_bytes(frame, fmt, monkeypatch):
    big = pd.concat([frame] * 5, ignore_index=True)
    big["segment"] = pd.Categorical(["At risk", "Loyal", "=x"] * 11 + ["Loyal", "New"])
    big.columns = ["customer id", "revenue", "when, day", "segment"]  # a header that needs quoting
    whole = to_bytes(big, OutputSpec(fmt, bom=True))
    monkeypatch.setattr(writers, "CSV_SLICE_ROWS", 4)  # 35 rows: 9 slices, several in flight
    sliced = to_bytes(big, OutputSpec(fmt, bom=True))
    assert sliced == whole
    assert sliced.count(b"customer id") == 1 and len(sliced.splitlines()) == 36


# --- the terminal table ---------------------------------------------------------------------


def _render(shown, width: int) -> list[str]:
    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(shown.table)
    return console.export_text().splitlines()


def test_wrap_header_breaks_after_underscores():
    from userops.render.table import wrap_header

    assert wrap_header("conversion_from_previous", 10) == "conversion_\nfrom_\nprevious"
    assert wrap_header("median_time_from_previous_s", 10) == "median_\ntime_from_\nprevious_s"
    assert wrap_header("users", 10) == "users"


def test_terminal_table_fits_or_names_what_it_leaves_out():
    """A table wider than the terminal wraps its long headers, never cuts numbers, and leaves
    out whole columns from the right (named) instead of cropping the edge."""
    from rich.cells import cell_len

    from userops.render.table import rich_table

    frame = pd.DataFrame(
        {
            "segment": ["重要价值客户", "Champions"],  # CJK: two terminal cells a character
            "customers": [1507, 3],
            "conversion_from_previous": [0.795, 0.5],
            "median_time_from_previous_s": [303.0, 60.0],
            "action": ["重点维护：VIP 权益、专属客服、新品优先体验", "Reward them: early access, loyalty perks"],
        }
    )
    wide = rich_table(frame, width=200)
    lines = _render(wide, 200)
    assert wide.hidden == [] and "conversion_from_previous" in lines[1]  # room: one header line
    for width in (120, 80, 60, 45):
        shown = rich_table(frame, width=width)
        lines = _render(shown, width)
        assert max(cell_len(line) for line in lines) <= width
        assert all(line.endswith(("┃", "│", "┓", "┩", "┛", "┘", "┐")) for line in lines)  # right edge drawn
        text = "\n".join(lines)
        assert "1,507" in text and "重要价值客户" in text  # numbers and short labels whole
        assert shown.hidden == list(frame.columns[len(frame.columns) - len(shown.hidden):])
    narrow = "\n".join(_render(rich_table(frame, width=80), 80))
    assert rich_table(frame, width=80).hidden == [] and "Reward them: early ac…" in narrow  # long text: ellipsis
    assert "time_from_" in narrow and "previous_s" in narrow  # headers wrapped, not cut
    assert rich_table(frame, width=60).hidden == ["action"]
    assert rich_table(frame, width=45).hidden == ["median_time_from_previous_s", "action"]


def test_xlsx_shows_ratios_as_percent_and_keeps_the_values(tmp_path):
    """A manager opening the workbook sees 79.5%; the cell still holds 0.7952 (a number)."""
    import openpyxl

    frame = pd.DataFrame(
        {
            "step": [1, 2],
            "conversion_from_previous": [1.0, 0.7952],
            "repeat_rate": [0.425, None],
            "period_1": [0.1367, 0.1246],  # a ratio only the caller knows about
            "rate": ["n/a", "n/a"],  # text under a ratio name stays text
            "revenue": [10.5, 3.0],
        }
    )
    data = writers.xlsx_bytes({"data": frame}, ratios=("period_1",))
    path = tmp_path / "r.xlsx"
    path.write_bytes(data)
    rows = list(openpyxl.load_workbook(path).active.iter_rows())
    second = {h.value: c for h, c in zip(rows[0], rows[2])}
    assert second["conversion_from_previous"].value == 0.7952 and second["conversion_from_previous"].number_format == "0.0%"
    assert second["period_1"].value == 0.1246 and second["period_1"].number_format == "0.0%"
    assert second["repeat_rate"].value is None
    assert rows[1][2].number_format == "0.0%"  # repeat_rate 0.425
    assert second["rate"].value == "n/a" and second["rate"].number_format == "General"
    assert second["revenue"].number_format == "General" and second["step"].number_format == "General"


def test_outputs_respect_the_umask_and_keep_a_replaced_files_mode(examples_dir, tmp_path):
    """umask 022 gives a 0644 file (a colleague or the web server can read the cron report); a
    file replaced keeps its mode; a private umask gives a private file."""
    import os
    import stat

    from typer.testing import CliRunner

    from userops.cli.app import app

    def write(path, mask):
        old = os.umask(mask)
        try:
            result = CliRunner().invoke(app, ["profile", f"{examples_dir}/orders.csv", "-q", "-o", str(path)])
        finally:
            os.umask(old)
        assert result.exit_code == 0, result.stderr
        return stat.S_IMODE(os.stat(path).st_mode)

    assert write(tmp_path / "p.csv", 0o022) == 0o644
    os.chmod(tmp_path / "p.csv", 0o640)
    assert write(tmp_path / "p.csv", 0o022) == 0o640  # replaced: its mode stays
    assert write(tmp_path / "private.csv", 0o077) == 0o600
