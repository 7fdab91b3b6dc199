"""Logging for the command line: module loggers (`logging.getLogger(__name__)`), one stderr handler, -v / -q.

Levels: -q errors only (and no progress bars), default warnings, -v info, -vv debug (third-party loggers too).
Python warnings (`warnings.warn`) go through logging as well, so -q silences them and the format is one.
Progress bars and log lines share stderr; results stay on stdout.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

FLAGS = {"-v": 1, "--verbose": 1, "-vv": 2, "-vvv": 3, "-q": -1, "--quiet": -1}
_state = {"verbosity": 0}
_HANDLER = "medinject-cli"


class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.exc_info and _state["verbosity"] >= 2:
            msg += "\n" + self.formatException(record.exc_info)
        name = record.name.removeprefix("medinject.")
        where = f" [{name}]" if _state["verbosity"] >= 1 else ""
        return f"{record.levelname.lower()}{where}: {msg}"


def setup(verbosity: int = 0) -> None:
    """Configure logging for a command run (safe to call again): our loggers, and py.warnings, on stderr."""
    _state["verbosity"] = verbosity
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Format())
    handler.set_name(_HANDLER)
    # -vv: every library's debug output as well, through the root logger.
    targets = ("",) if verbosity >= 2 else ("medinject", "py.warnings")
    for name in ("", "medinject", "py.warnings"):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if h.get_name() != _HANDLER]
        if name in targets:
            logger.addHandler(handler)
        if name:
            logger.setLevel(level)
    if verbosity >= 2:
        logging.getLogger().setLevel(logging.DEBUG)
    logging.captureWarnings(True)


def verbosity() -> int:
    return _state["verbosity"]


def progress_enabled() -> bool:
    """False under -q: progress bars are hidden with the rest of the chatter."""
    return _state["verbosity"] >= 0


def stderr_console():
    """The console progress bars draw on (stderr, so that stdout carries only results)."""
    from rich.console import Console

    return Console(stderr=True, quiet=not progress_enabled())


def hoist(argv: Sequence[str]) -> list[str]:
    """Move -v/-q given after the verb to the front, so they work anywhere before a `--`."""
    argv = list(argv)
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:end] if a in FLAGS]
    rest = [a for a in argv[:end] if a not in FLAGS]
    return flags + rest + argv[end:]


def level_from(flags: Sequence[str]) -> int:
    return sum(FLAGS[f] for f in flags)
