"""`run_experiment`: the entry point behind `medinject run` and `medinject demo`."""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .config import load_experiment
from .engine import Runner, Step, format_plan
from .graph import build_nodes
from .runtime import Runtime, workdir_of
from .stopping import Stopped, signal_name, stop_on_signals


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


def _allowed_options(target: str, reserved: set[str]) -> tuple[dict[str, Any], bool] | None:
    """(option name -> its type, `Any` where the stage gives none; whether other names pass too), or None."""
    import importlib
    import inspect
    import typing

    module, _, name = target.partition(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None  # the stage is not installed: its own import error will say so when it runs
    params = inspect.signature(fn).parameters
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation that does not resolve: check names only
        hints = {}
    named = {n: hints.get(n, Any) for n, p in params.items()
             if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD) and n not in reserved}
    return named, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _option_problem(key: str, value: Any, hint: Any) -> str | None:
    from pydantic import TypeAdapter, ValidationError

    from ..cli_values import value_problem
    from ..errors import first_validation_problem

    if hint is not Any:
        try:
            TypeAdapter(hint).validate_python(value)
        except ValidationError as e:
            return f"{first_validation_problem(e)[1]} (got {value!r})"
        except Exception:  # a type pydantic cannot check: the stage will
            pass
    return value_problem(key, value)


def _check_options(exp) -> None:
    from ..cli_values import value_problem
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
        found = _allowed_options(*OPTION_TARGETS[stage])
        if found is None:
            continue
        allowed, takes_more = found
        for key, value in options.items():
            if key not in allowed and not takes_more:
                raise error_at(exp, [*loc, key], f"unknown {stage} option; known: {', '.join(sorted(allowed))}")
            problem = _option_problem(key, value, allowed.get(key, Any))
            if problem:
                raise error_at(exp, [*loc, key], problem)
    for name, b in exp.backends.items():
        for key, value in b.options.items():
            problem = value_problem(key, value)
            if problem:
                raise error_at(exp, ["backends", name, "options", key], problem)


def _check_sources(exp) -> None:
    """Every local input exists before the first stage starts (a hub id is looked up when its stage runs)."""
    from ..errors import MedinjectError
    from .config import HUB_FORMATS, error_at
    from .runtime import resolve_path

    paths = [(["sources", i, "path"], s.path, s.format in HUB_FORMATS) for i, s in enumerate(exp.sources)]
    if exp.judge and exp.judge.experts:
        paths.append((["judge", "experts"], exp.judge.experts, False))
    for loc, p, hub_ok in paths:
        try:
            path = resolve_path(exp, p)
        except MedinjectError as e:
            raise error_at(exp, loc, str(e)) from None
        if not path.exists() and not hub_ok:
            raise error_at(exp, loc, f"{p}: file not found" + (f" ({path})" if str(path) != p else ""))


def _check_mix(exp) -> None:
    from pydantic import ValidationError

    from ..mix.spec import MixSpec
    from .config import error_at

    opts = exp.mix.options
    try:
        MixSpec.model_validate({"size": exp.mix.size, "weights": opts.get("weights") or {},
                                "tasks": opts.get("tasks")})
    except ValidationError as e:
        err = e.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        raise error_at(exp, ["mix", "options", *err["loc"]], msg) from None


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
    _check_sources(exp)
    _check_options(exp)
    _check_mix(exp)
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
                   log: Callable[[str], None] = print, resume_command: str | None = None) -> list[Step]:
    """Validate the experiment file, then plan (dry run), run, or prepare SLURM jobs; returns the steps.

    Stopped by Ctrl-C or SIGTERM, it stops every server and worker it started, keeps the finished nodes and
    raises `Stopped` saying how far it got and how to resume (`resume_command`, by default the `run` line).
    """
    import shlex

    exp = load_experiment(path, overrides)
    check_stage_settings(exp)
    wd = workdir_of(exp, workdir)
    nodes = build_nodes(exp)
    runner = Runner(nodes, wd, log=log)
    try:
        with stop_on_signals():
            return _run(exp, Path(path), overrides, wd, nodes, runner, only=only, start=start, force=force,
                        dry_run=dry_run, slurm=slurm, submit=submit, log=log)
    except (KeyboardInterrupt, Stopped) as e:
        if resume_command is None:
            args = ["medinject", "run", str(path), *overrides, *(["--workdir", str(workdir)] if workdir else [])]
            resume_command = shlex.join(args)
        try:
            steps = runner.plan(only, start)
            kept = f"{sum(s.state == 'cached' for s in steps)} of {len(steps)} nodes are done and kept in {wd}"
        except Exception:  # the count is a courtesy; the resume line must come out whatever happens
            kept = f"finished nodes are kept in {wd}"
        raise Stopped(f"stopped by {signal_name(e)}; every server and worker the run started is stopped; "
                      f"{kept}; resume with: {resume_command}", signum=getattr(e, "signum", signal.SIGINT)) from None


def _run(exp, path: Path, overrides, wd: Path, nodes, runner: Runner, *, only, start, force, dry_run, slurm,
         submit, log) -> list[Step]:
    with Runtime(exp, wd, log=log) as rt:
        runner.runtime = rt
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
        script = write_scripts(exp, path, overrides, steps, wd)
        log(f"SLURM scripts written; submit them with: bash {script}")
        if submit:
            log(do_submit(script))
        return steps


def report_path(steps: list[Step]) -> Path | None:
    for s in steps:
        if s.node.stage == "report" and s.state == "cached" and s.dir is not None:
            return s.dir / "report.html"
    return None
