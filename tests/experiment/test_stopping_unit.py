"""Stopping, in process: SIGTERM becomes `Stopped` (which `except Exception` cannot swallow), the runner's
cleanup runs, and the message says how far the run got and how to resume; the demo's closing line."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from medinject.demo import closing_message, stages_line
from medinject.errors import Stopped
from medinject.experiment.stopping import stop_on_signals

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


def test_sigterm_inside_the_block_raises_stopped_past_except_exception():
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Stopped) as info, stop_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)  # the handler raises at once; the sleep only keeps the block open until it does
        except Exception:  # a stage's broad handler must not swallow the stop
            pytest.fail("Stopped was caught as an Exception")
    assert info.value.exit_code == 143 and info.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is previous  # the handler is put back


def test_a_stopped_run_cleans_up_and_says_how_to_resume(run_cli, tmp_path, monkeypatch):
    """Ctrl-C in the first stage: the runtime is closed, nothing is marked done, and the line says how to resume."""
    from medinject.experiment import runtime

    closed = []
    monkeypatch.setattr(runtime.Runtime, "close", lambda self: closed.append(True))

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr("medinject.experiment.engine.Runner._execute", interrupted)
    work = tmp_path / "w"
    code, out, err = run_cli("run", DEMO, "mix.size=10", "--workdir", work)
    assert code == 130 and closed == [True]
    line = err.strip()
    assert line.count("\n") == 0 and line.startswith("error: stopped by Ctrl-C; every server and worker")
    assert "0 of 28 nodes are done" in line
    assert line.endswith(f"resume with: medinject run {DEMO} mix.size=10 --workdir {work}")


def _step(stage, ran):
    return SimpleNamespace(state="cached", ran=ran, node=SimpleNamespace(stage=stage))


def test_the_demo_closing_line_says_what_ran_now_and_what_came_from_the_cache():
    steps = [_step("ingest", False), _step("ingest", False), _step("train", True), _step("evaluate", True),
             _step("evaluate", False), _step("report", True)]
    assert stages_line(steps) == "ran now: train, evaluate, report; from the cache: ingest (2), evaluate"
    first = closing_message(Path("r/report.html"), 90, steps).splitlines()[0]
    assert first == ("Demo finished in 1.5 min (sample data, SmolLM2-135M-Instruct): ran now: train, evaluate, report; "
                     "from the cache: ingest (2), evaluate.")
    assert stages_line([]) == "ran now: none; from the cache: none"
