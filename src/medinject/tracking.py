"""Stage summaries to experiment trackers: TensorBoard (default when chosen) or Weights & Biases (extra 'wandb').

Training reports through transformers' own `report_to`; evaluation, judge and curation summaries (and any
schema-stamped artifact, through `medinject track`) come here. Each run gets the summary's numbers as
scalars, plus its configuration and the SHA-256 of every data file it read, so a curve can be traced to data.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import MedinjectError

log = logging.getLogger(__name__)

TRACKERS = ("tensorboard", "wandb")
CONFIG_KEYS = ("settings", "judge", "spec", "config", "trainer_args")
WANDB_EXTRA = "pip install 'medinject[wandb]'"


def parse_report_to(value: str | Sequence[str] | None) -> list[str]:
    """`tensorboard`, `wandb`, both comma-separated, or none."""
    if value is None:
        return []
    names = [v.strip().lower() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    names = [n for n in names if n != "none"]
    bad = [n for n in names if n not in TRACKERS]
    if bad:
        raise MedinjectError(f"--report-to {bad[0]!r}: choose tensorboard, wandb, or none")
    return names


def _flat(obj: Any, prefix: str, out: dict[str, float]) -> None:
    if isinstance(obj, bool):
        return
    if isinstance(obj, int | float):
        out[prefix] = float(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flat(v, f"{prefix}/{k}" if prefix else str(k), out)


def metrics_of(summary: dict[str, Any]) -> dict[str, float]:
    """Scalars by tag: evaluation results as `eval/<source>/<task>/<mode>/<metric>`, other numbers by path."""
    out: dict[str, float] = {}
    results = summary.get("results")
    if isinstance(results, dict):  # a training manifest's final numbers
        _flat(results, "results", out)
    for e in results if isinstance(results, list) else []:
        if isinstance(e, dict) and isinstance(e.get("value"), int | float):
            tag = f"eval/{e.get('source')}/{e.get('task')}/{e.get('mode')}/{e.get('metric')}"
            out[tag] = float(e["value"])
            ci = e.get("ci") or [None, None]
            if all(isinstance(x, int | float) for x in ci):
                out[tag + "/ci_low"], out[tag + "/ci_high"] = float(ci[0]), float(ci[1])
    rest = {k: v for k, v in summary.items() if k not in ("results", "headline", "schema", *CONFIG_KEYS)}
    _flat(rest, "", out)
    return out


def _hashes(obj: Any, out: dict[str, str]) -> None:
    if isinstance(obj, dict):
        if isinstance(obj.get("sha256"), str):
            out[str(obj.get("path") or obj.get("file") or f"file{len(out)}")] = obj["sha256"]
        for v in obj.values():
            _hashes(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _hashes(v, out)


def data_hashes(summary: dict[str, Any], inputs: Iterable[str | Path] = ()) -> dict[str, str]:
    """SHA-256 of every data file: those the summary records, and `inputs` (hashed here)."""
    from .io import sha256_file

    out: dict[str, str] = {}
    _hashes(summary, out)
    for p in inputs:
        p = Path(p)
        p = p / "predictions.jsonl" if p.is_dir() else p
        if p.is_file():
            out.setdefault(str(p), sha256_file(p))
    return out


def config_of(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in CONFIG_KEYS if isinstance(summary.get(k), dict)}


def _tensorboard(log_dir: Path, name: str, kind: str, metrics: dict, config: dict, hashes: dict) -> Path:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise MedinjectError("TensorBoard logging needs torch and tensorboard: pip install 'medinject[train]'") \
            from None
    run_dir = log_dir / name
    with SummaryWriter(log_dir=str(run_dir)) as w:
        for tag, value in metrics.items():
            w.add_scalar(tag, value, global_step=0)
        w.add_text("kind", kind, global_step=0)
        w.add_text("config", "```json\n" + json.dumps(config, indent=2, ensure_ascii=False, default=str) + "\n```",
                   global_step=0)
        w.add_text("data_sha256", "\n".join(f"- `{p}`: `{h}`" for p, h in hashes.items()) or "(none)",
                   global_step=0)
    return run_dir


def _wandb(log_dir: Path, name: str, kind: str, metrics: dict, config: dict, hashes: dict,
           project: str | None) -> str:
    try:
        import wandb
    except ImportError:
        raise MedinjectError(f"W&B tracking needs the wandb extra: {WANDB_EXTRA}") from None
    log_dir.mkdir(parents=True, exist_ok=True)
    run = wandb.init(project=project or "medinject", name=name, job_type=kind, dir=str(log_dir),
                     config={**config, "data_sha256": hashes, "schema": kind})
    try:
        run.summary.update(metrics)
        run.log(metrics)
        return str(getattr(run, "url", None) or run.dir)
    finally:
        run.finish()


def report_run(summary: dict[str, Any], report_to: str | Sequence[str] | None, *, log_dir: str | Path,
               name: str | None = None, inputs: Iterable[str | Path] = (), project: str | None = None) -> list[str]:
    """Send one stage summary to each tracker; returns where each run went."""
    trackers = parse_report_to(report_to)
    if not trackers:
        return []
    if "wandb" in trackers:  # fail before writing anything when the extra is missing
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise MedinjectError(f"W&B tracking needs the wandb extra: {WANDB_EXTRA}") from None
    kind = str(summary.get("schema") or "summary")
    name = name or kind.removeprefix("medinject.").split("/")[0]
    metrics, config, hashes = metrics_of(summary), config_of(summary), data_hashes(summary, inputs)
    where = []
    for t in trackers:
        if t == "tensorboard":
            where.append(str(_tensorboard(Path(log_dir), name, kind, metrics, config, hashes)))
        else:
            where.append(_wandb(Path(log_dir), name, kind, metrics, config, hashes, project))
        log.info("%s: %d scalars, %d data hashes sent to %s", name, len(metrics), len(hashes), t)
    return where
