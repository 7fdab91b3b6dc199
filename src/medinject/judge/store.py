"""Expert ratings in SQLite (WAL): one row per annotator, item and system; CSV export and import.

Each call opens its own connection, so the web app's worker threads never share one; WAL lets readers work
while a rating is written, and `busy_timeout` makes concurrent writers wait instead of failing.
"""

from __future__ import annotations

import contextlib
import csv
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InputError, MedinjectError
from ..io import atomic_path

COLUMNS = ("annotator", "item_id", "system", "score", "comment", "created_at", "updated_at")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ratings (
    annotator TEXT NOT NULL, item_id TEXT NOT NULL, system TEXT NOT NULL,
    score INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (annotator, item_id, system)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_UPSERT = """
INSERT INTO ratings (annotator, item_id, system, score, comment, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (annotator, item_id, system)
DO UPDATE SET score = excluded.score, comment = excluded.comment, updated_at = excluded.updated_at
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RatingStore:
    def __init__(self, path: str | Path, scale: tuple[int, int] | None = None):
        """Open (or create) the database; `scale` is recorded on first use and must match afterwards."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key = 'scale'").fetchone()
            stored = tuple(int(x) for x in row[0].split(",")) if row else None
            if scale is not None and stored is not None and tuple(scale) != stored:
                raise MedinjectError(f"{self.path} holds ratings on the scale {stored[0]}-{stored[1]}, "
                                     f"not {scale[0]}-{scale[1]}")
            if stored is None and scale is not None:
                db.execute("INSERT INTO meta (key, value) VALUES ('scale', ?)", (f"{scale[0]},{scale[1]}",))
            self.scale = stored or (tuple(scale) if scale else None)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA synchronous = FULL")  # a rating acknowledged to the browser is on disk
            yield db
        finally:
            db.close()

    def check_score(self, score) -> int:
        if isinstance(score, bool) or not isinstance(score, int):
            raise ValueError(f"score must be an integer, got {score!r}")
        if self.scale and not self.scale[0] <= score <= self.scale[1]:
            raise ValueError(f"score {score} is outside {self.scale[0]}-{self.scale[1]}")
        return score

    def rate(self, annotator: str, item_id: str, system: str, score: int, comment: str = "") -> None:
        score = self.check_score(score)
        now = _now()
        with self._db() as db:
            db.execute(_UPSERT, (annotator, item_id, system, score, comment or "", now, now))

    def ratings_of(self, annotator: str) -> dict[tuple[str, str], tuple[int, str]]:
        with self._db() as db:
            rows = db.execute("SELECT item_id, system, score, comment FROM ratings WHERE annotator = ?",
                              (annotator,)).fetchall()
        return {(i, s): (score, c) for i, s, score, c in rows}

    def rows(self) -> list[dict]:
        with self._db() as db:
            cur = db.execute(f"SELECT {', '.join(COLUMNS)} FROM ratings ORDER BY annotator, item_id, system")
            return [dict(zip(COLUMNS, r, strict=True)) for r in cur.fetchall()]

    def progress(self) -> dict[str, int]:
        with self._db() as db:
            return dict(db.execute("SELECT annotator, COUNT(*) FROM ratings GROUP BY annotator").fetchall())

    def export_csv(self, path: str | Path) -> int:
        rows = self.rows()
        with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        return len(rows)

    def import_csv(self, path: str | Path) -> int:
        """Add or replace ratings from a CSV in the export format; all lines are checked before any is written."""
        path = Path(path)
        if not path.exists():
            raise InputError(path, "file not found")
        rows: list[Sequence] = []
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS[:4] if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(path, f"missing column(s) {', '.join(missing)}", line=1)
            for row in reader:
                line = reader.line_num
                for c in COLUMNS[:3]:
                    if not (row.get(c) or "").strip():
                        raise InputError(path, "empty value", line=line, field=c)
                try:
                    score = self.check_score(int(row["score"]))
                except (TypeError, ValueError) as e:
                    msg = str(e) if "outside" in str(e) else f"score {row['score']!r} is not an integer"
                    raise InputError(path, msg, line=line, record=row["item_id"], field="score") from None
                now = _now()
                rows.append((row["annotator"], row["item_id"], row["system"], score, row.get("comment") or "",
                             row.get("created_at") or now, row.get("updated_at") or now))
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(_UPSERT, rows)
            db.execute("COMMIT")
        return len(rows)
