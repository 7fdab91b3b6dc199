"""Verbs on record files: validate, stats, export."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from .cli_values import ExportLayout, FileKind

SHOWN_PROBLEMS = 20


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate_cmd(
        files: list[Path] = typer.Argument(..., help="Records or passages files (.jsonl, or .parquet records)."),
        kind: FileKind = typer.Option("auto", help="What the files hold; auto: from the first row."),
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

        from .io import refuse_overwrite, write_json
        from .stats import file_stats, render

        refuse_overwrite(files, [out])
        stats = file_stats(files)
        if out:
            write_json(out, stats)
        if as_json:
            typer.echo(json.dumps(stats, ensure_ascii=False, indent=2))
        else:
            render(stats)

    @app.command("track")
    def track_cmd(
        files: list[Path] = typer.Argument(..., help="Stage JSON artifacts: eval or judge summary.json, curate "
                                           "report.json, mix or train manifest.json, agreement.json."),
        report_to: str = typer.Option("tensorboard", "--report-to", help="tensorboard, wandb (extra 'wandb'), "
                                      "or both comma-separated."),
        log_dir: Path = typer.Option(Path("runs"), "--log-dir", help="TensorBoard log folder (W&B: its dir)."),
        project: str = typer.Option(None, "--project", help="W&B project (default: medinject)."),
    ) -> None:
        """Log finished stage summaries to an experiment tracker, with their config and data hashes."""
        from .io import read_json
        from .tracking import report_run

        for path in files:
            summary = read_json(path)
            name = f"{path.parent.name}-{path.stem}" if path.parent.name else path.stem
            for where in report_run(summary, report_to, log_dir=log_dir, name=name, project=project):
                typer.echo(f"{path} -> {where}")

    @app.command("export")
    def export_cmd(
        file: Path = typer.Argument(..., help="Records file (.jsonl or .parquet)."),
        to: ExportLayout = typer.Option(..., "--to", help="medinjection (the published MedInjection-FR "
                              "layouts), reference-eval, hf (datasets folder for push_to_hub) or lm-eval (tasks)."),
        out: Path = typer.Option(..., "-o", "--out", help="medinjection: a new folder (component JSON sets and "
                                 "merged Parquet) or one merged .parquet file; reference-eval: .json or .jsonl; "
                                 "hf, lm-eval: a new folder."),
    ) -> None:
        """Write records in the published MedInjection-FR layouts or the reference evaluation JSON."""
        from .export import run_export
        from .io import refuse_overwrite

        refuse_overwrite([file], [out])
        n = run_export(file, to, out)
        typer.echo(f"{n} records written to {out} ({to} layout)")
