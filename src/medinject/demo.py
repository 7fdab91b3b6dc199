"""`medinject demo`: the whole pipeline, as far as it exists, on the sample data shipped in the package.

The demo is a list of small steps; a stage adds itself by appending a step function to `STEPS`.
Each step gets the shared `Demo` state and returns one line saying what it did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import typer

from .mix.demo_step import curate_and_mix

SAMPLE_PACKAGE_DIR = ("data", "sample")
PASSAGES_FILE = "passages.jsonl"


@dataclass
class Demo:
    workdir: Path
    sample: Path  # folder of the sample .jsonl files
    records: list[Path] = field(default_factory=list)  # sample records files, validated
    passages: list[Path] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # what steps produced, for the steps after them


Step = Callable[[Demo], str]


def sample_dir() -> Path:
    """The sample data folder inside the installed package."""
    return Path(str(resources.files("medinject").joinpath(*SAMPLE_PACKAGE_DIR)))


def validate_samples(demo: Demo) -> str:
    from .errors import MedinjectError
    from .validate import validate_file

    files = sorted(demo.sample.glob("*.jsonl"))
    if not files:
        raise MedinjectError(f"no sample data in {demo.sample}")
    lines = []
    for f in files:
        report = validate_file(f)
        if not report.ok:
            raise MedinjectError(f"sample file {f.name} is invalid: {report.problems[0]}")
        (demo.passages if report.kind == "passages" else demo.records).append(f)
        lines.append(f"{f.stem} {report.rows}")
    return f"validated {len(files)} sample files ({', '.join(lines)})"


def write_stats(demo: Demo) -> str:
    from .io import write_json
    from .stats import file_stats

    stats = file_stats(demo.records)
    out = write_json(demo.workdir / "stats" / "records.json", stats)
    if demo.passages:
        write_json(demo.workdir / "stats" / "passages.json", file_stats(demo.passages))
    origins = ", ".join(f"{k} {v}" for k, v in stats["counts"]["origin"].items())
    demo.outputs["stats"] = out
    return f"stats of {stats['n']} records ({origins}) -> {out}"


def build_model(demo: Demo) -> str:
    from .toymodel import build_toy_model

    out = build_toy_model(demo.workdir / "toy-model", size="tiny")
    demo.outputs["model"] = out
    return f"tiny random Qwen3 toy model -> {out}"


def export_layouts(demo: Demo) -> str:
    from .export import export_records
    from .io import load_records

    records = [r for f in demo.records for r in load_records(f)]
    hub = demo.workdir / "export" / "medinjection.jsonl"
    ref = demo.workdir / "export" / "reference-eval.json"
    export_records(records, "medinjection", hub)
    export_records(records, "reference-eval", ref)
    demo.outputs["export"] = {"medinjection": hub, "reference-eval": ref}
    return f"exported {len(records)} records -> {hub}, {ref}"


STEPS: list[Step] = [validate_samples, write_stats, build_model, export_layouts, curate_and_mix]


def run_demo(workdir: str | Path = "runs/demo", steps: list[Step] | None = None,
             echo: Callable[[str], None] = print, sample: str | Path | None = None) -> Demo:
    demo = Demo(workdir=Path(workdir), sample=Path(sample) if sample else sample_dir())
    demo.workdir.mkdir(parents=True, exist_ok=True)
    for i, step in enumerate(steps if steps is not None else STEPS, start=1):
        start = time.perf_counter()
        line = step(demo)
        echo(f"[{i}] {step.__name__}: {line} ({time.perf_counter() - start:.1f} s)")
    return demo


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        workdir: Path = typer.Option(Path("runs/demo"), "--workdir", help="Folder for everything the demo writes."),
    ) -> None:
        """Run every stage that exists on the sample data shipped in the package."""
        demo = run_demo(workdir, echo=typer.echo)
        typer.echo(f"demo done: outputs in {demo.workdir}")
