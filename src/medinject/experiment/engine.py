"""The stage runner: content-addressed output folders, completion markers, resume after a crash.

Each node (one unit of a stage: `ingest/fmcqa`, `train/NAT`, `report`) writes into
`WORKDIR/<node name>/<key>/`, where the key hashes the node's settings, the content of its external
input files and the *output digests* of the nodes it depends on. A node is done when its folder holds
`done.json` (datatrove's completion markers). So a rerun skips finished work, a changed setting reruns
what depends on it, and an upstream rerun that produces identical outputs does not invalidate anything
downstream. A dependency may name a *view* of a node (`evaluate/NAT#oeq`): a digest of just the part
of its output the dependant reads, so the judge does not rerun when only multiple-choice settings change.
A folder without its marker is an interrupted run: the node runs again in the same folder with
`resume=True` (training continues from its last checkpoint).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MedinjectError
from ..hashing import json_hash
from ..io import sha256_file, write_json

STAGES = ("ingest", "translate", "synthesize", "curate", "mix", "train", "evaluate", "judge", "report")
MARKER = "done.json"
SETTINGS = "settings.json"
INDEX = "results.json"
_INTERNAL = {MARKER, SETTINGS, ".lock"}


@dataclass
class Context:
    node: Node
    out: Path
    inputs: dict[str, Path]  # dependency node name -> its output folder
    resume: bool  # the folder holds an interrupted run of this very key
    runtime: Any = None  # shared resources (backends, resolved models), owned by the caller


StageFn = Callable[[Context], dict | None]


@dataclass
class Node:
    name: str  # "train/NAT"; also the folder under the work directory
    stage: str  # one of STAGES
    fn: StageFn
    settings: dict = field(default_factory=dict)  # everything that changes the output, JSON-able
    deps: list[str] = field(default_factory=list)  # node names, or "name#view"
    files: list[str] = field(default_factory=list)  # external inputs, hashed by content
    views: dict[str, Callable[[Path], str]] = field(default_factory=dict)  # "" is the default digest
    version: str = "1"  # bump when the stage's code changes what it writes
    slurm: bool = False  # may run as a SLURM job
    describe: str = ""  # one line for the plan: what this node does
    uses: list[str] = field(default_factory=list)  # shared resources (LLM backends) the node needs


@dataclass
class Step:
    node: Node
    state: str  # cached | run | resume | pending | skip | blocked
    key: str | None = None
    dir: Path | None = None
    reason: str = ""
    marker: dict | None = None
    ran: bool = False  # done by this very run (not found in the cache)

    @property
    def will_run(self) -> bool:
        return self.state in ("run", "resume", "pending")





def digest_tree(path: Path, include: Iterable[str] | None = None) -> str:
    """Hash of the files under `path` (relative names and contents), markers excluded."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    wanted = set(include) if include is not None else None
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path).as_posix()
        if rel in _INTERNAL or rel.startswith(".") or (wanted is not None and rel not in wanted):
            continue
        h.update(rel.encode() + b"\0" + sha256_file(f).encode() + b"\n")
    return h.hexdigest()


def _rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


class Runner:
    """Plans and runs nodes in the order given (dependencies first)."""

    def __init__(self, nodes: list[Node], workdir: str | Path, *, runtime: Any = None,
                 log: Callable[[str], None] = print):
        self.nodes = nodes
        self.by_name = {n.name: n for n in nodes}
        self.workdir = Path(workdir)
        self.runtime = runtime
        self.log = log
        self._file_digests: dict[str, str] = {}
        for n in nodes:
            for ref in n.deps:
                dep = ref.partition("#")[0]
                if dep not in self.by_name or nodes.index(self.by_name[dep]) >= nodes.index(n):
                    raise ValueError(f"{n.name} depends on {dep}, which does not come before it")

    # ------------------------------------------------------------------ planning --

    def select(self, only: Iterable[str] | None = None, start: str | None = None) -> set[str]:
        """Node names chosen by `--only` (stages or node names) and `--from` (a stage or node, then all after)."""
        chosen = {n.name for n in self.nodes}
        if only:
            wanted = set()
            for item in only:
                hits = {n.name for n in self.nodes if item in (n.stage, n.name)}
                if not hits:
                    raise MedinjectError(f"--only {item}: no such stage or node; stages: {', '.join(STAGES)}")
                wanted |= hits
            chosen &= wanted
        if start:
            first = next((i for i, n in enumerate(self.nodes) if start in (n.stage, n.name)), None)
            if first is None:
                raise MedinjectError(f"--from {start}: no such stage or node; stages: {', '.join(STAGES)}")
            if start in STAGES:  # a stage: everything from its first node in pipeline order
                later = {n.name for n in self.nodes if STAGES.index(n.stage) >= STAGES.index(start)}
            else:
                later = {n.name for n in self.nodes[first:]}
            chosen &= later
        return chosen

    def _file_digest(self, ref: str) -> str:
        if ref not in self._file_digests:
            p = Path(ref)
            self._file_digests[ref] = digest_tree(p) if p.exists() else f"absent:{ref}"
        return self._file_digests[ref]

    def key_of(self, node: Node, dep_digests: dict[str, str]) -> str:
        return json_hash({
            "node": node.name, "stage": node.stage, "version": node.version, "settings": node.settings,
            "deps": dep_digests, "files": {f: self._file_digest(f) for f in node.files},
        })

    def dir_of(self, node: Node, key: str) -> Path:
        return self.workdir / node.name / key[:12]

    def _resolve(self, node: Node, steps: dict[str, Step], chosen: set[str], force: bool) -> Step:
        digests, waiting = {}, []
        for ref in node.deps:
            dep, _, view = ref.partition("#")
            st = steps[dep]
            if st.state == "cached":
                got = st.marker.get("digests", {})
                if view not in got:
                    raise MedinjectError(f"{node.name}: {dep} has no output view {view!r}")
                digests[ref] = got[view]
            else:
                waiting.append(st)
        selected = node.name in chosen
        if waiting:
            stuck = [s.node.name for s in waiting if s.state in ("skip", "blocked")]
            if not selected:
                return Step(node, "skip", reason="not selected")
            if stuck:
                return Step(node, "blocked", reason=f"needs {', '.join(stuck)} (not done, not selected)")
            return Step(node, "pending", reason="after " + ", ".join(s.node.name for s in waiting))
        key = self.key_of(node, digests)
        d = self.dir_of(node, key)
        marker = _read_marker(d, key)
        if marker is not None and not (force and selected):
            return Step(node, "cached", key, d, marker=marker)
        if not selected:
            return Step(node, "skip", key, d, reason="not selected")
        if (d / SETTINGS).exists() and marker is None:
            return Step(node, "resume", key, d, reason="interrupted earlier")
        return Step(node, "run", key, d, reason="forced" if marker is not None else "")

    def plan(self, only: Iterable[str] | None = None, start: str | None = None, force: bool = False) -> list[Step]:
        chosen = self.select(only, start)
        steps: dict[str, Step] = {}
        for node in self.nodes:
            steps[node.name] = self._resolve(node, steps, chosen, force)
        return list(steps.values())

    # ----------------------------------------------------------------- execution --

    def run(self, only: Iterable[str] | None = None, start: str | None = None, force: bool = False) -> list[Step]:
        """Run every selected node that is not done; returns the final steps (all cached on success)."""
        plan = self.plan(only, start, force)
        blocked = [s for s in plan if s.state == "blocked"]
        if blocked:
            s = blocked[0]
            raise MedinjectError(f"cannot run {s.node.name}: it {s.reason}; run without --only/--from first")
        chosen = self.select(only, start)
        steps: dict[str, Step] = {}
        for i, node in enumerate(self.nodes):
            step = self._resolve(node, steps, chosen, force)
            if step.state in ("run", "resume"):
                step = self._execute(step, step.state == "resume", steps)
                self._release(i, chosen)
            elif step.state == "cached":
                self.log(f"  cached   {node.name}  ({_rel(step.dir)})")
            steps[node.name] = step
        if _rank() == 0:
            self.write_index(list(steps.values()))
        return list(steps.values())

    def _release(self, done: int, chosen: set[str]) -> None:
        """Stop shared resources the next selected node does not use: a served model eats CPU even idle,
        more over hours of training than restarting it for the judge costs."""
        release = getattr(self.runtime, "release", None)
        if release is not None:
            following = next((n for n in self.nodes[done + 1:] if n.name in chosen), None)
            release(keep=set(following.uses) if following else set())

    def _execute(self, step: Step, resume: bool, steps: dict[str, Step]) -> Step:
        node, d = step.node, step.dir
        rank0 = _rank() == 0
        if step.reason == "forced" and rank0:
            shutil.rmtree(d)  # --force means from scratch, not a resume of the finished run
        d.mkdir(parents=True, exist_ok=True)
        with _node_lock(d, node.name, exclusive=rank0):
            if rank0:
                (d / MARKER).unlink(missing_ok=True)
                write_json(d / SETTINGS, {"node": node.name, "stage": node.stage, "key": step.key,
                                          "version": node.version, "settings": node.settings,
                                          "deps": node.deps, "files": node.files})
            inputs = {ref.partition("#")[0]: steps[ref.partition("#")[0]].dir for ref in node.deps}
            self.log(f"  {'resume' if resume else 'run':8} {node.name}  ({_rel(d)})")
            t0 = time.time()
            try:
                info = node.fn(Context(node, d, inputs, resume, self.runtime)) or {}
            except MedinjectError as e:
                raise MedinjectError(f"{node.name}: {e}") from None
            seconds = round(time.time() - t0, 3)
            views = {"": lambda p: digest_tree(p), **node.views}
            marker = {"node": node.name, "stage": node.stage, "key": step.key,
                      "digests": {v: fn(d) for v, fn in views.items()},
                      "seconds": seconds, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "info": info}
            if rank0:
                write_json(d / MARKER, marker)
                _point_latest(d)
        self.log(f"  done     {node.name}  in {seconds:.1f}s")
        return Step(node, "cached", step.key, d, marker=marker, ran=True)

    def write_index(self, steps: list[Step]) -> Path:
        """`WORKDIR/results.json`: the current output folder of every done node (what `report` reads)."""
        nodes = {s.node.name: {"stage": s.node.stage, "dir": os.path.relpath(s.dir, self.workdir),
                               "key": s.key, "finished": s.marker.get("finished")}
                 for s in steps if s.state == "cached"}
        return write_json(self.workdir / INDEX, {"workdir": str(self.workdir.resolve()), "nodes": nodes})


def _read_marker(d: Path, key: str) -> dict | None:
    try:
        marker = json.loads((d / MARKER).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return marker if marker.get("key") == key else None


@contextlib.contextmanager
def _node_lock(d: Path, name: str, exclusive: bool) -> Iterator[None]:
    if not exclusive:
        yield
        return
    with open(d / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MedinjectError(f"{name} is being run by another process ({d})") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _point_latest(d: Path) -> None:
    """`<node>/latest` -> the folder just finished, for people browsing the work directory."""
    link = d.parent / "latest"
    tmp = d.parent / f".latest.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(d.name, tmp)
    os.replace(tmp, link)


def _rel(p: Path | None) -> str:
    if p is None:
        return "-"
    p = Path(p).absolute()
    return str(p.relative_to(Path.cwd())) if p.is_relative_to(Path.cwd()) else str(p)


def format_plan(steps: list[Step]) -> str:
    """The plan as a table: stage, node, what will happen, what the node does, and why or where."""
    words = {"cached": "cached", "run": "run", "resume": "resume", "pending": "run", "skip": "skip",
             "blocked": "BLOCKED"}

    def detail(s: Step) -> str:
        if s.state == "pending":
            waits = s.reason.removeprefix("after ").split(", ")
            more = f" +{len(waits) - 3} more" if len(waits) > 3 else ""
            return "after " + ", ".join(waits[:3]) + more
        return s.reason or (_rel(s.dir) if s.dir else "")

    rows = [(s.node.stage, s.node.name, words[s.state], s.node.describe, detail(s)) for s in steps]
    head = ("stage", "node", "action", "what", "")
    widths = [max(len(r[i]) for r in [*rows, head]) for i in range(4)]
    lines = [("  ".join(f"{c:<{w}}" for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]).rstrip()
             for r in [head, *rows]]
    n_run = sum(s.will_run for s in steps)
    n_cached = sum(s.state == "cached" for s in steps)
    lines.append(f"{len(steps)} nodes: {n_run} to run, {n_cached} cached, "
                 f"{sum(s.state == 'skip' for s in steps)} not selected")
    return "\n".join(lines)

