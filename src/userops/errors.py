"""Typed errors. Library code raises these and never prints; the CLI boundary turns them
into one stderr line and the exit code of SPEC §2."""

from __future__ import annotations

#: The exit code of a finding, not an error: a breached ``check`` rule, a breaking change in an
#: export (``inspect --against``).
EXIT_BREACHED = 3


class UseropsError(Exception):
    """Base error: a message plus where it applies and what to do about it."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"line {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        text = ": ".join([", ".join(where), self.message]) if where else self.message
        if self.hint:
            text += f"; {self.hint}"
        return text


class UsageError(UseropsError):
    """Bad flags or option values (exit 2)."""

    exit_code = 2


class DataError(UseropsError):
    """The data cannot be used: missing required column, nothing parseable (exit 65)."""

    exit_code = 65


class InputError(UseropsError):
    """An input is missing or unreadable (exit 66)."""

    exit_code = 66


class OutputError(UseropsError):
    """The output cannot be written (exit 73)."""

    exit_code = 73
