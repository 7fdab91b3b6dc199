"""What a finished run leaves beside its adapter: manifest.json (the completion marker), a model card, a plot."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

from ..io import package_versions as versions_of
from ..io import write_json, write_text
from ..schemas import stamp

MANIFEST = "manifest.json"
PACKAGES = ("medinject", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers")


def package_versions() -> dict[str, str | None]:
    return {"python": platform.python_version(), **versions_of(PACKAGES)}


def git_commit() -> dict[str, Any] | None:
    """The commit of the medinject checkout, and whether it had uncommitted changes; None outside git."""
    repo = Path(__file__).resolve().parents[3]

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def loss_curves(log_history: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """(step, loss) pairs for training and evaluation, from the Trainer's log history."""
    train = [[h["step"], h["loss"]] for h in log_history if "loss" in h]
    evals = [[h["step"], h["eval_loss"]] for h in log_history if "eval_loss" in h]
    return {"train": train, "eval": evals}


def plot_losses(curves: dict[str, list[list[float]]], path: Path, title: str) -> Path | None:
    from ..plotting import loss_plot

    return loss_plot(curves, path, title)

def write_manifest(out: Path, manifest: dict[str, Any]) -> Path:
    return write_json(out / MANIFEST, stamp("train.manifest", manifest))


def _table(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items()) or "none"


def model_card(manifest: dict[str, Any]) -> str:
    cfg = manifest["config"]
    ad = cfg["adapter"]
    tr = manifest["trainer_args"]
    data = manifest["data"]
    train_counts = data["train"]["counts"]
    method = "DoRA" if ad.get("use_dora") else "LoRA"
    files = "\n".join(f"| `{f['path']}` | {f['records']} | `{f['sha256'][:16]}…` |" for f in data["train"]["files"])
    evals = data.get("eval")
    eval_line = (f"Validation: {evals['counts']['total']} records ({_table(evals['counts']['origin'])}); "
                 f"final eval loss on answer tokens **{_fmt(manifest['results'].get('eval_loss'))}**."
                 if evals else "No validation set was given.")
    loss_on = ("the assistant answer and its end-of-turn token only" if cfg["loss_on"] == "answer"
               else "every non-padding token of the rendered chat")
    recipe = manifest.get("recipe") or {}
    batch = manifest.get("batch") or {"per_device_train_batch_size": tr.get("per_device_train_batch_size"),
                                      "gradient_accumulation_steps": tr.get("gradient_accumulation_steps"),
                                      "sequences_per_step": manifest["effective_batch"]}
    return f"""---
library_name: peft
base_model: {cfg['model']}
tags: [medinject, {method.lower()}, sft, medical, french]
language: [fr]
---

# {method} adapter for `{cfg['model']}`

Fine-tuned with medinject {manifest['versions'].get('medinject')} on French biomedical instruction records.
Research use only: **not for clinical or diagnostic use**.

## Data
{train_counts['total']} training records — by origin: {_table(train_counts['origin'])}; by task:
{_table(train_counts['task'])}; by source: {_table(train_counts['source'])}.

| file | records | sha256 |
|---|---|---|
{files}

{eval_line}

## Recipe
Recipe `{cfg.get('recipe', 'medinject')}` (prompt `{recipe.get('prompt', cfg.get('prompt'))}`, over-long chats
{'truncated' if recipe.get('over_long', cfg.get('over_long')) == 'truncate' else 'dropped when the answer is cut'}).
TRL `SFTTrainer`, PEFT {method}: rank {ad['r']}, alpha {ad['lora_alpha']}, dropout {ad['lora_dropout']}, on
{', '.join(ad['target_modules']) if isinstance(ad['target_modules'], list) else ad['target_modules']}.
Loss on {loss_on}. Epochs {tr.get('num_train_epochs')} (max steps {tr.get('max_steps', -1)}), per-device batch
{batch['per_device_train_batch_size']} × accumulation {batch['gradient_accumulation_steps']}
× {manifest['world_size']} process(es) = {batch['sequences_per_step']} sequences per step;
learning rate {tr.get('learning_rate')}, {tr.get('lr_scheduler_type')} schedule, warm-up {tr.get('warmup_steps')};
max length {tr.get('max_length')}; bf16 {tr.get('bf16')}; seed {tr.get('seed')}.

## Run
{manifest['results']['global_step']} optimizer steps, {manifest['results']['tokens_seen']:,} tokens seen (padding
excluded), {manifest['wall_time_s']:.0f} s. Final training loss {_fmt(manifest['results'].get('train_loss'))}.
Full settings, file hashes, package versions and git commit: `manifest.json`.

## Use
```python
from peft import AutoPeftModelForCausalLM
model = AutoPeftModelForCausalLM.from_pretrained("THIS_FOLDER")
```
or `medinject eval --adapter THIS_FOLDER`, or `medinject merge THIS_FOLDER -o MERGED` for a plain model.
"""


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def write_model_card(out: Path, manifest: dict[str, Any]) -> Path:
    return write_text(out / "README.md", model_card(manifest))
