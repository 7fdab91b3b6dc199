from __future__ import annotations

from pathlib import Path

import typer

from ..backends.options import llm_options
from ..cli_values import fraction


def parse_sets(items: list[str] | None) -> dict:
    """`--set key=value` pairs; values read as YAML (numbers, booleans, lists)."""
    from ..overrides import parse_overrides

    return parse_overrides(items, what="--set")


def register(app: typer.Typer) -> None:
    @app.command("curate")
    @llm_options(prefix="judge", optional=True)
    def curate_cmd(
        inputs: list[Path] = typer.Argument(..., help="Record files (.jsonl or .parquet) of any provenance."),
        out: Path = typer.Option(..., "-o", "--out", help="Output folder: curated.jsonl, rejected.jsonl, "
                                 "report.json, report.md."),
        eval_files: list[Path] = typer.Option(None, "--eval", help="Evaluation records to decontaminate against "
                                              "(repeat the option for several files)."),
        threshold: float = typer.Option(None, "--threshold", callback=fraction,
                                        help="Near-duplicate Jaccard threshold (0.7)."),
        shingle_size: int = typer.Option(None, "--shingle-size", min=1, max=10, help="Words per shingle (2)."),
        no_language: bool = typer.Option(False, "--no-language", help="Skip the language check."),
        workers: int = typer.Option(None, "--workers", min=1, help="Processes for the first pass (default: up to 2)."),
        sets: list[str] = typer.Option(None, "--set", help="Any other setting, key=value (e.g. num_perm=256, "
                                       "eval_ngram=10, max_chars={question: 2000}); repeatable."),
        quality_threshold: float = typer.Option(None, "--quality-threshold", min=1, max=5, help="Reject judged "
                                                "records scoring below this (1 to 5); needs --judge-model, the LLM "
                                                "that scores translated and synthetic records (meta.quality)."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
        report_to: str = typer.Option(None, "--report-to", help="Also log the summary, its config and data "
                                      "hashes to tensorboard (OUT/runs) or wandb (extra 'wandb')."),
        judge_spec=None,
    ) -> None:
        """Filter records (structure, duplicates, language, contamination, optional LLM quality), with reasons."""
        from ..errors import MedinjectError
        from ..io import refuse_overwrite
        from .pipeline import run_curate

        files = judge_spec.files if judge_spec is not None else {}
        refuse_overwrite([*inputs, *(eval_files or ()), *files.get("inputs", ())], [out, files.get("cache")])
        settings = parse_sets(sets)
        for key, value in (("threshold", threshold), ("shingle_size", shingle_size), ("workers", workers),
                           ("quality_threshold", quality_threshold)):
            if value is not None:
                settings[key] = value
        if no_language:
            settings["check_language"] = False
        settings["progress"] = not no_progress
        if judge_spec is None and quality_threshold is not None:
            raise MedinjectError("--quality-threshold needs a judge (--judge-model)")
        report = run_curate(inputs, out, eval_files or (), backend=judge_spec, **settings)
        print_summary(report)
        if report_to:
            from ..tracking import report_run

            report_run(report, report_to, log_dir=out / "runs", name=f"curate-{out.name}")


def print_summary(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from .filters import REASONS

    c = report["counts"]
    table = Table(title=f"curation: {c['input']} in, {c['kept']} kept, {c['rejected']} rejected")
    rows = report["by_origin"]
    reasons = [r for r in REASONS if any(r in row["rejected"] for row in rows.values())]
    for col in ["origin", "input", "kept", *reasons]:
        table.add_column(col, justify="left" if col == "origin" else "right")
    for name, row in rows.items():
        table.add_row(name, str(row["input"]), str(row["kept"]), *(str(row["rejected"].get(r, 0)) for r in reasons))
    Console().print(table)
    for path, n in report["decontamination"]["by_eval_file"].items():
        typer.echo(f"decontamination: {n} training records removed for {path}")
    typer.echo(f"written to {Path(report['outputs']['curated']).parent}")
