"""A resumable LLM job: items -> requests -> checked outputs, every loss explained.

Each item ends either accepted (its records) or rejected (reason, detail, raw output). Outcomes are
appended to a journal beside the output as they complete; the request cache holds every answer. After a
crash (SIGKILL included) the same call skips journaled items and reads answered requests from the cache,
so nothing is lost and nothing is paid twice. The output, the rejected file and a summary are written
atomically at the end, in input order, and the journal is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import write_json, write_jsonl, write_records
from ..records import Record
from ..schemas import schema_id
from .base import Backend, ChatRequest, ChatResponse


@dataclass
class Outcome:
    records: list[Record] = field(default_factory=list)
    reason: str | None = None  # None: accepted
    detail: str = ""
    raw: str | None = None

    @property
    def accepted(self) -> bool:
        return self.reason is None


@dataclass
class Job:
    """What a stage supplies: how to ask, how to check, and (optionally) how to ask again once."""

    name: str
    item_id: Callable[[Any], str]
    request: Callable[[Any], ChatRequest]
    check: Callable[[Any, ChatResponse], Outcome]
    retry: Callable[[Any, ChatRequest, ChatResponse, Outcome], ChatRequest | None] | None = None
    describe_input: Callable[[Any], Any] = lambda item: None  # what the rejected file shows of an item
    precheck: Callable[[Any], Outcome | None] | None = None  # reject before asking (no request sent)
    fingerprint: dict[str, Any] = field(default_factory=dict)  # settings; a change discards the journal


def sidecar_paths(out: str | Path) -> tuple[Path, Path]:
    """(rejected file, summary file) beside `out`: `X.rejected.jsonl` and `X.summary.json`."""
    out = Path(out)
    stem = out.name.removesuffix(".jsonl").removesuffix(".parquet")
    return out.with_name(f"{stem}.rejected.jsonl"), out.with_name(f"{stem}.summary.json")


def _refuse_changed_input(folder: Path, meta: Path, fingerprint: dict[str, Any]) -> None:
    """A journal is resumed only on the input it was started on: when nothing but the input's content changed,
    the run is refused rather than resumed on other data (other changes start the job over, as before)."""
    from ..errors import InputError

    try:
        before = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # an unreadable journal is discarded below
    if not isinstance(before, dict) or "input" not in fingerprint:
        return
    old, new = before.pop("input_sha256", None), fingerprint.get("input_sha256")
    rest = {k: v for k, v in fingerprint.items() if k != "input_sha256"}
    if old and new and old != new and json.dumps(before, sort_keys=True, default=str) == json.dumps(
            rest, sort_keys=True, default=str):
        raise InputError(fingerprint["input"], f"changed since the interrupted run journaled in {folder}: restore "
                                               f"it, or delete {folder} to start over (cached answers are kept)")


class _Journal:
    def __init__(self, folder: Path, fingerprint: dict[str, Any], log: Callable[[str], None]):
        self.folder = folder
        meta = folder / "job.json"
        fp = json.dumps(fingerprint, sort_keys=True, default=str)
        if folder.exists() and meta.exists():
            _refuse_changed_input(folder, meta, fingerprint)
        if folder.exists() and (not meta.exists() or meta.read_text(encoding="utf-8") != fp):
            log(f"settings changed since the interrupted run: starting over in {folder} (cached answers still apply)")
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if not meta.exists():
            meta.write_text(fp, encoding="utf-8")
        self.accepted = self._load("accepted.jsonl")
        self.rejected = self._load("rejected.jsonl")
        self._files = {name: open(folder / name, "a", encoding="utf-8")
                       for name in ("accepted.jsonl", "rejected.jsonl")}
        self._last_sync = time.monotonic()

    def _load(self, name: str) -> dict[str, dict]:
        path = self.folder / name
        rows: dict[str, dict] = {}
        if not path.exists():
            return rows
        data = path.read_bytes()
        good = data[:data.rfind(b"\n") + 1]  # a kill mid-write leaves a torn last line: drop it
        if len(good) != len(data):
            with open(path, "r+b") as f:
                f.truncate(len(good))
        for line in good.decode("utf-8").splitlines():
            row = json.loads(line)
            rows.setdefault(row["id"], row)
        return rows

    def done(self, item_id: str) -> bool:
        return item_id in self.accepted or item_id in self.rejected

    def write(self, name: str, row: dict) -> None:
        (self.accepted if name == "accepted.jsonl" else self.rejected)[row["id"]] = row
        f = self._files[name]
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()  # in the OS after each item: survives SIGKILL; fsync below bounds a power cut to ~1 s
        if time.monotonic() - self._last_sync > 1.0:
            self.sync()

    def sync(self) -> None:
        for f in self._files.values():
            f.flush()
            os.fsync(f.fileno())
        self._last_sync = time.monotonic()

    def close(self) -> None:
        self.sync()
        for f in self._files.values():
            f.close()


class _Progress:
    """items/s, tokens and cost so far, on the shared progress bar (silent when disabled)."""

    def __init__(self, label: str, total: int, done: int, enabled: bool):
        from ..progress import progress

        self.tokens = 0
        self.cost = 0.0
        self._stack = contextlib.ExitStack()
        self.bar = self._stack.enter_context(progress(label, total, enabled=enabled, completed=done, stats=True))
        self.start, self.n = time.monotonic(), 0

    def add_usage(self, resp: ChatResponse) -> None:
        self.tokens += sum(resp.usage.values())
        self.cost += resp.cost

    def advance(self) -> None:
        self.n += 1
        rate = self.n / max(time.monotonic() - self.start, 1e-6)
        self.bar.advance(stats=f"{rate:.1f} it/s  {self.tokens:,} tok  ${self.cost:.4f}")

    def close(self) -> None:
        self._stack.close()


def run_job(job: Job, items: Sequence[Any], backend: Backend, out_path: str | Path, *,
            rejected_path: str | Path | None = None, progress: bool = True, chunk: int = 2048,
            log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run `job` over `items`; write accepted records to `out_path` and rejections beside it. Returns the summary."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    out_path = Path(out_path)
    default_rej, summary_path = sidecar_paths(out_path)
    rejected_path = Path(rejected_path) if rejected_path else default_rej
    ids = [job.item_id(x) for x in items]
    dup = next((i for i, n in Counter(ids).items() if n > 1), None)
    if dup is not None:
        from ..errors import MedinjectError

        raise MedinjectError(f"{job.name}: item id {dup!r} appears more than once in the input")
    started = time.monotonic()
    journal = _Journal(out_path.with_name(f".{out_path.name}.partial"), job.fingerprint, log)
    todo = [(i, x) for i, x in zip(ids, items, strict=True) if not journal.done(i)]
    if len(todo) < len(items):
        log(f"{job.name}: resuming, {len(items) - len(todo)} of {len(items)} items already done")
    bar = _Progress(job.name, len(items), len(items) - len(todo), progress)
    usage = Counter()
    cost = 0.0
    cached = retried = 0

    def settle(item_id: str, item: Any, outcome: Outcome, attempts: int) -> None:
        if outcome.accepted:
            journal.write("accepted.jsonl", {"id": item_id, "attempts": attempts,
                                             "records": [r.model_dump(mode="json") for r in outcome.records]})
        else:
            journal.write("rejected.jsonl", {"id": item_id, "reason": outcome.reason, "detail": outcome.detail,
                                             "attempts": attempts, "raw": outcome.raw,
                                             "input": job.describe_input(item)})
        bar.advance()

    # Checks and journal writes run on a thread of their own, so that validating one answer never holds up the
    # event loop that keeps the other requests in flight.
    checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{job.name}-checks")
    try:
        for start in range(0, len(todo), chunk):
            part = dict(todo[start:start + chunk])
            if job.precheck is not None:
                for i, x in list(part.items()):
                    early = job.precheck(x)
                    if early is not None:
                        settle(i, x, early, 0)
                        del part[i]
            requests = {i: job.request(x) for i, x in part.items()}
            again: list[tuple[str, ChatRequest]] = []
            first: dict[str, Outcome] = {}

            def on_first(resp: ChatResponse, part=part, requests=requests, again=again, first=first) -> None:
                nonlocal cost, cached
                usage.update(resp.usage)
                cost += resp.cost
                cached += resp.cached
                bar.add_usage(resp)
                item = part[resp.tag]
                outcome = job.check(item, resp)
                req2 = job.retry(item, requests[resp.tag], resp, outcome) if (
                    job.retry and not outcome.accepted) else None
                if req2 is None:
                    settle(resp.tag, item, outcome, 1)
                else:
                    first[resp.tag] = outcome
                    again.append((resp.tag, req2))

            def on_second(resp: ChatResponse, part=part, first=first) -> None:
                nonlocal cost, cached
                usage.update(resp.usage)
                cost += resp.cost
                cached += resp.cached
                bar.add_usage(resp)
                outcome = job.check(part[resp.tag], resp)
                if not outcome.accepted:
                    outcome.detail = f"{outcome.detail} (first attempt: {first[resp.tag].reason})".strip()
                settle(resp.tag, part[resp.tag], outcome, 2)

            _generate(backend, [_tagged(r, i) for i, r in requests.items()], on_first, checks)
            if again:
                retried += len(again)
                _generate(backend, [_tagged(r, i) for i, r in again], on_second, checks)
    finally:
        checks.shutdown(wait=True)
        bar.close()
        journal.close()

    accepted = [r for i in ids if i in journal.accepted for r in journal.accepted[i]["records"]]
    rejected = [journal.rejected[i] for i in ids if i in journal.rejected]
    reasons = Counter(r["reason"] for r in rejected)
    n_out = write_records(out_path, (Record.model_validate(r) for r in accepted))
    write_jsonl(rejected_path, rejected)
    summary = {
        "schema": schema_id("llm-stage.summary"),
        "stage": job.name, "items": len(items), "accepted": len(ids) - len(rejected), "records": n_out,
        "rejected": len(rejected), "rejected_by_reason": dict(reasons.most_common()),
        "retried": retried, "cached_responses": cached,
        "prompt_tokens": usage["prompt_tokens"], "completion_tokens": usage["completion_tokens"],
        "cost": round(cost, 6), "seconds": round(time.monotonic() - started, 2),
        "output": str(out_path), "rejected_file": str(rejected_path), **job.fingerprint,
    }
    write_json(summary_path, summary)
    shutil.rmtree(journal.folder, ignore_errors=True)
    return summary


def _generate(backend: Backend, requests: list[ChatRequest], handle: Callable[[ChatResponse], None],
              checks: ThreadPoolExecutor) -> None:
    """Generate, handing each response to `handle` on the checks thread; returns once all are handled."""
    pending = []
    backend.generate(requests, on_result=lambda resp: pending.append(checks.submit(handle, resp)))
    for f in pending:
        f.result()  # re-raises a handler's error


def _tagged(req: ChatRequest, tag: str) -> ChatRequest:
    from dataclasses import replace

    return req if req.tag == tag else replace(req, tag=tag)


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{summary['stage']}: {summary['accepted']} accepted, {summary['rejected']} rejected "
             f"of {summary['items']} items; cost ${summary['cost']:.4f} "
             f"({summary['prompt_tokens']:,} prompt + {summary['completion_tokens']:,} completion tokens, "
             f"{summary['cached_responses']} from cache)"]
    for reason, n in summary["rejected_by_reason"].items():
        lines.append(f"  rejected, {reason}: {n}")
    lines.append(f"  output: {summary['output']}  rejected: {summary['rejected_file']}")
    return "\n".join(lines)
