"""`run_experiment`: the entry point behind `medinject run` and `medinject demo`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from .config import load_experiment
from .engine import Runner, Step, format_plan
from .graph import build_nodes
from .runtime import Runtime, workdir_of


def _local_part(nodes) -> list[str]:
    """Nodes that run before the cluster jobs: not SLURM nodes and not downstream of one."""
    remote: set[str] = set()
    for n in nodes:
        if n.slurm or any(d.partition("#")[0] in remote for d in n.deps):
            remote.add(n.name)
    return [n.name for n in nodes if n.name not in remote]


# Stage functions whose keyword arguments `options:` blocks may set, minus what the runner sets itself.
OPTION_TARGETS = {
    "translate": ("medinject.translate:run_translate", {"in_path", "out_path", "backend", "limit"}),
    "synthesize": ("medinject.synthesize:run_synthesize", {"passages_path", "out_path", "backend", "limit"}),
    "mix": ("medinject.mix:run_mix", {"pools", "size", "seed", "out_dir", "configs", "allow_shrink"}),
    "evaluate": ("medinject.evaluate:run_eval", {"model", "data", "out", "adapter", "mode", "permute", "circular",
                                                  "seed", "batch_size", "max_new_tokens", "bertscore_model"}),
    "judge": ("medinject.judge:run_judge", {"prediction_files", "out_dir", "backend", "modes", "lang", "seed",
                                             "n_boot", "backend_kind", "model", "base_url"}),
}


def _allowed_options(target: str, reserved: set[str]) -> set[str] | None:
    import importlib
    import inspect

    module, _, name = target.partition(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None  # the stage is not installed: its own import error will say so when it runs
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return {n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL} - reserved


def _check_options(exp) -> None:
    from .config import error_at

    blocks = [(["translate", i, "options"], j.options, "translate") for i, j in enumerate(exp.translate)]
    blocks += [(["synthesize", i, "options"], j.options, "synthesize") for i, j in enumerate(exp.synthesize)]
    blocks += [(["mix", "options"], exp.mix.options, "mix"),
               (["evaluate", "options"], exp.evaluate.options, "evaluate")]
    if exp.judge:
        blocks.append((["judge", "options"], exp.judge.options, "judge"))
    for loc, options, stage in blocks:
        if not options:
            continue
        allowed = _allowed_options(*OPTION_TARGETS[stage])
        if allowed is None:
            continue
        for key in options:
            if key not in allowed:
                raise error_at(exp, [*loc, key], f"unknown {stage} option; known: {', '.join(sorted(allowed))}")


def check_stage_settings(exp) -> None:
    """Settings the stages validate themselves, checked before anything runs (errors name the YAML line)."""
    from pydantic import ValidationError

    from ..curate.settings import CurateSettings
    from ..errors import InputError
    from .config import error_at
    from .stages import train_config

    try:
        CurateSettings.model_validate(exp.curate.options)
    except ValidationError as e:
        err = e.errors()[0]
        raise error_at(exp, ["curate", "options", *err["loc"]], err["msg"]) from None
    _check_options(exp)
    try:
        train_config(exp, None, ["train.jsonl"], "out")
    except InputError as e:
        field = f"train.overrides.{e.field}" if e.field else "train.overrides"
        if e.field and e.field.split(".")[0] in ("model",):
            field = f"train.{e.field}"
        loc = field.split(".")
        msg = str(e)[len(e.where) + 2:] if e.where else str(e)
        where = f" (from {e.path})" if e.path not in (None, "command line") else ""
        raise error_at(exp, loc, msg + where) from None


def run_experiment(path: str | Path, overrides: Sequence[str] = (), *, workdir: str | Path | None = None,
                   only: Sequence[str] | None = None, start: str | None = None, force: bool = False,
                   dry_run: bool = False, slurm: bool = False, submit: bool = False,
                   log: Callable[[str], None] = print) -> list[Step]:
    """Validate the experiment file, then plan (dry run), run, or prepare SLURM jobs; returns the steps."""
    exp = load_experiment(path, overrides)
    check_stage_settings(exp)
    wd = workdir_of(exp, workdir)
    nodes = build_nodes(exp)
    with Runtime(exp, wd, log=log) as rt:
        runner = Runner(nodes, wd, runtime=rt, log=log)
        if dry_run:
            steps = runner.plan(only, start, force)
            log(f"experiment {exp.name}: work directory {wd}")
            log(format_plan(steps))
            return steps
        if not slurm:
            log(f"experiment {exp.name}: work directory {wd}")
            return runner.run(only, start, force)
        from .slurm import submit as do_submit
        from .slurm import write_scripts

        local = [n for n in _local_part(nodes) if n in runner.select(only, start)]
        if local:
            log("running the local stages before the cluster jobs")
            runner.run(only=local)
        steps = runner.plan(only, start, force)
        script = write_scripts(exp, Path(path), overrides, steps, wd)
        log(f"SLURM scripts written; submit them with: bash {script}")
        if submit:
            log(do_submit(script))
        return steps


def report_path(steps: list[Step]) -> Path | None:
    for s in steps:
        if s.node.stage == "report" and s.state == "cached" and s.dir is not None:
            return s.dir / "report.html"
    return None
