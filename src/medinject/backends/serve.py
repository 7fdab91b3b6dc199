"""Start `transformers serve` (a real OpenAI-compatible server) for a local model on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import MedinjectError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def served_model_name(model_dir: str | Path) -> str:
    """The model name requests must carry: the server is pinned to the exact path it was started with."""
    return str(Path(model_dir).resolve())


def _transformers_cli() -> str:
    here = Path(sys.executable).with_name("transformers")
    found = str(here) if here.exists() else shutil.which("transformers")
    if not found:
        raise MedinjectError("the `transformers` command is missing: pip install 'medinject[api]'")
    return found


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-800:]
            raise MedinjectError(f"transformers serve exited with status {proc.returncode}:\n{tail}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise MedinjectError(f"transformers serve did not answer on {url} within {timeout:.0f} s (log: {log})")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def serve_model(model_dir: str | Path, *, host: str = "127.0.0.1", device: str = "auto",
                startup_timeout: float = 300.0, log_path: str | Path | None = None) -> Iterator[str]:
    """Yield the base URL (`http://127.0.0.1:PORT/v1`) of a server for `model_dir`; stop it on exit.

    Requests must name the model `served_model_name(model_dir)` (or no model at all).
    """
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise MedinjectError(f"{model_dir}: not a model folder (no config.json)")
    log = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="transformers-serve-", suffix=".log")[1])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for attempt in range(3):  # another process may take the port between our probe and the server's bind
        port = free_port(host)
        cmd = [_transformers_cli(), "serve", served_model_name(model_dir), "--host", host, "--port", str(port),
               "--device", device, "--log-level", "warning"]
        with open(log, "wb") as logf:
            proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        url = f"http://{host}:{port}"
        try:
            _wait_ready(proc, url, log, startup_timeout)
        except MedinjectError:
            _stop(proc)
            if attempt < 2 and "address already in use" in log.read_text(errors="replace").lower():
                continue
            raise
        except BaseException:  # Ctrl-C or SIGTERM while the server starts: it runs in its own session, stop it
            _stop(proc)
            raise
        break
    try:
        yield f"{url}/v1"
    finally:
        _stop(proc)
        if log_path is None:
            log.unlink(missing_ok=True)
