"""Every YAML file shipped under configs/ loads; the accelerate ones name a distributed type."""

from pathlib import Path

import pytest
import yaml

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
YAMLS = sorted(CONFIGS.rglob("*.yaml"))


def test_configs_are_shipped():
    assert {p.relative_to(CONFIGS).as_posix() for p in YAMLS} >= {
        "paper.yaml", "demo.yaml", "train/paper.yaml", "accelerate/ddp.yaml", "accelerate/fsdp.yaml"}


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.relative_to(CONFIGS).as_posix())
def test_yaml_parses_to_a_mapping(path):
    assert isinstance(yaml.safe_load(path.read_text(encoding="utf-8")), dict)


@pytest.mark.parametrize("path", sorted((CONFIGS / "accelerate").glob("*.yaml")), ids=lambda p: p.name)
def test_accelerate_configs_name_their_strategy(path):
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert cfg["distributed_type"] in {"MULTI_GPU", "FSDP", "DEEPSPEED"}
    assert cfg.get("num_processes", 1) >= 1
