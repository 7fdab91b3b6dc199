"""Score translations made elsewhere (WMT submissions, another system's outputs) with sacrebleu, and COMET.

Scores and signatures are sacrebleu's own (the same numbers as `sacrebleu REF -i HYP -m bleu chrf`);
intervals are sacrebleu's bootstrap (`--confidence`), reported beside the plain score with their own signature.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import InputError, MedinjectError
from ..io import iter_jsonl, write_json
from ..schemas import schema_id

log = logging.getLogger(__name__)

TEXT_KEYS = {
    "hypotheses": ("hypothesis", "translation", "prediction", "output", "mt", "text"),
    "references": ("reference", "ref", "translation", "target", "text"),
    "sources": ("source", "src", "text"),
}
COMET_EXTRA = "pip install 'medinject[comet]' (unbabel-comet)"


def read_segments(path: str | Path, role: str, key: str | None = None) -> list[str]:
    """Line-aligned segments: a plain text file (one per line), or JSONL (`key`, else the first known key)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.suffix == ".jsonl":
        out = []
        for line, obj in iter_jsonl(path):
            k = key or next((k for k in TEXT_KEYS[role] if k in obj), None)
            if k is None or not isinstance(obj.get(k), str):
                want = key or " or ".join(TEXT_KEYS[role])
                raise InputError(path, f"no text field ({want})", line=line, field=key or TEXT_KEYS[role][0])
            out.append(obj[k])
        return out
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(path, f"not UTF-8 text (byte {e.start})") from None
    # As sacrebleu's command line reads a file: split at newlines only (not at U+2028 and the like, which
    # `splitlines` would), each line stripped on the right.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip() for line in lines]


def _sacrebleu_scores(hyps: list[str], refs: list[str], n_boot: int) -> dict[str, Any]:
    from sacrebleu.metrics import BLEU, CHRF

    out: dict[str, Any] = {}
    for name, cls in (("bleu", BLEU), ("chrf", CHRF)):
        metric = cls()
        score = metric.corpus_score(hyps, [refs])
        entry: dict[str, Any] = {"score": score.score, "signature": str(metric.get_signature()),
                                 "detail": str(score)}
        if n_boot:
            boot = cls()
            bs = boot.corpus_score(hyps, [refs], n_bootstrap=n_boot)
            entry["bootstrap"] = {"mean": bs._mean, "ci": [bs._mean - bs._ci, bs._mean + bs._ci],
                                  "confidence": 0.95, "signature": str(boot.get_signature())}
        out[name] = entry
    return out


def comet_score(model_path: str | Path, srcs: list[str], hyps: list[str], refs: list[str], *,
                batch_size: int = 16, gpus: int | None = None) -> dict[str, Any]:
    """System COMET score from a local checkpoint (a .ckpt file, or a downloaded model folder)."""
    try:
        from comet import load_from_checkpoint
    except ImportError:
        raise MedinjectError(f"COMET scoring needs the comet extra: {COMET_EXTRA}") from None
    path = Path(model_path)
    if path.is_dir():
        found = sorted(path.glob("checkpoints/*.ckpt")) or sorted(path.rglob("*.ckpt"))
        if not found:
            raise InputError(path, "no COMET checkpoint (*.ckpt) in this folder")
        path = found[0]
    if not path.exists():
        raise InputError(path, "COMET checkpoint not found")
    model = load_from_checkpoint(str(path))
    if gpus is None:
        import torch

        gpus = 1 if torch.cuda.is_available() else 0
    out = model.predict([{"src": s, "mt": h, "ref": r} for s, h, r in zip(srcs, hyps, refs, strict=True)],
                        batch_size=batch_size, gpus=gpus, progress_bar=True)
    return {"score": round(float(out.system_score), 4), "model": str(path)}


def score_files(hypotheses: str | Path, references: str | Path, sources: str | Path | None = None, *,
                comet_model: str | Path | None = None, n_boot: int = 1000, hyp_key: str | None = None,
                ref_key: str | None = None, src_key: str | None = None,
                out_path: str | Path | None = None) -> dict[str, Any]:
    """BLEU and chrF (sacrebleu signatures, bootstrap intervals), and COMET when a local model is given."""
    if comet_model is not None:
        try:  # fail before any work when the extra is missing
            import comet  # noqa: F401
        except ImportError:
            raise MedinjectError(f"COMET scoring needs the comet extra: {COMET_EXTRA}") from None
        if sources is None:
            raise MedinjectError("COMET needs the source segments: give --sources")
    hyps = read_segments(hypotheses, "hypotheses", hyp_key)
    refs = read_segments(references, "references", ref_key)
    if len(hyps) != len(refs):
        raise InputError(hypotheses, f"{len(hyps)} segments but {Path(references).name} has {len(refs)}; "
                         "the files must be line-aligned")
    srcs = None
    if sources is not None:
        srcs = read_segments(sources, "sources", src_key)
        if len(srcs) != len(refs):
            raise InputError(sources, f"{len(srcs)} segments but {Path(references).name} has {len(refs)}")
    empty = sum(not h.strip() for h in hyps)
    if empty:
        log.warning("%s: %d empty hypothesis segment(s), scored as empty", hypotheses, empty)
    result: dict[str, Any] = {
        "schema": schema_id("translate.eval"),
        "hypotheses": str(hypotheses), "references": str(references),
        "sources": str(sources) if sources else None, "segments": len(hyps), "empty_hypotheses": empty,
        **_sacrebleu_scores(hyps, refs, n_boot),
    }
    if comet_model is not None:
        result["comet"] = comet_score(comet_model, srcs or [], hyps, refs)
    if out_path is not None:
        write_json(out_path, result)
    return result


def format_result(r: dict[str, Any]) -> list[str]:
    lines = [f"{r['segments']} segments of {r['hypotheses']}"]
    for name in ("bleu", "chrf"):
        e = r[name]
        ci = f"  95% CI {e['bootstrap']['ci'][0]:.2f}-{e['bootstrap']['ci'][1]:.2f}" if "bootstrap" in e else ""
        lines.append(f"{name.upper() if name == 'bleu' else 'chrF'} = {e['score']:.2f}{ci}  [{e['signature']}]")
    if "comet" in r:
        lines.append(f"COMET = {r['comet']['score']:.4f}  [{r['comet']['model']}]")
    return lines

