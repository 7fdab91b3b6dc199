"""The demo's curation and mixing step: the planted duplicates and contaminated item go, seven mixes come out."""

from __future__ import annotations

DEMO_MIX_SIZE = 36  # each curated sample pool holds 36 records (12 per task type)


def curate_and_mix(demo) -> str:
    from ..curate import run_curate
    from ..records import Origin
    from .pipeline import run_mix

    train = [f for f in demo.records if f.stem in ("native", "translated", "synthetic")]
    evals = [f for f in demo.records if f.stem == "eval"]
    report = run_curate(train, demo.workdir / "curate", evals, progress=False)
    curated = report["outputs"]["curated"]
    summary = run_mix({o: [curated] for o in Origin}, DEMO_MIX_SIZE, 0, demo.workdir / "mix", allow_shrink=True)
    demo.outputs["curate"] = report["outputs"]
    demo.outputs["mix"] = {name: demo.workdir / "mix" / name / "train.jsonl" for name in summary["configs"]}
    reasons = ", ".join(f"{k} {v}" for k, v in report["by_reason"].items()) or "nothing"
    return (f"curated {report['counts']['input']} records, rejected {reasons}; "
            f"{len(summary['configs'])} mixes of {summary['size']} -> {demo.workdir / 'mix'}")
