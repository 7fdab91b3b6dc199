"""Fine-tuning: the paper's SFT recipe (TRL SFTTrainer + PEFT DoRA), resumable; adapter merging.

Heavy libraries are imported when a function runs, so `from medinject.train import load_config` stays light.
"""

from __future__ import annotations

from typing import Any

from .config import TrainConfig, load_config


def train(config: TrainConfig | dict[str, Any]):
    """Fine-tune; returns the output folder. See `medinject.train.recipe.train`."""
    from .recipe import train as _train

    return _train(config)


def merge_adapter(adapter_dir, out, **kwargs):
    from .merge import merge_adapter as _merge

    return _merge(adapter_dir, out, **kwargs)


__all__ = ["TrainConfig", "load_config", "train", "merge_adapter"]
