from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        results: Path = typer.Argument(..., help="An experiment work directory (with results.json), or a folder "
                                       "of evaluation folders (each with summary.json and predictions.jsonl)."),
        out: Path = typer.Option(..., "-o", "--out", help="Folder for report.html, report.md, CSV and PNG files."),
        title: str = typer.Option("medinject report", help="Title of the page."),
        baseline: str = typer.Option("base", help="Configuration every other is tested against."),
        reference: str = typer.Option("NAT", help="Second reference for the paired tests."),
        n_boot: int = typer.Option(1000, min=1, help="Resamples of the paired tests."),
        seed: int = typer.Option(0, help="Seed of the paired tests."),
    ) -> None:
        """The paper's tables and plots from stage outputs: offline HTML, Markdown, CSV and PNG."""
        from ..io import refuse_overwrite
        from . import build_report, load_index

        index = load_index(results)
        folders = [*index["evaluations"].values(), *(index[k] for k in ("judge", "agreement", "mix", "curate"))]
        # The work directory itself may hold the report folder; the stage folders it names may not.
        refuse_overwrite([results if results.is_file() else results / "results.json", *folders], [out])
        written = build_report(index, out, title=title, baseline=baseline, reference=reference,
                               n_boot=n_boot, seed=seed)
        typer.echo(f"report: {written['html']} ({len(written['csv'])} CSV tables, {len(written['png'])} plots)")
