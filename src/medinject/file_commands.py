"""Verbs on record files: validate, stats, export."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

SHOWN_PROBLEMS = 20


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate_cmd(
        files: list[Path] = typer.Argument(..., help="Records or passages files (.jsonl, or .parquet records)."),
        kind: str = typer.Option("auto", help="records, passages, or auto (from the first row)."),
    ) -> None:
        """Check files whole; exit 2 listing every problem (the first 20 shown) if any."""
        from .validate import validate_file

        failed = False
        for path in files:
            report = validate_file(path, kind)  # type: ignore[arg-type]
            if report.ok:
                typer.echo(f"{path}: {report.rows} {report.kind}, all valid")
                continue
            failed = True
            for p in report.problems[:SHOWN_PROBLEMS]:
                print(p, file=sys.stderr)
            hidden = len(report.problems) - SHOWN_PROBLEMS
            more = f" ({hidden} more not shown)" if hidden > 0 else ""
            print(f"{path}: {len(report.problems)} problem(s) in {report.bad} of {report.rows} rows{more}",
                  file=sys.stderr)
        if failed:
            raise typer.Exit(2)

    @app.command("stats")
    def stats_cmd(
        files: list[Path] = typer.Argument(..., help="Records files (or passages files) read together."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
        out: Path = typer.Option(None, "-o", "--out", help="Also write the statistics to this JSON file."),
    ) -> None:
        """Counts by origin, source, task, split and language, and length percentiles (characters)."""
        import json

        from .io import write_json
        from .stats import file_stats, render

        stats = file_stats(files)
        if out:
            write_json(out, stats)
        if as_json:
            typer.echo(json.dumps(stats, ensure_ascii=False, indent=2))
        else:
            render(stats)

    @app.command("export")
    def export_cmd(
        file: Path = typer.Argument(..., help="Records file (.jsonl or .parquet)."),
        to: str = typer.Option(..., "--to", help="medinjection (the published MedInjection-FR layouts) or "
                               "reference-eval."),
        out: Path = typer.Option(..., "-o", "--out", help="medinjection: a new folder (component JSON sets and "
                                 "merged Parquet) or one merged .parquet file; reference-eval: .json or .jsonl."),
    ) -> None:
        """Write records in the published MedInjection-FR layouts or the reference evaluation JSON."""
        from .export import run_export

        n = run_export(file, to, out)
        typer.echo(f"{n} records written to {out} ({to} layout)")
