from __future__ import annotations

from pathlib import Path

import typer

from ..cli_values import comma_list


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        experiment: Path = typer.Argument(..., help="Experiment YAML (e.g. configs/paper.yaml)."),
        overrides: list[str] = typer.Argument(None, help="Overrides as key.sub=value (e.g. evaluate.permute=5)."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (what runs, what is cached)."),
        only: str = typer.Option(None, "--only", callback=comma_list(), help="Comma-separated stages or nodes "
                                  "to run (e.g. evaluate,report)."),
        start: str = typer.Option(None, "--from", help="Run this stage (or node) and everything after it."),
        force: bool = typer.Option(False, "--force", help="Rerun the selected nodes even when they are done."),
        workdir: Path = typer.Option(None, "--workdir", help="Where stage outputs go (default: the file's workdir)."),
        slurm: bool = typer.Option(False, "--slurm", help="Run local stages, then write sbatch scripts for "
                                   "train and evaluate (accelerate launch, chained with dependencies)."),
        submit: bool = typer.Option(False, "--submit", help="With --slurm: submit the scripts with sbatch."),
    ) -> None:
        """Run a study from one YAML: ingest, translate, synthesize, curate, mix, train, evaluate, judge, report."""
        from .run import report_path, run_experiment

        # Ctrl-C and `kill` (SIGTERM) stop every server and worker the run started and say how to resume.
        steps = run_experiment(experiment, overrides or [], workdir=workdir,
                               only=[x.strip() for x in only.split(",") if x.strip()] if only else None,
                               start=start, force=force, dry_run=dry_run, slurm=slurm, submit=submit,
                               log=typer.echo)
        if not dry_run and not slurm:
            html = report_path(steps)
            typer.echo(f"report: {html}" if html else "done")
