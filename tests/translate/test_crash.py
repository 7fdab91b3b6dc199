"""SIGKILL in the middle of a 500-item translation, then the same command again."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from fakeserver import FakeChatServer, french_json_reply

from medinject.io import iter_jsonl, load_records


def _cached(path) -> int:
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_sigkill_then_rerun_loses_nothing_and_pays_nothing_twice(medqa_en, tmp_path):
    src = medqa_en(500)
    records = load_records(src)
    english = {r.question for r in records[::50]}  # 10 items always answered in English: rejected

    def reply(body):
        user = body["messages"][1]["content"]
        if json.loads(user[user.index("{"):])["question"] in english:
            return user[user.index("{"):]
        return french_json_reply(body)

    secret = "sk-crash-test-77e1"
    env = {**os.environ, "CRASH_KEY": secret}
    with FakeChatServer(reply, hold_after=200) as server:
        cmd = [sys.executable, "-m", "medinject.cli", "translate", str(src), "-o", str(tmp_path / "fr.jsonl"),
               "--model", "fake", "--base-url", server.base_url, "--api-key-env", "CRASH_KEY",
               "--cache", str(tmp_path / "cache.sqlite"), "--concurrency", "8", "--no-progress"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # The server froze after 200 answers; wait until the client has cached all of them and journaled some
        # outcomes, then kill it.
        journal = tmp_path / ".fr.jsonl.partial" / "accepted.jsonl"
        deadline = time.monotonic() + 120
        while not (server.held.is_set() and _cached(tmp_path / "cache.sqlite") >= len(server.answered)
                   and journal.exists() and journal.stat().st_size > 0):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        first_out = proc.communicate()[0].decode()
        assert proc.returncode == -signal.SIGKILL
        answered_before = set(server.answered)
        assert len(answered_before) == 200
        assert not (tmp_path / "fr.jsonl").exists() and (tmp_path / ".fr.jsonl.partial").is_dir()

        server.release()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "resuming" in done.stderr

    # No request answered before the kill was sent again.
    assert all(server.received[k] == 1 for k in answered_before)
    # Every item exactly once, in the output or the rejected file.
    out_ids = [r.parent_id for r in load_records(tmp_path / "fr.jsonl")]
    rej_ids = [row["id"] for _, row in iter_jsonl(tmp_path / "fr.rejected.jsonl")]
    assert len(out_ids) == 490 and len(rej_ids) == 10
    assert sorted(out_ids + rej_ids) == sorted(r.id for r in records)
    summary = json.loads((tmp_path / "fr.summary.json").read_text())
    assert summary["rejected_by_reason"] == {"not_french": 10}
    # ... and the key is in nothing the runs wrote or printed.
    assert secret not in first_out + done.stdout + done.stderr
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f
