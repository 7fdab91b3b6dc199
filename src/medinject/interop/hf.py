"""`export --to hf`: a folder `push_to_hub` (or `load_dataset(DIR)`) takes as is, with a card made from the records."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from ..errors import MedinjectError
from ..io import atomic_folder, record_schema, records_to_table, write_text
from ..records import Record

# The Hub's rule for split names (datasets.splits); anything else is refused by `load_dataset`.
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")
SHARD_ROWS = 100_000
LICENSE_PLACEHOLDER = "other"  # the owner must set the real licence of every source before publishing


def _by_split(records: Iterable[Record]) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for r in records:
        out.setdefault(r.split, []).append(r)
    bad = [s for s in out if not _SPLIT_NAME.match(s)]
    if bad:
        raise MedinjectError(f"split name {bad[0]!r} is not allowed on the Hub (letters, digits, _ and . only)")
    return out


def _card(splits: dict[str, list[Record]], shards: dict[str, list], pretty_name: str) -> str:
    import datasets
    import yaml

    features = datasets.Features.from_arrow_schema(record_schema())._to_yaml_list()
    n = sum(len(rs) for rs in splits.values())
    size = next(c for limit, c in ((1e3, "n<1K"), (1e4, "1K<n<10K"), (1e5, "10K<n<100K"), (1e6, "100K<n<1M"),
                                   (float("inf"), "n>1M")) if n < limit)
    langs = sorted({r.lang for rs in splits.values() for r in rs})
    meta = {
        "pretty_name": pretty_name,
        "language": langs,
        "license": LICENSE_PLACEHOLDER,
        "size_categories": [size],
        "task_categories": ["question-answering"],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": s, "path": f"data/{s}-*"} for s in splits]}],
        # Our own key (the Hub keeps keys it does not know): records per split and provenance, for scripts.
        "medinject": {"provenance": {s: dict(sorted(Counter(r.origin.value for r in rs).items()))
                                     for s, rs in splits.items()}},
        "dataset_info": {"features": features,
                         "splits": [{"name": s, "num_bytes": sum(t.nbytes for t in shards[s]), "num_examples": len(rs)}
                                    for s, rs in splits.items()]},
    }
    origins = sorted({r.origin.value for rs in splits.values() for r in rs})
    tasks = sorted({r.task.value for rs in splits.values() for r in rs})

    def table(dim: str, keys: list[str]) -> list[str]:
        lines = [f"| split | {' | '.join(keys)} | total |", "|---" * (len(keys) + 2) + "|"]
        for s, rs in splits.items():
            c = Counter(getattr(r, dim).value for r in rs)
            lines.append(f"| {s} | {' | '.join(str(c.get(k, 0)) for k in keys)} | {len(rs)} |")
        return lines

    sources = Counter(r.source for rs in splits.values() for r in rs)
    body = [
        f"# {pretty_name}", "",
        "French biomedical instruction records written by `medinject export --to hf`. Each row keeps its "
        "provenance (`origin`: native, translated or synthetic), its `source` and, for translated or synthetic "
        "rows, the `parent_id` it came from. `options` is a list of `{letter, text}` pairs in display order; "
        "`answer` lists the correct letters (the answer text for open-ended rows); `meta` is a JSON string.", "",
        "**Licence: not set.** The `license: other` above is a placeholder: set it to the terms of every source "
        "below before publishing.", "",
        "## Provenance", "", *table("origin", origins), "",
        "## Tasks", "", *table("task", tasks), "",
        "## Sources", "", "| source | records |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(sources.items())], "",
        "## Files", "",
        *[f"- `{s}`: {len(rs)} records in {len(shards[s])} Parquet shard(s) `data/{s}-*.parquet`"
          for s, rs in splits.items()], "",
        "Load with `datasets.load_dataset(\"<this folder or repo>\")`; read back into medinject records with "
        "`medinject.io.from_dataset`.", "",
    ]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n\n" + "\n".join(body)


def export_hf(records: Iterable[Record], out: str | Path, *, pretty_name: str | None = None,
              shard_rows: int = SHARD_ROWS) -> dict[str, int]:
    """Write `out/data/{split}-NNNNN-of-NNNNN.parquet` and `out/README.md`; returns records per split.

    The folder is built beside `out` and moved into place whole, so a failure leaves no half-written dataset.
    """
    import pyarrow.parquet as pq

    out = Path(out)
    splits = _by_split(records)
    if not splits:
        raise MedinjectError("no records to export")
    with atomic_folder(out) as tmp:
        (tmp / "data").mkdir(parents=True)
        shards: dict[str, list] = {}
        for s, rs in splits.items():
            shards[s] = [records_to_table(rs[i:i + shard_rows]) for i in range(0, len(rs), shard_rows)]
            for i, table in enumerate(shards[s]):
                pq.write_table(table, tmp / "data" / f"{s}-{i:05d}-of-{len(shards[s]):05d}.parquet")
        write_text(tmp / "README.md", _card(splits, shards, pretty_name or out.name))
    return {s: len(rs) for s, rs in splits.items()}

