"""A persistent request cache in SQLite, shared by every stage and every process.

A request that got an answer is never sent again: the answer is committed as soon as it arrives, before
the caller sees it, so a job killed with SIGKILL loses at most the requests that were in flight. WAL
mode lets several processes (parallel jobs, a judge beside a translation) read and write one file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from .base import ChatResponse, token_count

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    usage TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def default_cache_path() -> Path:
    """`$MEDINJECT_CACHE`, else ~/.cache/medinject/requests.sqlite."""
    env = os.environ.get("MEDINJECT_CACHE")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "medinject" / "requests.sqlite"


class RequestCache:
    """Answers keyed by `ChatRequest.cache_key(model)`. Safe to share between threads and processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL keeps every committed answer across a process crash (not across power loss), at a
        # fraction of FULL's fsync cost.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._db.execute(_SCHEMA)

    def get(self, key: str) -> ChatResponse | None:
        with self._lock:
            row = self._db.execute("SELECT text, usage FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        # An answer cached by another version (or another tool) must not crash a rerun: coerce, never trust.
        try:
            usage = json.loads(row[1])
        except (TypeError, ValueError):
            usage = {}
        usage = {k: token_count(v) for k, v in usage.items()} if isinstance(usage, dict) else {}
        text = row[0] if isinstance(row[0], str) else (row[0].decode("utf-8", "replace")
                                                       if isinstance(row[0], bytes) else str(row[0]))
        return ChatResponse(text=text, usage=usage, cached=True)

    def put(self, key: str, model: str, text: str, usage: dict[str, int]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, model, text, usage, created) VALUES (?, ?, ?, ?, ?)",
                (key, model, text, json.dumps(usage), time.time()),
            )

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def present(self, keys: list[str]) -> set[str]:
        """Which of `keys` have an answer: one query per 500 keys instead of one per request."""
        found: set[str] = set()
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                found.update(r[0] for r in self._db.execute(f"SELECT key FROM responses WHERE key IN ({marks})", chunk))
        return found

    def keys(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT key FROM responses")}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_cache(cache: RequestCache | str | Path | bool | None) -> RequestCache | None:
    """Normalise the `cache=` argument: an instance, a path, True (the default path) or None/False (off)."""
    if cache is None or cache is False:
        return None
    if isinstance(cache, RequestCache):
        return cache
    return RequestCache(default_cache_path() if cache is True else cache)
