"""First pass, run in worker processes: parse and check each record, and sign the survivors.

A chunk of raw lines goes in; out come the canonical lines, the per-record verdicts, and for the records
that survived the per-record filters the compact keys the dedup needs (exact key, MinHash signature,
LSH band keys). Nothing here depends on other chunks, so chunks can run in any process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError

from ..errors import first_validation_problem
from ..records import ORIGIN_PRIORITY, Origin, Record
from .decontam import EvalIndex, find_contamination
from .filters import Reject, invalid, record_filters
from .language import check_languages
from .minhash import MinHasher, band_keys, lsh_params
from .settings import CurateSettings
from .text import context_text, item_segments, item_text, normalise, segmented_ngram_hashes, stable_hash

ORIGINS = list(Origin)
NO_ORIGIN = -1
INVALID_PRIORITY = 9


@dataclass
class ChunkResult:
    start: int
    values: list[str]  # per record: canonical record JSON, the object as given, or the raw line as a string
    ids: list[str | None]
    origins: np.ndarray  # int8 index into ORIGINS, NO_ORIGIN when unknown
    sources: list[str | None]
    rejects: list[Reject | None]
    survivors: np.ndarray  # positions (within the chunk) of the records the dedup must look at
    exact: np.ndarray  # int64 per survivor
    sig: np.ndarray  # (survivors, num_perm) uint32
    keys: np.ndarray  # (survivors, bands) uint64


_STATE: dict = {}


def init_worker(settings: dict, eval_index: EvalIndex | None) -> None:
    s = CurateSettings.model_validate(settings)
    _STATE.update(settings=s, hasher=MinHasher(s.num_perm), eval=eval_index,
                  lsh=lsh_params(s.threshold, s.num_perm, tuple(s.lsh_weights)))


def _origin_index(value) -> int:
    try:
        return ORIGINS.index(Origin(value))
    except ValueError:
        return NO_ORIGIN


def _parse_slowly(line: str, i: int, ids: list, sources: list, origins: np.ndarray, rejects: list) -> Record | str:
    """The record, or (when there is none) the reason in `rejects[i]` and what the rejected file shows."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        ids.append(None)
        sources.append(None)
        rejects[i] = invalid(f"malformed JSON: {e.msg} (column {e.colno})")
        return json.dumps(line, ensure_ascii=False)
    if not isinstance(obj, dict):
        ids.append(None)
        sources.append(None)
        rejects[i] = invalid(f"expected a JSON object, got {type(obj).__name__}")
        return json.dumps(obj, ensure_ascii=False)
    try:
        return Record.model_validate(obj)  # JSON-mode validation is a little stricter than the dict form
    except ValidationError as e:
        field, msg = first_validation_problem(e)
        rejects[i] = invalid(msg, field)
    ids.append(str(obj["id"]) if obj.get("id") is not None else None)
    sources.append(str(obj["source"]) if obj.get("source") is not None else None)
    origins[i] = _origin_index(obj.get("origin"))
    return json.dumps(obj, ensure_ascii=False)


def analyse_chunk(start: int, lines: list[str]) -> ChunkResult:
    settings: CurateSettings = _STATE["settings"]
    n = len(lines)
    values, ids, sources = [], [], []
    origins = np.full(n, NO_ORIGIN, dtype=np.int8)
    rejects: list[Reject | None] = [None] * n
    records: dict[int, Record] = {}
    for i, line in enumerate(lines):
        try:
            record = Record.model_validate_json(line)  # the common case, in one step (no dict in between)
        except ValidationError:
            record = _parse_slowly(line, i, ids, sources, origins, rejects)
            if isinstance(record, str):
                values.append(record)
                continue
        ids.append(record.id)
        sources.append(record.source)
        origins[i] = ORIGINS.index(record.origin)
        values.append(record.model_dump_json())
        rejects[i] = record_filters(record, settings)
        if rejects[i] is None:
            records[i] = record
    if settings.check_language and records:
        for i, verdict in zip(list(records), check_languages(list(records.values()), settings), strict=True):
            if verdict is not None:
                rejects[i] = verdict
                del records[i]

    positions = np.array(sorted(records), dtype=np.int64)
    texts = [item_text(records[i]) for i in positions]
    contexts = [context_text(records[i]) for i in positions]
    hasher: MinHasher = _STATE["hasher"]
    h, off = segmented_ngram_hashes([item_segments(records[i]) for i in positions], settings.shingle_size)
    sig = hasher.signatures(h, off)
    item_keys = [stable_hash(t) for t in texts]
    eval_index: EvalIndex | None = _STATE["eval"]
    if eval_index is not None and len(positions):
        answers = [None if records[i].is_choice else normalise(str(records[i].answer)) for i in positions]
        verdicts = find_contamination(eval_index, texts, item_keys, (h, off), sig, settings, answers)
        for p, verdict in zip(positions.tolist(), verdicts, strict=True):
            rejects[p] = verdict
    clean = np.array([rejects[p] is None for p in positions], dtype=bool)
    positions, sig = positions[clean], sig[clean]
    contexts = [t for t, c in zip(contexts, clean, strict=True) if c]
    # The exact key reads what the signature reads (question with options, or with its answer) plus context.
    exact = np.array([stable_hash("\x1f".join([c, *item_segments(records[p])]))
                      for c, p in zip(contexts, positions.tolist(), strict=True)], dtype=np.int64)
    salt = np.array([stable_hash(c) if c else 0 for c in contexts], dtype=np.int64).view(np.uint64)
    bands, rows = _STATE["lsh"]
    keys = band_keys(sig, bands, rows, salt)
    return ChunkResult(start, values, ids, origins, sources, rejects, positions, exact, sig, keys)


def priority(origins: np.ndarray) -> np.ndarray:
    """Origin priority per record (native first); unknown origins last."""
    table = np.array([ORIGIN_PRIORITY[o] for o in ORIGINS] + [INVALID_PRIORITY], dtype=np.int8)
    return table[np.where(origins < 0, len(ORIGINS), origins)]
