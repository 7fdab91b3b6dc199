"""Assemble the report: read the stage folders, build tables and plots, write HTML, Markdown and CSV."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..errors import InputError, MedinjectError
from ..plotting import loss_plot
from .data import (
    agreement_tables,
    composition_tables,
    curation_tables,
    generation_table,
    judge_scores,
    judge_table,
    read_json,
)
from .evaluation import Evaluation, bias_table, main_tables, open_table, wide_table
from .plots import bars_with_intervals, grouped_bars
from .render import Section, write_all

INTRO = ("Numbers are copied from the stage outputs (summary.json of each evaluation, the judge and agreement "
         "summaries, the mix manifests and the curation report); intervals are 95% bootstrap intervals.")
TOY_WARNING = ("These results come from a randomly initialised toy model: the scores mean nothing. "
               "Run configs/paper.yaml for the real study.")


def load_index(results: str | Path) -> dict[str, Any]:
    """Stage folders by role from a work directory (its results.json) or a folder of evaluation folders."""
    results = Path(results)
    if results.is_file() or (results / "results.json").exists():
        path = results if results.is_file() else results / "results.json"
        idx = read_json(path)
        root = Path(idx.get("workdir") or path.parent)
        if not root.exists():
            root = path.parent
        nodes = idx.get("nodes", {})

        def where(name):
            return str(root / nodes[name]["dir"]) if name in nodes else None

        return {"evaluations": {n.split("/", 1)[1]: where(n) for n in nodes if n.startswith("evaluate/")},
                "training": {n.split("/", 1)[1]: where(n) for n in nodes if n.startswith("train/")},
                "judge": where("judge"), "agreement": where("agreement"), "mix": where("mix"),
                "curate": where("curate"),
                "generated": {n: where(n) for n in nodes if n.startswith(("translate/", "synthesize/"))}}
    if results.is_dir():
        evals = {p.parent.name: str(p.parent) for p in sorted(results.glob("*/summary.json"))
                 if "results" in read_json(p)}
        if (results / "summary.json").exists():
            evals[results.name] = str(results)
        if evals:
            return {"evaluations": evals, "judge": None, "agreement": None, "mix": None, "curate": None}
    raise InputError(results, "no results here: expected an experiment work directory (with results.json) or a "
                              "folder of evaluation folders (each with summary.json)")


def _order(names: list[str], baseline: str, reference: str) -> list[str]:
    from ..experiment.config import PAPER_MIXES

    first = [n for n in [baseline, *PAPER_MIXES] if n in names]
    return first + sorted(n for n in names if n not in first)


def build_report(index: dict[str, Any], out: str | Path, *, title: str = "medinject report", baseline: str = "base",
                 reference: str = "NAT", n_boot: int = 1000, seed: int = 0, confidence: float = 0.95,
                 toy: bool | None = None) -> dict[str, Any]:
    """Write report.html, report.md, one CSV per table and the PNG plots into `out`; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if confidence != 0.95:
        raise MedinjectError("the report's intervals come from the stages, which use 95%")
    names = _order(list(index.get("evaluations") or {}), baseline, reference)
    evals = [Evaluation(n, Path(index["evaluations"][n])) for n in names]
    if not evals:
        raise MedinjectError("nothing to report: no evaluation results")
    if toy is None:
        toy = any("toy" in str((e.summary.get("settings") or {}).get("model", "")) for e in evals)
    sections: list[Section] = []
    per_bench, agg = main_tables(evals, baseline=baseline, reference=reference, seed=seed, n_boot=n_boot)
    figs = []
    if agg.rows:
        figs.append(bars_with_intervals(out / "em_by_configuration.png", [r["configuration"] for r in agg.rows],
                                        [r["EM"] for r in agg.rows],
                                        [(r["EM CI low"], r["EM CI high"]) for r in agg.rows],
                                        title="Aggregated constrained EM (MCQ + MCQU), 95% CI", ylabel="Exact Match",
                                        highlight=[baseline, reference]))
    wide = wide_table(per_bench, baseline=baseline, reference=reference)
    sections.append(Section("Main results", "Multiple-choice accuracy per configuration.", [agg, wide, per_bench],
                            figs))

    bias = bias_table(evals)
    figs = []
    if bias.rows and any(r.get("EM permuted") is not None or r.get("CircularEval EM") is not None for r in bias.rows):
        series = {"original": "EM original", "permuted": "EM permuted", "CircularEval": "CircularEval EM"}
        figs.append(grouped_bars(
            out / "permutation_drop.png", [r["configuration"] for r in bias.rows],
            {k: [r.get(c) for r in bias.rows] for k, c in series.items()},
            intervals={k: [(r.get(f"{c} CI low"), r.get(f"{c} CI high")) for r in bias.rows]
                       for k, c in series.items()},
            title="Answer-order bias: EM original vs permuted options, 95% CI", ylabel="Exact Match"))
    sections.append(Section("Answer-order bias", "", [bias], figs))

    judge = judge_scores(Path(index["judge"])) if index.get("judge") else None
    tables = [open_table(evals)]
    figs = []
    if judge:
        jt = judge_table(Path(index["judge"]), names)
        tables.append(jt)
        for mode in sorted({m for s in judge.values() for m in s}):
            rows = [r for r in jt.rows if r.get(f"judge {mode}") is not None]
            if rows:
                figs.append(bars_with_intervals(
                    out / f"judge_{mode}.png", [r["configuration"] for r in rows], [r[f"judge {mode}"] for r in rows],
                    [(r[f"{mode} 95% CI low"], r[f"{mode} 95% CI high"]) for r in rows],
                    title=f"Judge ({mode}) per configuration, 95% CI", ylabel="mean verdict",
                    highlight=[baseline, reference]))
    sections.append(Section("Open-ended answers", "", tables, figs))

    if index.get("agreement"):
        tables, plots = agreement_tables(Path(index["agreement"]))
        copied = []
        for p in plots:
            dest = out / f"agreement_{p.name}"
            shutil.copyfile(p, dest)
            copied.append(dest)
        sections.append(Section("Judge-expert agreement", "", tables, copied))
    if index.get("mix"):
        plot = Path(index["mix"]) / "composition.png"  # drawn by the mix stage
        figs = [Path(shutil.copyfile(plot, out / "mix_composition.png"))] if plot.exists() else []
        sections.append(Section("Data composition of each mix", "", composition_tables(Path(index["mix"]), names),
                                figs))
    figs = []
    for name, folder in (index.get("training") or {}).items():
        manifest = Path(folder) / "adapter" / "manifest.json" if folder else None
        if manifest is None or not manifest.exists():
            manifest = Path(folder) / "manifest.json" if folder else None
        if manifest is not None and manifest.exists():
            fig = loss_plot(read_json(manifest).get("loss_curves") or {}, out / f"loss_{name}.png", name)
            if fig:
                figs.append(fig)
    if figs:
        sections.append(Section("Training loss", "Loss per optimizer step for each configuration's adapter, with "
                                "the evaluation loss where the run had validation data.", [], figs))
    if index.get("generated"):
        table = generation_table(index["generated"])
        if table.rows:
            sections.append(Section("Translation and synthesis losses", "", [table]))
    if index.get("curate"):
        sections.append(Section("Curation losses", "", curation_tables(Path(index["curate"]))))
    intro = (TOY_WARNING + " " if toy else "") + INTRO
    written = write_all(out, title, intro, sections)
    written["png"] = sorted(out.glob("*.png"))
    return written

