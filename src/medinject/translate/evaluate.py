"""Score a translator on WMT biomedical EN->FR test sets with sacrebleu (BLEU and chrF, with signatures)."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from ..backends import Backend, BackendSpec, ChatRequest
from ..errors import MedinjectError
from ..io import write_json
from ..schemas import schema_id
from .translate import _backend, load_prompt

WMT_DIR = "wmt_biomed_fr_en"


def shared_data_dir(data_dir: str | Path | None = None) -> Path:
    """`data_dir`, else `$MEDINJECT_SHARED/data`, else `../shared/data` beside the repository (or the cwd)."""
    if data_dir is not None:
        return Path(data_dir)
    if os.environ.get("MEDINJECT_SHARED"):
        return Path(os.environ["MEDINJECT_SHARED"]) / "data"
    repo = Path(__file__).resolve().parents[3]
    for base in (repo, Path.cwd()):
        cand = base.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return repo.parent / "shared" / "data"


def load_wmt_pairs(data_dir: str | Path | None = None, sets: list[str] | None = None
                   ) -> list[tuple[str, str, str]]:
    """(set name, English source, French reference) for every EN->FR pair of the chosen sets."""
    folder = shared_data_dir(data_dir)
    folder = folder / WMT_DIR if (folder / WMT_DIR).is_dir() else folder
    names = sets or sorted(p.name[:-3] for p in folder.glob("*_en2fr.en"))
    if not names:
        raise MedinjectError(f"{folder}: no *_en2fr.en test sets (set --data or MEDINJECT_SHARED)")
    pairs = []
    for name in names:
        en, fr = folder / f"{name}.en", folder / f"{name}.fr"
        if not en.exists() or not fr.exists():
            raise MedinjectError(f"{folder}: test set {name!r} needs {en.name} and {fr.name}")
        src, ref = en.read_text("utf-8").splitlines(), fr.read_text("utf-8").splitlines()
        if len(src) != len(ref):
            raise MedinjectError(f"{en}: {len(src)} lines but {fr.name} has {len(ref)}")
        pairs += [(name, s, r) for s, r in zip(src, ref, strict=True) if s.strip()]
    return pairs


def _clean(text: str | None) -> str:
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[0].strip('"«» ') if lines else ""


def run_translate_eval(backend: Backend | BackendSpec | dict, *, data_dir: str | Path | None = None,
                       sets: list[str] | None = None, sample: int | None = 200, seed: int = 0,
                       max_tokens: int | None = None, out_path: str | Path | None = None,
                       progress: bool = True) -> dict[str, Any]:
    """BLEU and chrF of the backend's translations on a seeded sample of WMT biomedical EN->FR pairs."""
    import sacrebleu

    pairs = load_wmt_pairs(data_dir, sets)
    if sample and sample < len(pairs):
        pairs = random.Random(seed).sample(pairs, sample)
    prompt = load_prompt("sentence")
    requests = [ChatRequest(messages=[{"role": "system", "content": prompt.system},
                                      {"role": "user", "content": prompt.user.format(text=src)}],
                            max_tokens=max_tokens or int(len(src) / 2) + 64, tag=str(i))
                for i, (_, src, _) in enumerate(pairs)]
    be, owned = _backend(backend)
    try:
        from ..progress import progress as progress_bar

        with progress_bar("translate-eval", len(requests), enabled=progress) as bar:
            responses = be.generate(requests, on_result=lambda _r: bar.advance())
    finally:
        if owned:
            be.close()
    hyps = [_clean(r.text) for r in responses]
    refs = [ref for _, _, ref in pairs]
    bleu, chrf = sacrebleu.metrics.BLEU(), sacrebleu.metrics.CHRF()
    result: dict[str, Any] = {
        "schema": schema_id("translate.eval"),
        "model": be.model, "prompt_version": prompt.version, "pairs": len(pairs), "seed": seed,
        "failed": sum(not r.ok for r in responses),
        "bleu": round(bleu.corpus_score(hyps, [refs]).score, 2), "bleu_signature": str(bleu.get_signature()),
        "chrf": round(chrf.corpus_score(hyps, [refs]).score, 2), "chrf_signature": str(chrf.get_signature()),
        "per_set": {},
    }
    for name in sorted({p[0] for p in pairs}):
        idx = [i for i, p in enumerate(pairs) if p[0] == name]
        h, r = [hyps[i] for i in idx], [refs[i] for i in idx]
        result["per_set"][name] = {"pairs": len(idx), "bleu": round(sacrebleu.corpus_bleu(h, [r]).score, 2),
                                   "chrf": round(sacrebleu.corpus_chrf(h, [r]).score, 2)}
    if out_path is not None:
        write_json(out_path, result)
    return result
