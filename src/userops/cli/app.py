"""The Typer app: global callback, command registration and the single error boundary.

Nothing heavy is imported here: ``userops --help`` must stay fast.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from typing import Annotated, Callable, Optional

import typer
from typer.core import TyperGroup

from userops import __version__
from userops.cli.options import SHARED_NAMES, SHARED_OPTIONS, check_config_types, option_kinds
from userops.errors import UseropsError


class _OneLineErrors(TyperGroup):
    """Typer prints a usage error (a bad option value, an unknown option, a missing file
    argument) as a boxed panel under the usage line; userops prints it like every other error:
    one line, ``userops: error: ...``, exit 2. Everything else is Typer's own handling."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except Exception as exc:
            # click's ClickException (vendored by Typer >= 0.26, plain click before), by shape
            message = getattr(exc, "format_message", None)
            if message is None or not isinstance(getattr(exc, "exit_code", None), int):
                raise
            if type(exc).__name__ == "NoArgsIsHelpError":  # `userops` alone: the help is already out
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            hint = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
            typer.echo(f"userops: error: {message().rstrip('.')}{hint}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="userops",
    help="User-operations analytics for e-commerce: profiles, RFM segments, funnels, retention, churn and reports from CSV exports.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"userops {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = None,
) -> None:
    """userops — user-operations analytics from order and event exports.

    Data goes to stdout (a table on a terminal, CSV in a pipe); notes and errors go to stderr.
    """


def fail(message: str, code: int) -> "typer.Exit":
    from userops.render.formats import printable

    typer.echo(f"userops: error: {printable(message)}", err=True)
    return typer.Exit(code)


def _quiet_broken_pipe() -> None:
    """After a closed pipe (``| head``): point stdout at /dev/null so the exit flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # pragma: no cover - no real fd (CliRunner)
        pass


#: Every command's options (filled as the commands register): the keys userops.toml may use.
KNOWN_OPTIONS: dict[str, type] = {}
#: Keys only the config has (no flag of that name).
CONFIG_ONLY = {"week_start"}


def command(name: str, *, help_panel: str | None = None) -> Callable:
    """Register ``func`` as a command with the shared options and the error boundary.

    ``func`` takes its own options plus ``run: RunContext``; the shared flags are added to its
    signature here, once, and bundled into the RunContext.
    """

    def decorate(func: Callable) -> Callable:
        sig = inspect.signature(func, eval_str=True)  # the modules use `from __future__ import annotations`
        own = [p for p in sig.parameters.values() if p.name != "run"]
        kinds = option_kinds(own + SHARED_OPTIONS)
        KNOWN_OPTIONS.update(kinds)

        @functools.wraps(func)
        def wrapper(**kwargs):
            flags = {k: kwargs.pop(k) for k in SHARED_NAMES}
            debug = bool(flags.get("debug"))
            try:
                from userops.cli.context import RunContext

                run = RunContext.from_flags(name, flags)
                # a top-level key may be another command's option; a key no command has is a typo
                check_config_types(run.config.options, kinds, set(KNOWN_OPTIONS) | CONFIG_ONLY, file=run.config.path)
                try:
                    return func(run=run, **kwargs)
                finally:
                    run.close()
            except UseropsError as err:
                signalled = _signalled_error()
                if signalled is not None:  # a query interrupted by Ctrl-C or SIGTERM, mapped
                    raise signalled from None
                if debug:
                    raise
                raise fail(str(err), err.exit_code) from None
            except BrokenPipeError:
                _quiet_broken_pipe()
                raise typer.Exit(0) from None
            except KeyboardInterrupt:
                raise fail("interrupted", 130) from None
            except (typer.Exit, typer.Abort, SystemExit):
                raise
            except Exception as exc:  # the one place an unexpected error becomes one line
                signalled = _signalled_error()
                if signalled is not None:  # Ctrl-C or SIGTERM inside a query
                    raise signalled from None
                if debug:
                    raise
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise fail(f"internal error: {type(exc).__name__}: {msg} (rerun with --debug for the traceback)", 1) from None

        wrapper.__signature__ = sig.replace(parameters=own + SHARED_OPTIONS)  # type: ignore[attr-defined]
        app.command(name, rich_help_panel=help_panel)(wrapper)
        return func

    return decorate


def _register() -> None:
    # importing the command modules registers them; they import nothing heavy at top level
    from userops.cli.commands import check, churn, demo, funnel, inspect_cmd, ltv, profile, report, retention, segment, uplift  # noqa: F401


_register()


class Terminated(BaseException):
    """SIGTERM (a cron timeout, ``kill``): unwinds like Ctrl-C, so a half-written output's
    temp file is removed on the way out."""


#: the signals received: the exception a handler raises inside a running DuckDB query comes
#: back as DuckDB's own "Query interrupted" error, not as itself
_received: set[int] = set()


def _terminate(signum, frame) -> None:
    _received.add(signum)
    raise Terminated()


def _interrupt(signum, frame) -> None:
    _received.add(signum)
    raise KeyboardInterrupt()


def _signalled_error() -> BaseException | None:
    """What a signal received during the command should end it with, if one was."""
    import signal

    if signal.SIGTERM in _received:
        return Terminated()
    if signal.SIGINT in _received:
        return fail("interrupted", 130)
    return None


def main() -> None:
    """Console-script entry point."""
    import os
    import signal

    # every matrix the models multiply has a dozen columns: BLAS threads would only spin
    # (and each BLAS library's threads spin right after it loads, on a core the engine
    # wants); set before numpy and scipy load their BLAS
    for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    # this process ends with the command: what the libraries make at import is kept to the end
    from userops import imports

    imports.freeze_imports = True
    signal.signal(signal.SIGTERM, _terminate)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when started ignoring it
        signal.signal(signal.SIGINT, _interrupt)
    try:
        app()
    except Terminated:
        sys.stderr.write("userops: error: terminated\n")
        sys.exit(143)
    finally:
        # the process ends here: nothing needs collecting, and the interpreter's last full
        # collection would walk every object the libraries made; the outputs are written and
        # the engines closed by now
        import gc

        gc.freeze()
