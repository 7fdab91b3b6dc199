"""The seeded stratified sampler: pools indexed by (origin, source, task), integer quotas, nested draws.

Each stratum (origin, source or all sources, task) is shuffled once by a generator seeded from the seed
and the stratum's name, and every configuration takes a prefix of that order. So a configuration's
sample does not depend on which other configurations are built, NAT-TRAD's native half is drawn from
the same order as NAT (the mixes differ by provenance, not by the luck of the draw), and a new seed
gives new samples.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from ..errors import InputError, MedinjectError, first_validation_problem
from ..records import Origin, Record, Task
from .spec import Leaf, Weights, origin_weights, source_weights


@dataclass
class PoolIndex:
    """Where each usable record lives: per (origin, task), arrays of file index, byte offset and source code."""

    files: list[Path]
    sources: list[str] = field(default_factory=list)
    strata: dict[tuple[Origin, Task], dict[str, np.ndarray]] = field(default_factory=dict)
    used: Counter = field(default_factory=Counter)  # per file index
    ignored: Counter = field(default_factory=Counter)  # per file index: records of an origin not pooled there
    repeated: Counter = field(default_factory=Counter)  # per file index: lines repeating an earlier record

    def available(self, leaf: Leaf, task: Task) -> int:
        return len(self.locators(leaf, task)[0])

    def locators(self, leaf: Leaf, task: Task) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        origin, source = leaf
        s = self.strata.get((origin, task))
        if s is None:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        if source is None:
            return s["file"], s["offset"], s["source"]
        code = self.sources.index(source) if source in self.sources else -1
        m = s["source"] == code
        return s["file"][m], s["offset"][m], s["source"][m]


def index_pools(pools: dict[Origin, list[Path]]) -> PoolIndex:
    """Read every pool file once; a record joins the pool of its own origin if that pool lists the file.

    Only `origin`, `task` and `source` are read here; the records actually drawn are validated in full
    when they are written (`read_lines`), which spares validating a 500K-record pool to draw 33K.
    """
    files = pools_order(pools)
    wanted = {f: {o for o, paths in pools.items() if f in paths} for f in files}
    idx = PoolIndex(files)
    src_code: dict[str, int] = {}
    cols: dict[tuple[Origin, Task], list[list[int]]] = defaultdict(lambda: [[], [], []])
    seen: dict[str, tuple[bytes, Path, int]] = {}  # id -> (digest of the line, where first seen)
    for fi, path in enumerate(files):
        if not path.exists():
            raise InputError(path, "file not found")
        with open(path, "rb") as f:
            offset, lineno = 0, 0
            for raw in f:
                lineno += 1
                here, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                rid, origin, task, source = _fields(raw, path, lineno)
                digest = hashlib.blake2b(raw.strip(), digest_size=16).digest()
                first = seen.setdefault(rid, (digest, path, lineno))
                if first[1:] != (path, lineno):
                    # The same line twice (a concatenated pool, a curated file listed twice) is one record;
                    # the same id with other content is an ambiguity the user must settle.
                    if first[0] != digest:
                        raise InputError(path, f"id {rid!r} already names another record ({first[1]} line "
                                               f"{first[2]})", line=lineno, field="id")
                    idx.repeated[fi] += 1
                    continue
                if origin not in wanted[path]:
                    idx.ignored[fi] += 1
                    continue
                code = src_code.setdefault(source, len(src_code))
                c = cols[(origin, task)]
                c[0].append(fi)
                c[1].append(here)
                c[2].append(code)
                idx.used[fi] += 1
    idx.sources = list(src_code)
    for key, (f_, o_, s_) in cols.items():
        idx.strata[key] = {"file": np.array(f_, dtype=np.int64), "offset": np.array(o_, dtype=np.int64),
                           "source": np.array(s_, dtype=np.int64)}
    return idx


def _fields(raw: bytes, path: Path, lineno: int) -> tuple[str, Origin, Task, str]:
    try:
        obj = json.loads(raw)
    except ValueError as e:
        raise InputError(path, f"malformed JSON ({e})", line=lineno) from None
    if not isinstance(obj, dict):
        raise InputError(path, "expected a JSON object (a record)", line=lineno)
    for name, enum in (("origin", Origin), ("task", Task)):
        try:
            enum(obj.get(name))
        except ValueError:
            known = ", ".join(e.value for e in enum)
            raise InputError(path, f"{obj.get(name)!r} is not one of {known}", line=lineno, field=name) from None
    source = obj.get("source")
    if not isinstance(source, str) or not source:
        raise InputError(path, "missing source", line=lineno, field="source")
    rid = obj.get("id")
    if not isinstance(rid, str) or not rid:
        raise InputError(path, "missing id", line=lineno, field="id")
    return rid, Origin(obj["origin"]), Task(obj["task"]), source


def pools_order(pools: dict[Origin, list[Path]]) -> list[Path]:
    seen: dict[Path, None] = {}
    for origin in Origin:
        for p in pools.get(origin, []):
            seen.setdefault(p, None)
    return list(seen)


def apportion(total: int, weights: list[float]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder, ties to the earlier entry)."""
    s = float(sum(weights))
    if total <= 0 or s <= 0:
        return [0] * len(weights)
    exact = [total * w / s for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))[: total - sum(counts)]:
        counts[i] += 1
    return counts


def allocate(size: int, tasks: dict[Task, float], weights: Weights,
             have: dict[Origin, set[Task]] | None = None) -> dict[tuple[Origin, Task], int]:
    """Counts per (origin, task): task totals exactly `apportion(size, tasks)` (the same in every configuration),
    origin totals exactly `apportion(size, origin weights)`, each origin with (nearly) the same task mix,
    so that the configurations differ by provenance only.

    `have` (the 'redistribute' policy): the tasks each origin has. An origin lacking a task spreads its share of
    that task over its other tasks, so the configuration's task mix then differs (its manifest says how)."""
    task_list = [t for t in Task if tasks.get(t, 0) > 0]
    ow = origin_weights(weights)
    o_tot = apportion(size, [w for _, w in ow])
    if have is not None and any(not set(task_list) <= have.get(o, set()) for o, _ in ow):
        out: dict[tuple[Origin, Task], int] = {}
        for (o, _), n in zip(ow, o_tot, strict=True):
            own = [t for t in task_list if t in have.get(o, set())] or task_list
            out.update({(o, t): k for t, k in zip(own, apportion(n, [tasks[t] for t in own]), strict=True)})
        return out
    t_tot = apportion(size, [tasks[t] for t in task_list])
    exact = np.outer(t_tot, o_tot) / max(size, 1)
    counts = np.floor(exact).astype(np.int64)
    row_left = np.array(t_tot) - counts.sum(axis=1)
    col_left = np.array(o_tot) - counts.sum(axis=0)
    frac = exact - counts
    for flat in np.lexsort((np.arange(frac.size), -frac.ravel())):
        r, c = divmod(int(flat), len(o_tot))
        if row_left[r] > 0 and col_left[c] > 0:
            counts[r, c] += 1
            row_left[r] -= 1
            col_left[c] -= 1
    # Greedy can strand a remainder; any cell with both margins open takes it (cells have no other bound).
    for r in range(len(t_tot)):
        for c in range(len(o_tot)):
            k = min(row_left[r], col_left[c])
            if k > 0:
                counts[r, c] += k
                row_left[r] -= k
                col_left[c] -= k
    return {(o, t): int(counts[i, j]) for i, t in enumerate(task_list) for j, (o, _) in enumerate(ow)}


def tasks_held(index: PoolIndex) -> dict[Origin, set[Task]]:
    return {o: {t for t in Task if index.available((o, None), t)} for o in Origin}


def plan(index: PoolIndex, size: int, tasks: dict[Task, float], weights: Weights, redistribute: bool = False
         ) -> dict[tuple[Leaf, Task], int]:
    """Counts per stratum: `allocate`, then each origin's task count split among its weighted sources."""
    by_source = source_weights(weights)
    out: dict[tuple[Leaf, Task], int] = {}
    have = tasks_held(index) if redistribute else None
    for (origin, task), n in allocate(size, tasks, weights, have).items():
        if origin not in by_source:
            out[((origin, None), task)] = n
            continue
        sources = list(by_source[origin])
        have = [s for s in sources if index.available((origin, s), task)] or sources[:1]
        for s, k in zip(have, apportion(n, [by_source[origin][s] for s in have]), strict=True):
            out[((origin, s), task)] = k
    return out


def default_tasks(index: PoolIndex, configs: dict[str, Weights], allowed: list[Task] | None = None,
                  missing: str = "error") -> tuple[dict[Task, float], dict[str, list[str]]]:
    """Task proportions from the smallest common availability: for each task, the fewest records any origin
    used by the selected configurations has of it. Every single-origin configuration can then reach at
    least the sum of those minima, and no configuration is forced into a task mix its pools lack.

    A task that some of those origins have and another lacks is never zeroed silently: `missing` says what
    happens ('error': stop naming pool and task; 'redistribute': the minimum over the origins that have it,
    the others spreading their share over their own tasks; 'drop': left out). Returns (shares, lacking):
    task -> origins lacking it."""
    used = [o for o in Origin if o in {o for w in configs.values() for o, _ in origin_weights(w)}]
    shares: dict[Task, float] = {}
    lacking: dict[str, list[str]] = {}
    for t in allowed or list(Task):
        avail = {o: index.available((o, None), t) for o in used}
        holders = [o for o in used if avail[o]]
        if len(holders) < len(used) and holders:
            lacking[t.value] = [o.value for o in used if not avail[o]]
            if missing == "error":
                have = ", ".join(o.value for o in holders)
                raise MedinjectError(
                    f"pool {' and '.join(lacking[t.value])} has no {t.value} records, which {have} ha"
                    f"{'s' if len(holders) == 1 else 've'}: set the mix's missing_tasks to 'redistribute' (that "
                    f"origin spreads its {t.value} share over its other tasks) or 'drop' (no {t.value} in any "
                    "configuration), or give task shares (tasks:)")
            if missing == "drop":
                holders = []
        shares[t] = float(min(avail[o] for o in holders)) if holders else 0.0
    return shares, lacking


def shortfalls(index: PoolIndex, configs: dict[str, Weights], size: int, tasks: dict[Task, float],
               redistribute: bool = False) -> list[tuple[Leaf, Task, int, int, str]]:
    """(stratum pool, task, needed, available, config) for the largest need of each short stratum."""
    worst: dict[tuple[Leaf, Task], tuple[int, str]] = {}
    for name, w in configs.items():
        for (leaf, task), n in plan(index, size, tasks, w, redistribute).items():
            if n > index.available(leaf, task) and n > worst.get((leaf, task), (0, ""))[0]:
                worst[(leaf, task)] = (n, name)
    return [(leaf, task, n, index.available(leaf, task), name) for (leaf, task), (n, name) in worst.items()]


def largest_feasible(index: PoolIndex, configs: dict[str, Weights], size: int, tasks: dict[Task, float],
                     redistribute: bool = False) -> int:
    lo, hi = 0, size
    while lo < hi:  # feasibility is monotone up to rounding; the loop below settles the last unit
        mid = (lo + hi + 1) // 2
        if shortfalls(index, configs, mid, tasks, redistribute):
            hi = mid - 1
        else:
            lo = mid
    while lo > 0 and shortfalls(index, configs, lo, tasks, redistribute):
        lo -= 1
    return lo


def _stratum_seed(seed: int, leaf: Leaf, task: Task) -> list[int]:
    name = f"{leaf[0].value}/{leaf[1] or '*'}/{task.value}"
    return [seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, int.from_bytes(hashlib.sha256(name.encode()).digest()[:8],
                                                                       "little")]


def draw(index: PoolIndex, counts: dict[tuple[Leaf, Task], int], seed: int, name: str
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[Leaf, Task]]]:
    """(file, offset, source) of the drawn records in output order, and the stratum of each."""
    f_, o_, s_, strata = [], [], [], []
    for (leaf, task), n in counts.items():
        if n == 0:
            continue
        files, offsets, sources = index.locators(leaf, task)
        order = np.random.default_rng(_stratum_seed(seed, leaf, task)).permutation(len(files))[:n]
        f_.append(files[order])
        o_.append(offsets[order])
        s_.append(sources[order])
        strata += [(leaf, task)] * n
    files, offsets, sources = (np.concatenate(x) if x else np.zeros(0, dtype=np.int64) for x in (f_, o_, s_))
    shuffle = np.random.default_rng([seed & 0xFFFFFFFF, *name.encode()]).permutation(len(files))
    return files[shuffle], offsets[shuffle], sources[shuffle], [strata[i] for i in shuffle]


def read_lines(index: PoolIndex, files: np.ndarray, offsets: np.ndarray, validated: set | None = None
               ) -> list[bytes]:
    """The raw lines at (file, offset), in the given order, each a valid record (checked once per line)."""
    validated = set() if validated is None else validated
    out: list[bytes] = [b""] * len(files)
    for fi in np.unique(files).tolist():
        where = np.flatnonzero(files == fi)
        where = where[np.argsort(offsets[where], kind="stable")]
        path = index.files[fi]
        with open(path, "rb") as f:
            for i in where.tolist():
                f.seek(int(offsets[i]))
                line = f.readline().rstrip(b"\r\n")
                if (fi, int(offsets[i])) not in validated:
                    try:
                        Record.model_validate_json(line)
                    except ValidationError as e:
                        fld, msg = first_validation_problem(e)
                        rid = json.loads(line).get("id")
                        raise InputError(path, msg, record=str(rid) if rid is not None else None, field=fld) from None
                    validated.add((fi, int(offsets[i])))
                out[i] = line + b"\n"
    return out

