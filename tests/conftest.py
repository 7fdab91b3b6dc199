"""Shared fixtures: the real public data beside the repository and a toy model built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

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


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    from medinject.cli import main

    def run(*args: str):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
