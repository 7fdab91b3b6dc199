"""Stopping `medinject run`: SIGTERM while a model server it started is up leaves no process of the run, the
port free, finished nodes cached, and a line saying how to resume."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

EXPERIMENT = """\
name: stop
sources:
  - {{name: native, path: "package:sample/native.jsonl", format: records}}
  - {{name: english, path: "package:sample/english.jsonl", format: records}}
  - {{name: test, path: "package:sample/eval.jsonl", format: records}}
backends:
  local: {{kind: openai, model: {model}, serve: true, concurrency: 2}}
translate:
  - {{name: english-fr, input: english, backend: local, options: {{max_tokens: 48, progress: false}}}}
curate:
  options: {{workers: 1, progress: false}}
mix: {{size: 6, configs: [NAT], shrink: true}}
train: {{model: {model}, overrides: {{max_steps: 1, bf16: false}}}}
evaluate: {{sets: [test]}}
"""


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            kids.setdefault(ppid, []).append(int(d.name))
    return kids


def descendants(pid: int) -> set[int]:
    kids, out, todo = _children(), set(), [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _server_started(pid: int) -> bool:
    for p in descendants(pid):
        try:
            if b"serve" in Path(f"/proc/{p}/cmdline").read_bytes():
                return True
        except OSError:
            pass
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("when", ["server up", "server starting"])
def test_sigterm_stops_the_server_and_every_worker_and_says_how_to_resume(tmp_path, toy_model, run_cli, when):
    exp = tmp_path / "exp.yaml"
    exp.write_text(EXPERIMENT.format(model=toy_model))
    work = tmp_path / "w"
    cmd = [sys.executable, "-m", "medinject.cli", "run", str(exp), "--workdir", str(work)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_COLOR": "1"}, start_new_session=True)
    try:
        seen, port = [], None
        for line in proc.stdout:
            seen.append(line)
            if when == "server starting" and "starting transformers serve" in line:
                while not _server_started(proc.pid) and proc.poll() is None:
                    time.sleep(0.05)
                break
            m = re.search(r"transformers serve for backend local on http://127\.0\.0\.1:(\d+)/v1", line)
            if m:
                port = int(m.group(1))
                assert not port_is_free(port)  # the server is up
                break
        assert proc.poll() is None and (port is not None or when == "server starting"), "".join(seen)
        family = descendants(proc.pid)
        assert family  # the server is a child of the run
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    if when == "server up":
        assert "stopped the server for backend local" in out
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: stopped by SIGTERM") and f"resume with: medinject run {exp}" in last, err
    deadline = time.monotonic() + 10  # SIGKILLed grandchildren may take a moment to be reaped by init
    while any(alive(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in family if alive(p)] == []
    assert port is None or port_is_free(port)

    # The finished ingest nodes are kept; the interrupted translation resumes in its own folder.
    code, plan, err = run_cli("run", exp, "--workdir", work, "--dry-run")
    assert code == 0, err
    states = dict(re.findall(r"^\S+\s+(\S+)\s+(cached|run|resume)\b", plan, flags=re.M))
    assert states["ingest/english"] == states["ingest/native"] == "cached", plan
    assert states["translate/english-fr"] in ("resume", "run"), plan
