"""What a records (or passages) file holds: counts by provenance, source, task, split and language; lengths."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import InputError
from .records import Passage, Record

RECORD_DIMENSIONS = ("origin", "source", "task", "split", "lang")
PASSAGE_DIMENSIONS = ("source", "lang")
PERCENTILES = (5, 25, 50, 75, 95)


def _percentile(ordered: Sequence[int], q: float) -> float:
    """numpy's default (linear) percentile, without loading numpy for a file summary."""
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def length_summary(lengths: Sequence[int]) -> dict[str, float | int]:
    """Count, mean, percentiles and max of character lengths (empty when there is nothing to measure)."""
    if not lengths:
        return {"n": 0}
    a = sorted(lengths)
    out: dict[str, float | int] = {"n": len(a), "mean": round(sum(a) / len(a), 1)}
    out.update({f"p{q}": round(float(_percentile(a, q)), 1) for q in PERCENTILES})
    out["max"] = a[-1]
    return out


def _value(item: Record | Passage, dim: str) -> str:
    v = getattr(item, dim)
    return v.value if hasattr(v, "value") else str(v)


def record_stats(records: Iterable[Record]) -> dict[str, Any]:
    """Counts by origin, source, task, split and language; lengths in characters of question, answer, context.

    The answer of a multiple-choice record is measured as the text of its correct options.
    """
    counts = {d: Counter() for d in RECORD_DIMENSIONS}
    lengths: dict[str, list[int]] = {"question": [], "answer": [], "context": []}
    n = 0
    for r in records:
        n += 1
        for d in RECORD_DIMENSIONS:
            counts[d][_value(r, d)] += 1
        lengths["question"].append(len(r.question))
        lengths["answer"].append(len(r.answer_text))
        if r.context:
            lengths["context"].append(len(r.context))
    return {"kind": "records", "n": n, "counts": {d: dict(c.most_common()) for d, c in counts.items()},
            "lengths": {k: length_summary(v) for k, v in lengths.items()}}


def passage_stats(passages: Iterable[Passage]) -> dict[str, Any]:
    counts = {d: Counter() for d in PASSAGE_DIMENSIONS}
    lengths: list[int] = []
    for p in passages:
        for d in PASSAGE_DIMENSIONS:
            counts[d][_value(p, d)] += 1
        lengths.append(len(p.text))
    return {"kind": "passages", "n": len(lengths), "counts": {d: dict(c.most_common()) for d, c in counts.items()},
            "lengths": {"text": length_summary(lengths)}}


def _kind(path: Path) -> str:
    from .io import iter_jsonl
    from .validate import guess_kind

    if path.suffix == ".parquet":
        return "records"
    for _, obj in iter_jsonl(path):
        return guess_kind(obj)
    return "records"


def file_stats(paths: Sequence[str | Path]) -> dict[str, Any]:
    """Statistics over all `paths` together (all records or all passages), with the count of each file."""
    from .io import read_passages, read_records

    paths = [Path(p) for p in paths]
    kinds = {p: _kind(p) for p in paths}
    if len(set(kinds.values())) > 1:
        odd = next(p for p in paths if kinds[p] != kinds[paths[0]])
        raise InputError(odd, f"holds {kinds[odd]} while {paths[0]} holds {kinds[paths[0]]}; give files of one kind")
    per_file: dict[str, int] = {}

    def items():
        for p in paths:
            n = 0
            for item in (read_passages(p) if kinds[p] == "passages" else read_records(p)):
                n += 1
                yield item
            per_file[str(p)] = n

    stats = passage_stats(items()) if kinds[paths[0]] == "passages" else record_stats(items())
    return {"files": per_file, **stats}


def render(stats: dict[str, Any], console=None) -> None:
    """Two rich tables: the counts and the length percentiles."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    n = stats["n"]
    counts = Table(title=f"{n} {stats['kind']} in {len(stats['files'])} file(s)")
    for col, justify in (("by", "left"), ("value", "left"), ("count", "right"), ("share", "right")):
        counts.add_column(col, justify=justify)
    for dim, values in stats["counts"].items():
        for i, (value, c) in enumerate(values.items()):
            counts.add_row(dim if i == 0 else "", value, str(c), f"{100 * c / n:.1f}%" if n else "-")
        counts.add_section()
    console.print(counts)
    lengths = Table(title="lengths in characters")
    keys = ["n", "mean", *(f"p{q}" for q in PERCENTILES), "max"]
    lengths.add_column("field")
    for k in keys:
        lengths.add_column(k, justify="right")
    for name, summary in stats["lengths"].items():
        lengths.add_row(name, *(str(summary.get(k, "-")) for k in keys))
    console.print(lengths)
