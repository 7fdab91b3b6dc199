"""`run_mix`: build the provenance mixtures, each as `OUTDIR/<CONFIG>/train.jsonl` plus `manifest.json`."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import MedinjectError
from ..io import atomic_path, sha256_file, write_json
from ..records import Origin, Task
from ..schemas import schema_id
from .sampler import PoolIndex, default_tasks, draw, index_pools, largest_feasible, plan, read_lines, shortfalls
from .spec import MISSING_POLICY, Leaf, MixSpec, Weights, origin_weights, parse_spec, source_weights

TRAIN_FILE, MANIFEST, PLOT = "train.jsonl", "manifest.json", "composition.png"


def leaf_name(leaf: Leaf) -> str:
    return leaf[0].value if leaf[1] is None else f"{leaf[0].value}/{leaf[1]}"


def _pools(pools: dict[Any, Any]) -> dict[str, list[str]]:
    out = {}
    for origin, paths in pools.items():
        key = origin.value if isinstance(origin, Origin) else str(origin)
        out[key] = [str(p) for p in ([paths] if isinstance(paths, str | Path) else paths)]
    return out


def _shortages(short, index: PoolIndex) -> str:
    parts = [f"pool {leaf_name(leaf)} lacks {need - have:,} {task.value} records ({have:,} available, "
             f"{need:,} needed for {cfg})" for leaf, task, need, have, cfg in sorted(
                 short, key=lambda s: (leaf_name(s[0]), s[1].value))]
    ignored = sum(index.ignored.values())
    note = f"; {ignored:,} records of origins without a pool in those files were ignored" if ignored else ""
    return "; ".join(parts) + note


def _check_pools(index: PoolIndex, configs: dict[str, Weights], pools: dict[Origin, list[Path]],
                 allowed: list[Task]) -> None:
    for name, w in configs.items():
        leaves = [(o, None) for o, _ in origin_weights(w)]
        leaves += [(o, s) for o, sources in source_weights(w).items() for s in sources]
        for leaf in leaves:
            if leaf[0] not in pools:
                raise MedinjectError(f"mix {name} needs a {leaf[0].value} pool (--{leaf[0].value} FILE)")
            if not any(index.available(leaf, t) for t in allowed):
                where = ", ".join(str(p) for p in pools[leaf[0]])
                kinds = "" if len(allowed) == len(Task) else f" of tasks {', '.join(t.value for t in allowed)}"
                raise MedinjectError(f"pool {leaf_name(leaf)} is empty: no such records{kinds} in {where} "
                                     f"(needed by {name})")


def run_mix(pools: dict[Any, Any], size: int, seed: int, out_dir, configs: list[str] | None = None,
            weights: dict[str, Any] | None = None, allow_shrink: bool = False, *,
            tasks: dict[str, float] | None = None, task_types: list[str] | None = None,
            missing_tasks: str = "error", plot: bool = True) -> dict[str, Any]:
    """Build the configurations (default: the paper's seven, plus custom ones in `weights`).

    `pools`: origin -> file(s); a record joins the pool of its own `origin` field, so one curated file may
    serve all three. `weights`: name -> {origin: weight or {source: weight}}. `tasks`: task proportions
    (default: from the smallest common availability). `task_types`: only records of these tasks (the paper:
    mcq and mcqu). `missing_tasks`: what a task some pools have and another lacks does (error, redistribute,
    drop). Returns the combined manifest.
    """
    spec = parse_spec({"size": size, "seed": seed, "pools": _pools(pools), "configs": configs,
                       "weights": weights or {}, "tasks": tasks, "task_types": task_types,
                       "missing_tasks": missing_tasks, "allow_shrink": allow_shrink})
    return run_spec(spec, out_dir, plot=plot)


def run_spec(spec: MixSpec, out_dir, *, plot: bool = True) -> dict[str, Any]:
    out_dir = Path(out_dir)
    configs = spec.resolved()
    pools = {o: [Path(p) for p in paths] for o, paths in spec.pools.items()}
    index = index_pools(pools)
    allowed = spec.allowed_tasks
    _check_pools(index, configs, pools, allowed)
    if spec.tasks:
        tasks, lacking = dict(spec.tasks), {}
    else:
        tasks, lacking = default_tasks(index, configs, allowed, spec.missing_tasks)
    total = sum(tasks.values())
    if total <= 0:
        raise MedinjectError(f"no task type ({', '.join(t.value for t in allowed)}) is available in every pool the "
                             "mixes use")
    tasks = {t: tasks.get(t, 0.0) / total for t in Task}
    redistribute = spec.missing_tasks == "redistribute"
    size, shrink_reason = spec.size, None
    short = shortfalls(index, configs, size, tasks, redistribute)
    if short:
        feasible = largest_feasible(index, configs, size, tasks, redistribute)
        why = _shortages(short, index)
        if not spec.allow_shrink or feasible == 0:
            hint = (f"; allow shrinking (--allow-shrink) to build every mix with N={feasible:,}" if feasible
                    else "; no common size is possible")
            raise MedinjectError(f"not enough records for N={size:,}: {why}{hint}")
        size, shrink_reason = feasible, f"N shrunk from {size:,} to {feasible:,}: {why}"
    hashes = {p: sha256_file(p) for p in index.files}
    inputs = [{"path": str(p), "sha256": hashes[p], "records_used": index.used[i],
               "records_ignored": index.ignored[i], "lines_repeated": index.repeated[i]}
              for i, p in enumerate(index.files)]
    spec_out = spec.model_dump(mode="json") | {"tasks": {t.value: round(p, 6) for t, p in tasks.items()}}
    excluded = {t.value: sum(index.available((o, None), t) for o in Origin) for t in Task if t not in allowed}
    composition_rule = {
        "task_types": [t.value for t in allowed],
        "excluded_tasks": {k: v for k, v in excluded.items() if v},  # records left out of every pool
        "shares": "given in the spec" if spec.tasks else "smallest common availability",
        "missing_tasks": spec.missing_tasks, "missing_tasks_means": MISSING_POLICY[spec.missing_tasks],
        "lacking": lacking,  # task -> origins without it
    }
    manifests = {}
    validated: set = set()
    for name, w in configs.items():
        counts = plan(index, size, tasks, w, redistribute)
        files, offsets, sources, strata = draw(index, counts, spec.seed, name)
        lines = read_lines(index, files, offsets, validated)
        path = out_dir / name / TRAIN_FILE
        digest = hashlib.sha256()
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            for line in lines:
                f.write(line)
                digest.update(line)
        by_source = Counter(index.sources[s] for s in sources.tolist())
        manifest = {
            "schema": schema_id("mix.manifest"),
            "name": name, "size": len(lines), "requested_size": spec.size, "shrunk": shrink_reason is not None,
            "shrink_reason": shrink_reason, "seed": spec.seed,
            "weights": {o.value: x if not isinstance(x, dict) else dict(sorted(x.items())) for o, x in w.items()},
            "task_proportions": {t.value: round(p, 6) for t, p in tasks.items()},
            "task_composition": {**composition_rule, "counts": _count(Counter(t.value for _, t in strata)),
                                 "by_origin": {o.value: _count(Counter(t.value for leaf, t in strata if leaf[0] is o))
                                               for o in Origin if any(leaf[0] is o for leaf, _ in strata)}},
            "counts": {
                "origin": _count(Counter(leaf[0].value for leaf, _ in strata)),
                "source": _count(by_source),
                "task": _count(Counter(t.value for _, t in strata)),
                "stratum": {f"{leaf_name(leaf)}/{t.value}": n for (leaf, t), n in counts.items() if n},
            },
            "inputs": inputs,
            "output": {"file": TRAIN_FILE, "sha256": digest.hexdigest(), "records": len(lines)},
            "spec": spec_out,
        }
        write_json(out_dir / name / MANIFEST, manifest)
        manifests[name] = manifest
    summary = {"schema": schema_id("mix.manifest"),
               "size": size, "requested_size": spec.size, "shrunk": shrink_reason is not None,
               "shrink_reason": shrink_reason, "seed": spec.seed, "task_composition": composition_rule,
               "configs": manifests}
    if plot and manifests:
        summary["plot"] = str(plot_composition(manifests, out_dir / PLOT))
    write_json(out_dir / MANIFEST, summary)
    return summary


def _count(c: Counter) -> dict[str, int]:
    return {k: c[k] for k in sorted(c)}


def plot_composition(manifests: dict[str, dict], path: Path) -> Path:
    """Stacked bars per configuration: records by origin (left) and by task type (right)."""
    from ..plotting import new_figure, save_png

    names = list(manifests)
    fig, axes = new_figure(figsize=(max(8, 0.8 * len(names) * 2), 4), ncols=2, dpi=100, sharey=True)
    for ax, key, cats in ((axes[0], "origin", [o.value for o in Origin]), (axes[1], "task", [t.value for t in Task])):
        bottom = [0] * len(names)
        for cat in cats:
            vals = [manifests[n]["counts"][key].get(cat, 0) for n in names]
            if any(vals):
                ax.bar(names, vals, bottom=bottom, label=cat)
                bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.set_title(f"records by {key}")
        # Below the bars, never over them.
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=len(cats), frameon=False)
        ax.tick_params(axis="x", rotation=45)
    axes[0].set_ylabel("records")
    fig.tight_layout()
    return save_png(fig, path, dpi=100)
