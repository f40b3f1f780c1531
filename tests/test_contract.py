"""Contract tests every data command must pass (csvkit-style): missing input -> 66, empty ->
65, unusable columns -> 65, each as one stderr line without a traceback; stdout only data."""

import pytest
from typer.testing import CliRunner

from userops.cli.app import app

COMMANDS = {
    "profile": [],
    "segment": [],
    "funnel": ["--steps", "a,b"],
    "retention": [],
    "churn": [],
    "report": ["-o", "r.html"],
    "inspect": [],
}


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_clean_line(result):
    lines = result.stderr.strip().splitlines()
    return len(lines) == 1 and lines[0].startswith("userops: error: ") and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_missing_input(command, tmp_path):
    result = run(command, tmp_path / "missing.csv", *COMMANDS[command])
    assert result.exit_code == 66 and one_clean_line(result) and result.stdout == ""


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_empty_input(command, write):
    result = run(command, write("empty.csv", ""), *COMMANDS[command])
    assert result.exit_code == 65 and one_clean_line(result) and result.stdout == ""


@pytest.mark.parametrize("command", ["profile", "segment", "funnel", "retention", "churn", "report"])
def test_unusable_columns(command, write):
    result = run(command, write("x.csv", "foo,bar\n1,2\n"), *COMMANDS[command])
    assert result.exit_code == 65 and one_clean_line(result) and "found: foo, bar" in result.stderr


@pytest.mark.parametrize("command", ["profile", "segment", "retention", "churn"])
def test_stdout_is_data_only(command, small_orders):
    # churn's list needs more history than the small shop has: its survival curves do not
    result = run(command, small_orders, "--format", "csv", *(["--survival"] if command == "churn" else []))
    assert result.exit_code == 0
    assert "userops:" not in result.stdout and "dropped" in result.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_option_errors_are_one_line(command, small_orders):
    """A usage error found while parsing the command line (unknown option, a value of the wrong
    type, no input) is one line and exit 2 too, not Typer's boxed panel under the usage."""
    unknown = run(command, small_orders, "--no-such-option", *COMMANDS[command])
    assert unknown.exit_code == 2 and one_clean_line(unknown), unknown.stderr
    assert "--no-such-option" in unknown.stderr and f"userops {command} --help" in unknown.stderr
    missing = run(command)
    assert missing.exit_code == 2 and one_clean_line(missing) and "Missing argument" in missing.stderr


def test_bad_option_value_and_unknown_command_are_one_line(small_orders):
    for args in (["funnel", small_orders, "--repeat", "1"], ["retention", small_orders, "--periods", "x"], ["nosuchcommand"]):
        result = run(*args)
        assert result.exit_code == 2 and one_clean_line(result), result.stderr
    assert "1 is not in the range" in run("funnel", small_orders, "--repeat", "1").stderr
    bare = run()  # no command: the help, as before
    assert bare.exit_code == 2 and "Usage" in bare.stdout + bare.stderr and "Traceback" not in bare.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["funnel", "--steps", "a,b", "--dropped-at", "c"],
        ["funnel", "--steps", "a,b", "--by", "channel", "--trend", "week"],
        ["funnel", "--steps", "a|b,b", "--order", "unordered"],
        ["funnel", "--steps", "a,b,d", "--order", "unordered", "--exclude", "c:1-2"],
        ["churn", "--tier", "extreme"],
        ["segment", "--filter", "Champion"],
        ["segment", "--scheme", "rfm11"],
        ["retention", "--values", "pct"],
        ["profile", "--per", "shop"],
        ["profile", "--tz", "Mars/Olympus"],
        ["funnel", "--steps", "a,b", "--tz", "Nowhere"],
    ],
)
def test_option_errors_come_before_reading_the_data(args, tmp_path):
    """A wrong option value fails at once (exit 2), not after a long read: the input here does
    not even exist, which would be exit 66."""
    result = run(args[0], tmp_path / "missing.csv", *args[1:])
    assert result.exit_code == 2 and one_clean_line(result), result.stderr


@pytest.mark.parametrize("command", ["profile", "segment", "funnel", "retention", "churn", "report"])
def test_output_errors_come_before_reading_the_data(command, tmp_path):
    """A missing output folder, or an output that is an input, fails at once (exit 73), before
    minutes of work: the input here does not even exist, which would be exit 66."""
    extra = [a for a in COMMANDS[command] if a not in ("-o", "r.html")]
    name = "r.html" if command == "report" else "out.csv"
    missing_input = tmp_path / "missing.csv"
    result = run(command, missing_input, *extra, "-o", tmp_path / "no" / "such" / name)
    assert result.exit_code == 73 and one_clean_line(result) and "output folder does not exist" in result.stderr, result.stderr
    dated = run(command, missing_input, *extra, "-o", tmp_path / "no" / ("weekly-{as_of}." + name.split(".")[1]))
    assert dated.exit_code == 73, dated.stderr
    if command != "report":
        assert run(command, missing_input, *extra, "-o", tmp_path / "out.foo").exit_code == 2


def test_report_refuses_to_overwrite_its_events_before_reading(tmp_path, write):
    events = write("events.csv", "user_id,event,timestamp\nu1,view,2024-01-01\n")
    result = run("report", tmp_path / "missing.csv", "--events", events, "-o", events)
    assert result.exit_code == 73 and "is an input file" in result.stderr
