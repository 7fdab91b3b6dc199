"""Thin adapters from experiment settings to each stage's public API. Each writes into `ctx.out`.

Files every adapter leaves for the next one: `records.jsonl` (records), `passages.jsonl` (passages);
mix writes one folder per configuration; train an adapter folder; evaluate `predictions.jsonl` and
`summary.json`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

from ..errors import MedinjectError
from ..hashing import canonical_json
from ..io import iter_jsonl, write_jsonl
from ..schemas import stamp
from .config import PASSAGE_FORMATS, Source, SynthesizeJob, TranslateJob
from .engine import Context, digest_tree
from .runtime import resolve_path

RECORDS = "records.jsonl"
PASSAGES = "passages.jsonl"


def _exp(ctx: Context):
    return ctx.runtime.exp


# -------------------------------------------------------------------- ingest --

def ingest(src: Source, ctx: Context) -> dict:
    from ..io import read_passages, read_records, write_jsonl, write_records

    rt = ctx.runtime
    local = rt.path(src.path)
    path = local if local.exists() else Path(src.path)  # a hub id for the medinjection format
    kwargs = {k: v for k, v in {"origin": src.origin, "split": src.split, "source": src.source,
                                "lang": src.lang, "mapping": src.mapping}.items() if v is not None}
    if src.format == "records":
        update = {k: v for k, v in kwargs.items() if k in ("origin", "split", "source", "lang")}
        items = (r.model_copy(update=update) if update else r for r in read_records(path))
    elif src.format == "passages":
        items = read_passages(path)
    else:
        from ..ingest import IngestSummary
        from ..ingest import ingest as run_importer

        summary = IngestSummary()
        items = run_importer(path, src.format, summary=summary, **kwargs)
    if src.tasks and src.format not in PASSAGE_FORMATS:
        tasks = set(src.tasks)
        items = (r for r in items if r.task in tasks)
    if src.limit:
        items = itertools.islice(items, src.limit)
    if src.format in PASSAGE_FORMATS:
        n = write_jsonl(ctx.out / PASSAGES, items)
    else:
        n = write_records(ctx.out / RECORDS, items)
    if n == 0:
        raise MedinjectError(f"source {src.name}: no items in {path}")
    if src.format in ("records", "passages"):
        return {"count": n}
    changes = summary.as_dict()
    changes.pop("items")
    return {"count": n, **changes}


def _records_of(d: Path) -> Path:
    for name in (RECORDS, "train.jsonl", "curated.jsonl"):
        if (d / name).exists():
            return d / name
    found = sorted(p for p in d.glob("*.jsonl") if "reject" not in p.name)
    if not found:
        raise MedinjectError(f"{d}: no records file")
    return found[0]


# ------------------------------------------------------ translate, synthesize --

def translate(job: TranslateJob, ctx: Context) -> dict:
    from ..translate import run_translate

    src = _records_of(ctx.inputs[f"ingest/{job.input}"])
    summary = run_translate(src, ctx.out / RECORDS, backend=ctx.runtime.backend(job.backend),
                            limit=job.limit, **job.options)
    return _small(summary)


def synthesize(job: SynthesizeJob, ctx: Context) -> dict:
    from ..synthesize import run_synthesize

    src = ctx.inputs[f"ingest/{job.passages}"] / PASSAGES
    summary = run_synthesize(src, ctx.out / RECORDS, backend=ctx.runtime.backend(job.backend),
                             limit=job.limit, **job.options)
    return _small(summary)


def _small(summary) -> dict:
    """What goes into the completion marker: counts, not payloads."""
    if not isinstance(summary, dict):
        return {}
    return {k: v for k, v in summary.items() if isinstance(v, int | float | str | dict) and len(str(v)) < 2000}


# ------------------------------------------------------------- curate, mix --

CURATED = "curated.jsonl"


def curate(ctx: Context) -> dict:
    from ..curate.pipeline import run_curate

    exp = _exp(ctx)
    evals = {f"ingest/{n}" for n in exp.evaluate.sets} if exp.curate.decontaminate else set()
    inputs = [_records_of(ctx.inputs[n]) for n in ctx.node.deps if n not in evals]
    backend = ctx.runtime.backend(exp.curate.backend) if exp.curate.backend else None
    report = run_curate(inputs, ctx.out, eval_files=[_records_of(ctx.inputs[n]) for n in sorted(evals)],
                        backend=backend, settings=exp.curate.options)
    return _small({k: v for k, v in report.items() if k in ("counts", "kept", "rejected", "total")})


def curated_view(out: Path) -> str:
    return digest_tree(out, include=[CURATED])


def mix(ctx: Context) -> dict:
    from ..mix import run_mix

    exp = _exp(ctx)
    curated = ctx.inputs["curate"] / CURATED
    # One curated file serves every pool: a record joins the pool of its own origin.
    summary = run_mix({o: curated for o in ("native", "translated", "synthetic")}, exp.mix.size, exp.mix.seed,
                      ctx.out, configs=exp.mix.configs, allow_shrink=exp.mix.shrink, **exp.mix.options)
    return {k: summary.get(k) for k in ("size", "requested_size", "shrunk", "shrink_reason")}


def mix_dir(mix_out: Path, config: str) -> Path:
    return mix_out / config


def mix_view(config: str, out: Path) -> str:
    return digest_tree(mix_dir(out, config))


# -------------------------------------------------------------------- train --

ADAPTER = "adapter"


def train_config(exp, runtime, data: list[str], output_dir: str, eval_data: list[str] | None = None):
    """The training stage's validated config: the recipe file, the experiment's overrides, and the run's paths."""
    from ..train import load_config

    over = {**exp.train.overrides, "model": runtime.model(exp.train.model) if runtime else exp.train.model,
            "data": data, "output_dir": output_dir, "resume": True}
    if eval_data:
        over["eval_data"] = eval_data
    recipe = resolve_path(exp, exp.train.recipe) if exp.train.recipe else None
    return load_config(recipe, over)


def train(config: str, ctx: Context) -> dict:
    from ..train import train as run_train

    exp = _exp(ctx)
    out = ctx.out / ADAPTER
    if (out / "manifest.json").exists():  # finished, then killed before the marker was written
        return {"resumed": False}
    val = [str(_records_of(ctx.inputs[f"ingest/{exp.train.validation}"]))] if exp.train.validation else None
    cfg = train_config(exp, ctx.runtime, [str(_records_of(mix_dir(ctx.inputs["mix"], config)))], str(out), val)
    # `resume: true` continues from the newest complete checkpoint an interrupted run left, or starts afresh.
    resumed = any(out.glob("checkpoint-*"))
    run_train(cfg)
    return {"resumed": resumed}


def adapter_view(out: Path) -> str:
    """Downstream depends on the adapter weights and config only, not on checkpoints or logs."""
    return digest_tree(out / ADAPTER, include=["adapter_model.safetensors", "adapter_config.json"])


# ----------------------------------------------------------------- evaluate --

def evaluate(config: str, ctx: Context) -> dict:
    from ..evaluate import run_eval

    exp = _exp(ctx)
    ev, rt = exp.evaluate, ctx.runtime
    adapter = None if config == "base" else ctx.inputs[f"train/{config}"] / ADAPTER
    data = [_records_of(ctx.inputs[f"ingest/{n}"]) for n in ev.sets]
    kw = dict(ev.options)
    if "bertscore_model" in ev.oeq.model_fields_set:  # else the evaluator's documented default
        kw["bertscore_model"] = rt.model(ev.oeq.bertscore_model) if ev.oeq.bertscore_model else None
    summary = run_eval(rt.model(exp.eval_model), data, ctx.out, adapter=adapter, mode=ev.mode, permute=ev.permute,
                       circular=ev.circular, seed=ev.seed, batch_size=ev.batch_size,
                       max_new_tokens=ev.oeq.max_new_tokens, **kw)
    head = summary.get("headline") or {}
    return {"config": config, "headline_em": head.get("value")}


_OEQ_ANSWER_KEYS = ("id", "source", "reference", "prediction")


def _oeq_lines(out: Path):
    p = out / "predictions.jsonl"
    if not p.exists():
        return
    for _, obj in iter_jsonl(p, allow_empty=True):
        if obj.get("task") == "oeq":
            yield obj


def oeq_view(out: Path) -> str:
    """The open-ended answers only: what the judge reads. Unchanged by multiple-choice settings."""
    h = hashlib.sha256()
    for obj in _oeq_lines(out):
        h.update(canonical_json({k: obj.get(k) for k in _OEQ_ANSWER_KEYS}).encode())
    return h.hexdigest()


def oeq_scores_view(out: Path) -> str:
    """The open-ended answers with their per-item metrics: what agreement reads."""
    h = hashlib.sha256()
    for obj in _oeq_lines(out):
        h.update(canonical_json(obj).encode())
    return h.hexdigest()


# --------------------------------------------------------- judge, agreement --

def judge(configs: list[str], ctx: Context) -> dict:
    from ..judge import run_judge

    exp = _exp(ctx)
    files = {}
    for c in configs:
        lines = list(_oeq_lines(ctx.inputs[f"evaluate/{c}"]))
        if exp.judge.limit:
            keep = list(dict.fromkeys(obj["id"] for obj in lines))[:exp.judge.limit]
            lines = [obj for obj in lines if obj["id"] in keep]
        if lines:  # the open-ended answers of this system, as the judge reads them
            files[c] = ctx.out / "answers" / f"{c}.jsonl"
            write_jsonl(files[c], lines)
    if not files:
        ctx.out.joinpath("summary.json").write_text(json.dumps(stamp("judge.summary", {
            "systems": {}, "note": "no open-ended items"})))
        return {"systems": 0}
    run_judge(files, ctx.out, backend=ctx.runtime.backend(exp.judge.backend), modes=exp.judge.modes,
              lang=exp.judge.lang, seed=exp.report.seed, n_boot=exp.report.n_boot, **exp.judge.options)
    return {"systems": len(files)}


def agreement(configs: list[str], ctx: Context) -> dict:
    from ..judge import run_agreement

    exp = _exp(ctx)
    verdicts = ctx.inputs["judge"] / "verdicts.jsonl"
    # A judge whose every verdict was unparseable (a toy model's) has no scores to correlate.
    judged = verdicts.exists() and any(obj.get("status") == "ok" for _, obj in iter_jsonl(verdicts, allow_empty=True))
    scores = [str(ctx.inputs["judge"])] if judged else []
    scores += [f"{c}={ctx.inputs[f'evaluate/{c}'] / 'predictions.jsonl'}" for c in configs
               if any(_oeq_lines(ctx.inputs[f"evaluate/{c}"]))]
    if not scores:
        raise MedinjectError("no judge verdict and no open-ended metric to compare with the experts")
    from .runtime import PACKAGE_PREFIX

    # Ratings shipped inside medinject were made once, on other answers than this run's: say so wherever the
    # figures appear, or a reader takes a demo's correlations for a measured agreement.
    note = (f"The expert ratings are the sample shipped with medinject ({exp.judge.experts}), made on other "
            "answers than this run's: these figures show the computation, not how well this judge agrees with "
            "experts." if exp.judge.experts.startswith(PACKAGE_PREFIX) else None)
    rows = run_agreement(ctx.runtime.path(exp.judge.experts), scores, ctx.out, n_boot=exp.report.n_boot,
                         seed=exp.report.seed, ratings_note=note)
    return {"scores": len(rows)}


# ------------------------------------------------------------------- report --

def report(ctx: Context) -> dict:
    from ..report import build_report

    exp = _exp(ctx)
    index = results_index(ctx.inputs)
    written = build_report(index, ctx.out, title=exp.report.title or f"medinject: {exp.name}",
                           baseline=exp.report.baseline, reference=exp.report.reference,
                           n_boot=exp.report.n_boot, seed=exp.report.seed, confidence=exp.report.confidence,
                           toy=exp.eval_model.startswith("toy:") or None)
    return {"html": str(Path(written["html"]).name)}


def results_index(inputs: dict[str, Path]) -> dict:
    """Stage folders by role, as the report reads them."""
    return {
        "evaluations": {n.split("/", 1)[1]: str(p) for n, p in inputs.items() if n.startswith("evaluate/")},
        "training": {n.split("/", 1)[1]: str(p) for n, p in inputs.items() if n.startswith("train/")},
        "judge": str(inputs["judge"]) if "judge" in inputs else None,
        "agreement": str(inputs["agreement"]) if "agreement" in inputs else None,
        "mix": str(inputs["mix"]) if "mix" in inputs else None,
        "curate": str(inputs["curate"]) if "curate" in inputs else None,
        "generated": {n: str(p) for n, p in inputs.items() if n.startswith(("translate/", "synthesize/"))},
    }
