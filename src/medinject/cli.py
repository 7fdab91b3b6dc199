"""One verb per stage. Each stage package exposes `register(app)` in its own `commands.py`."""

from __future__ import annotations

import importlib
import sys

import typer

from . import __version__
from .errors import MedinjectError, Stopped

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


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"medinject {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print the version and exit."),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More messages on stderr (-vv: debug)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Errors only: no warnings, no progress bars."),
) -> None:
    """French biomedical instruction data: ingest, translate, synthesize, curate, mix, train, evaluate, report.

    -v/-q are accepted before or after the verb."""
    from .logs import setup

    setup(-1 if quiet else verbose)


_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    _registered = True


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _usage_message(e: typer.TyperException) -> str:
    """`error: <message> (try 'medinject ingest --help')` on one line; the message names the option as typed."""
    ctx = getattr(e, "ctx", None)
    hint = f" (try '{ctx.command_path} --help')" if ctx is not None else ""
    return f"error: {_one_line(e.format_message()).replace('Value error, ', '')}{hint}"


def _new_outputs(action: str) -> None:
    """`io.discard_new_outputs` (a refused input leaves no empty folder, file or database behind) or
    `io.forget_new_outputs`, when a verb has loaded `medinject.io` at all (--help never does)."""
    io = sys.modules.get("medinject.io")
    if io is not None:
        getattr(io, f"{action}_new_outputs")()


def main(argv: list[str] | None = None) -> int:
    _register()
    from .logs import hoist

    _new_outputs("forget")  # a verb run before in this process is no concern of this one
    try:
        rv = app(args=hoist(sys.argv[1:] if argv is None else argv), standalone_mode=False, prog_name="medinject")
        code = rv if isinstance(rv, int) else 0
    except MedinjectError as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
        _new_outputs("discard")
    except OSError as e:  # unreadable input, unwritable output, full disk: the user's to fix, not a bug
        print(f"error: {f'{e.filename}: ' if e.filename else ''}{e.strerror or e}", file=sys.stderr)
        code = 2
        _new_outputs("discard")
    except typer.Exit as e:
        code = e.exit_code
    # typer >= 0.26 vendors click: its usage errors are `typer.TyperException`s (exit_code 2), and catching
    # `click` exceptions catches nothing. The class names below are not public API, hence the bound on typer.
    except typer.TyperException as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # a bare `medinject` or `medinject annotate`: the help
            typer.echo(e.format_message())
            code = 0
        else:
            print(_usage_message(e), file=sys.stderr)
            code = e.exit_code if e.exit_code else 2
    except typer.Abort:
        print("aborted", file=sys.stderr)
        code = 130
    except Stopped as e:  # `run` and `demo` stopped by Ctrl-C or SIGTERM, after stopping what they started
        print(f"error: {e}", file=sys.stderr)
        code = e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
