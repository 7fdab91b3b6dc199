"""Errors a user can act on: the CLI prints them on one line and exits with status 2."""

from __future__ import annotations

from pathlib import Path


class MedinjectError(Exception):
    """A problem with the user's input or settings, reported without a traceback."""


class InputError(MedinjectError):
    """Bad input at a known place: file, line or record, and field."""

    def __init__(self, path: str | Path | None, message: str, *, line: int | None = None,
                 record: str | None = None, field: str | None = None):
        self.path, self.line, self.record, self.field = path, line, record, field
        where = [str(path)] if path is not None else []
        if line is not None:
            where.append(f"line {line}")
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field '{field}'")
        self.where = ": ".join(where)
        super().__init__(f"{self.where}: {message}" if where else message)


class Stopped(BaseException):
    """A run stopped by Ctrl-C or a signal, after cleaning up; the message says how to resume.

    A BaseException, so that no `except Exception` on the way swallows it (nor typer, which turns a
    KeyboardInterrupt into a bare exit status). `exit_code` is the shell's 128 + signal number.
    """

    def __init__(self, message: str = "", signum: int = 2):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + int(signum)


def first_validation_problem(exc) -> tuple[str | None, str]:
    """(field, message) of the first problem in a pydantic ValidationError."""
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ())]
    msg = err.get("msg", str(exc))
    msg = msg.removeprefix("Value error, ")
    field = ".".join(loc) if loc else None
    # Model-level checks name their field at the start of the message ("answer: ...").
    if field is None and ":" in msg:
        head, _, rest = msg.partition(":")
        if head.isidentifier():
            field, msg = head, rest.strip()
    return field, msg
