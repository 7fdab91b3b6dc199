"""`run_curate`: two streaming passes over the inputs, with only compact per-record keys held in memory.

Pass 1 (worker processes) parses, checks and signs each record and spools its canonical line to disk.
Then the duplicates are resolved on the keys alone, by provenance and input order. Pass 2 streams the
spool into `curated.jsonl` and `rejected.jsonl` (optionally through the quality judge). Outputs are
written atomically and depend only on the inputs and settings, never on the number of workers.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, MedinjectError
from ..io import atomic_path, sha256_file, temp_beside, write_json, write_text
from ..progress import progress
from ..schemas import stamp
from . import analyse
from .decontam import build_eval_index
from .dedup import exact_duplicates, near_duplicates, rank_order
from .filters import Reject
from .language import known_languages
from .minhash import MinHasher
from .report import build_report, markdown_report
from .settings import CurateSettings, make_settings

CURATED, REJECTED, REPORT, REPORT_MD = "curated.jsonl", "rejected.jsonl", "report.json", "report.md"
_SMALL_INPUT = 8 << 20
_log = logging.getLogger(__name__)  # below this many bytes, worker processes cost more than they save


def _raw_lines(path: Path) -> Iterator[tuple[int, str, int]]:
    """(line number, text, bytes read) for each non-blank line; Parquet rows become JSON lines."""
    if not path.exists():
        raise InputError(path, "file not found")
    if path.suffix == ".parquet":
        from ..io import _row_record, open_parquet

        row = 0
        for batch in open_parquet(path).iter_batches(batch_size=4096):
            size = batch.nbytes
            for obj in batch.to_pylist():
                row += 1
                yield row, json.dumps(_row_record(obj), ensure_ascii=False), size // max(1, batch.num_rows)
        return
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            text = raw.decode("utf-8", errors="replace").strip()
            if text:
                yield lineno, text, len(raw)


class _Pass1:
    """Collects chunk results in input order."""

    def __init__(self, settings: CurateSettings):
        self.settings = settings
        self.ids: list[str | None] = []
        self.origins: list[np.ndarray] = []
        self.source_codes: list[int] = []
        self.sources: dict[str | None, int] = {}
        self.rejects: dict[int, Reject] = {}
        self.survivors: list[np.ndarray] = []
        self.exact: list[np.ndarray] = []
        self.sig: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []

    def add(self, res: analyse.ChunkResult, spool) -> None:
        for v in res.values:
            spool.write(v)
            spool.write("\n")
        self.ids.extend(res.ids)
        self.origins.append(res.origins)
        self.source_codes.extend(self.sources.setdefault(s, len(self.sources)) for s in res.sources)
        for i, r in enumerate(res.rejects):
            if r is not None:
                self.rejects[res.start + i] = r
        self.survivors.append(res.survivors + res.start)
        self.exact.append(res.exact)
        self.sig.append(res.sig)
        self.keys.append(res.keys)


def _chunks(inputs: list[Path], size: int, locations: list, progress) -> Iterator[tuple[int, list[str]]]:
    start, lines = 0, []
    for fi, path in enumerate(inputs):
        for lineno, text, nbytes in _raw_lines(path):
            lines.append(text)
            locations.append((fi, lineno))
            progress(nbytes)
            if len(lines) >= size:
                yield start, lines
                start, lines = start + len(lines), []
    if lines:
        yield start, lines


def _start_workers(inputs: list[Path], settings: CurateSettings, eval_index):
    """A process pool for pass 1, or None to work in this process (small inputs, one core, `workers=1`)."""
    workers = settings.workers or (1 if sum(p.stat().st_size for p in inputs) < _SMALL_INPUT
                                   else min(2, os.cpu_count() or 1))
    init_args = (settings.model_dump(mode="json"), eval_index)
    if workers <= 1:
        analyse.init_worker(*init_args)
        return None
    import multiprocessing as mp

    # fork (where there is one) spares the caller the `if __name__ == "__main__"` guard that spawn needs; the
    # pool starts before the progress bar's thread, and the workers touch no lock the parent may hold.
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    pool = ctx.Pool(workers, initializer=analyse.init_worker, initargs=init_args)
    pool.window = 2 * workers  # chunks in flight
    return pool


def _run_pass1(inputs: list[Path], settings: CurateSettings, pool, spool, progress, locations) -> _Pass1:
    acc = _Pass1(settings)
    chunks = _chunks(inputs, settings.chunk_size, locations, progress)
    if pool is None:
        for start, lines in chunks:
            acc.add(analyse.analyse_chunk(start, lines), spool)
        return acc
    pending: deque = deque()
    for start, lines in chunks:
        # A bounded window of chunks in flight keeps memory flat (Pool.imap would read ahead without limit).
        pending.append(pool.apply_async(analyse.analyse_chunk, (start, lines)))
        if len(pending) >= pool.window:
            acc.add(pending.popleft().get(), spool)
    while pending:
        acc.add(pending.popleft().get(), spool)
    return acc


def _resolve_duplicates(acc: _Pass1, settings: CurateSettings) -> None:
    """Add exact and near duplicate rejections to `acc.rejects`."""
    survivors = np.concatenate(acc.survivors) if acc.survivors else np.zeros(0, dtype=np.int64)
    if not len(survivors):
        return
    origins = np.concatenate(acc.origins)
    prio = analyse.priority(origins[survivors])
    order = rank_order(prio)  # rank -> position in `survivors`
    ranked = survivors[order]
    exact = np.concatenate(acc.exact)[order]
    dup = exact_duplicates(exact) if settings.exact_dedup else np.full(len(ranked), -1)
    for r in np.flatnonzero(dup >= 0).tolist():
        acc.rejects[int(ranked[r])] = Reject("exact_duplicate", _dup_detail(acc, origins, int(ranked[dup[r]])))
    if not settings.near_dedup:
        return
    sig = np.concatenate(acc.sig)[order]
    keys = np.concatenate(acc.keys)[order]
    near, sim = near_duplicates(sig, keys, dup < 0, settings.threshold)
    for r in np.flatnonzero(near >= 0).tolist():
        detail = _dup_detail(acc, origins, int(ranked[near[r]]))
        detail["similarity"] = round(float(sim[r]), 3)
        acc.rejects[int(ranked[r])] = Reject("near_duplicate", detail)


def _dup_detail(acc: _Pass1, origins: np.ndarray, other: int) -> dict[str, Any]:
    return {"duplicate_of": acc.ids[other], "duplicate_origin": analyse.ORIGINS[origins[other]].value}


def _rejected_line(reject: Reject, value: str, path: Path, lineno: int) -> str:
    head = json.dumps({"reason": reject.reason, "detail": reject.detail, "file": str(path), "line": lineno},
                      ensure_ascii=False)
    return f'{head[:-1]}, "record": {value}}}\n'


def _run_pass2(spool: Path, acc: _Pass1, inputs: list[Path], locations: list, out_dir: Path,
               settings: CurateSettings, backend, progress, quality_stats: dict) -> None:
    from .quality import score_records

    origins = np.concatenate(acc.origins) if acc.origins else np.zeros(0, dtype=np.int8)
    judged = {analyse.ORIGINS.index(o) for o in settings.quality_origins}
    with atomic_path(out_dir / CURATED) as cur_tmp, atomic_path(out_dir / REJECTED) as rej_tmp, \
            open(cur_tmp, "w", encoding="utf-8") as cur, open(rej_tmp, "w", encoding="utf-8") as rej, \
            open(spool, encoding="utf-8") as sp:
        pending: list[tuple[int, str]] = []
        to_judge = 0

        def flush() -> None:
            from ..records import Record

            nonlocal to_judge

            todo = [(k, Record.model_validate_json(v)) for k, (i, v) in enumerate(pending) if origins[i] in judged]
            scores = score_records([r for _, r in todo], backend) if todo else []
            by_pos = {k: (r, s) for (k, r), s in zip(todo, scores, strict=True)}
            for k, (i, value) in enumerate(pending):
                if k in by_pos:
                    record, entry = by_pos[k]
                    record.meta = {**record.meta, "quality": entry}
                    value = record.model_dump_json()
                    score = entry["score"]
                    quality_stats["scored" if score is not None else "unscored"] += 1
                    if score is not None:
                        quality_stats["sum"] += score
                    if score is not None and settings.quality_threshold is not None \
                            and score < settings.quality_threshold:
                        reject = Reject("low_quality", {"score": score, "threshold": settings.quality_threshold})
                        acc.rejects[i] = reject
                        fi, lineno = locations[i]
                        rej.write(_rejected_line(reject, value, inputs[fi], lineno))
                        continue
                cur.write(value)
                cur.write("\n")
            pending.clear()
            to_judge = 0

        for i, line in enumerate(sp):
            value = line.rstrip("\n")
            reject = acc.rejects.get(i)
            if reject is not None:
                fi, lineno = locations[i]
                rej.write(_rejected_line(reject, value, inputs[fi], lineno))
            elif backend is None:
                cur.write(line)
            else:
                pending.append((i, value))
                to_judge += origins[i] in judged
                if to_judge >= settings.quality_batch:
                    flush()
            progress(1)
        if pending:
            flush()


def run_curate(inputs, out_dir, eval_files=(), *, backend=None, settings: CurateSettings | dict | None = None,
               **overrides: Any) -> dict[str, Any]:
    """Curate record files into `out_dir` (curated.jsonl, rejected.jsonl, report.json, report.md).

    `eval_files`: evaluation record files to decontaminate against. `backend`: a `Backend`, a
    `BackendSpec` or its dict, for the optional quality judge. Settings: see `CurateSettings`.
    Returns the report (also written to report.json).
    """
    settings = make_settings(settings, **overrides)
    inputs = [Path(p) for p in ([inputs] if isinstance(inputs, str | Path) else inputs)]
    if not inputs:
        raise MedinjectError("nothing to curate: no input files")
    eval_files = [Path(p) for p in eval_files]
    for p in [*inputs, *eval_files]:
        if not p.exists():
            raise InputError(p, "file not found")
    unknown = sorted(set(settings.languages) - known_languages()) if settings.check_language else []
    if unknown:
        raise MedinjectError(f"curate setting 'languages': unknown language code(s) {', '.join(unknown)}")
    backend, close_backend = _backend(backend)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    eval_index = build_eval_index(eval_files, settings, MinHasher(settings.num_perm))
    locations: list[tuple[int, int]] = []
    quality_stats = {"scored": 0, "unscored": 0, "sum": 0}
    spool = temp_beside(out_dir / "spool", suffix=".jsonl")  # a killed run's spool goes at the next run
    pool = _start_workers(inputs, settings, eval_index)
    try:
        total_bytes = sum(p.stat().st_size for p in inputs)
        with progress("curate: reading", total_bytes, enabled=settings.progress, every=4096) as bar, \
                open(spool, "w", encoding="utf-8") as sp:
            acc = _run_pass1(inputs, settings, pool, sp, bar.advance, locations)
        if pool is not None:
            pool.close()
            pool.join()
            pool = None
        _log.info("pass 1 (parse, filters, signatures): %.1f s", time.perf_counter() - start)
        _resolve_duplicates(acc, settings)
        _log.info("duplicates resolved: %.1f s", time.perf_counter() - start)
        with progress("curate: writing", len(locations), enabled=settings.progress, every=4096) as bar:
            _run_pass2(spool, acc, inputs, locations, out_dir, settings, backend, bar.advance, quality_stats)
        _log.info("pass 2 (outputs written): %.1f s", time.perf_counter() - start)
    finally:
        if pool is not None:
            pool.terminate()
        spool.unlink(missing_ok=True)
        if close_backend:
            backend.close()
    report = build_report(acc, inputs, eval_files, eval_index, locations, settings, quality_stats,
                          backend is not None, {p: sha256_file(p) for p in [*inputs, *eval_files]})
    report["outputs"] = {"curated": str(out_dir / CURATED), "rejected": str(out_dir / REJECTED),
                         "report": str(out_dir / REPORT), "markdown": str(out_dir / REPORT_MD)}
    write_text(out_dir / REPORT_MD, markdown_report(report))
    report = stamp("curate.report", report)
    write_json(out_dir / REPORT, report)
    return report


def _backend(backend):
    if backend is None or hasattr(backend, "generate"):
        return backend, False
    from ..backends import BackendSpec

    return BackendSpec.coerce(backend).build(), True
