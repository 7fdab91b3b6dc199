from __future__ import annotations

from pathlib import Path

import typer

from ..backends import options as o
from ..cli_values import comma_list


def register(app: typer.Typer) -> None:
    @app.command("synthesize")
    @o.llm_options
    def synthesize_cmd(
        passages: Path = typer.Argument(..., help="French passages (.jsonl, from `medinject ingest -f e3c|morfitt`)."),
        out: Path = typer.Option(..., "-o", "--out", help="Synthetic records (.jsonl or .parquet)."),
        kinds: str = typer.Option(None, "--kinds", callback=comma_list(), help="Comma-separated task kinds "
                                  "(default: all): mcq, summary, factual, differential, treatment, lab, "
                                  "instructions, and your own."),
        kinds_dir: Path = typer.Option(None, "--kinds-dir", help="Folder of extra kind files (*.yaml)."),
        per_passage: int = typer.Option(1, "--per-passage", min=1, help="Items of each kind per passage."),
        limit: int = typer.Option(None, "--limit", min=1, help="Use only the first N passages."),
        temperature: float = typer.Option(0.7, "--temperature", min=0, help="Sampling temperature."),
        max_tokens: int = typer.Option(None, "--max-tokens", min=1, help="Cap on output tokens (default: per kind)."),
        max_chars: int = typer.Option(None, "--max-chars", min=1, help="Leave out passages longer than this "
                                      "(counted in the summary); for small models."),
        rejected: Path = typer.Option(None, "--rejected", help="Rejected items (default: OUT.rejected.jsonl)."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
        spec=None,
    ) -> None:
        """Write MCQ and open-ended tasks from French passages; check and reject unsupported items."""
        from ..backends.jobs import format_summary
        from ..io import refuse_overwrite
        from .synthesize import run_synthesize

        refuse_overwrite([passages, kinds_dir, *spec.files.get("inputs", ())], [out, rejected, spec.files.get("cache")])
        summary = run_synthesize(passages, out, spec, kinds=kinds.split(",") if kinds else None, kinds_dir=kinds_dir,
                                 per_passage=per_passage, limit=limit, temperature=temperature,
                                 max_tokens=max_tokens, rejected_path=rejected, max_chars=max_chars,
                                 progress=not no_progress)
        typer.echo(format_summary(summary))
