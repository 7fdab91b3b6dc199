"""One verb per stage. Each stage package exposes `register(app)` in its own `commands.py`."""

from __future__ import annotations

import importlib
import sys

import click
import typer

from .errors import MedinjectError

app = typer.Typer(
    name="medinject", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="French biomedical instruction data: ingest, translate, synthesize, curate, mix, train, evaluate, report.",
)

# Stage command modules, in pipeline order. Heavy imports (torch, transformers) stay inside the commands
# so that `medinject --help` is instant.
COMMAND_MODULES = [
    "medinject.ingest.commands",
    "medinject.file_commands",
    "medinject.toy_commands",
    "medinject.translate.commands",
    "medinject.synthesize.commands",
    "medinject.curate.commands",
    "medinject.mix.commands",
    "medinject.train.commands",
    "medinject.evaluate.commands",
    "medinject.judge.commands",
    "medinject.experiment.commands",
    "medinject.report.commands",
    "medinject.demo",
]


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


def _discard_new_outputs() -> None:
    """A refused input leaves no empty folder, file or database behind (see `io.refuse_overwrite`)."""
    io = sys.modules.get("medinject.io")
    if io is not None:
        io.discard_new_outputs()


def _forget_new_outputs() -> None:
    io = sys.modules.get("medinject.io")
    if io is not None:
        io.forget_new_outputs()


def main(argv: list[str] | None = None) -> int:
    _register()
    _forget_new_outputs()  # a verb run before in this process is no concern of this one
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="medinject")
        return rv if isinstance(rv, int) else 0
    except MedinjectError as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
        _discard_new_outputs()
    except OSError as e:  # unreadable input, unwritable output, full disk: the user's to fix, not a bug
        print(f"error: {f'{e.filename}: ' if e.filename else ''}{e.strerror or e}", file=sys.stderr)
        code = 2
        _discard_new_outputs()
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.ClickException as e:
        e.show()
        code = 2 if isinstance(e, click.UsageError) else e.exit_code
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        code = 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
