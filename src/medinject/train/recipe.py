"""The SFT recipe: records -> chats -> TRL `SFTTrainer` with a PEFT DoRA adapter -> adapter, manifest, card."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from ..errors import InputError, MedinjectError
from ..io import write_json, write_text
from .config import TrainConfig, as_config, config_to_yaml
from .data import counts, encode, ensure_chat_template, load_split, to_dataset
from .manifest import (
    MANIFEST,
    git_commit,
    loss_curves,
    package_versions,
    plot_losses,
    write_manifest,
    write_model_card,
)

RESOLVED_CONFIG = "train_config.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def last_checkpoint(out: Path) -> Path | None:
    """The newest checkpoint whose trainer state was written in full (a kill may interrupt the last save)."""
    found = []
    for d in out.glob("checkpoint-*") if out.is_dir() else []:
        m = _CHECKPOINT.match(d.name)
        if not (m and d.is_dir()):
            continue
        try:
            json.loads((d / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found.append((int(m.group(1)), d))
    return max(found)[1] if found else None


def _check_output_dir(cfg: TrainConfig) -> Path | None:
    """The checkpoint to resume from, if any; refuses to overwrite a finished or interrupted run."""
    out = cfg.output_dir
    if (out / MANIFEST).exists():
        raise InputError(out, "holds a finished training run (manifest.json); choose another output_dir",
                         field="output_dir")
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder", field="output_dir")
    ckpt = last_checkpoint(out)
    if not cfg.resume:
        if ckpt is not None or any(out.glob("checkpoint-*")):
            raise InputError(out, "holds an interrupted run; pass --resume to continue it, or choose another "
                                  "output_dir", field="output_dir")
        return None
    saved = out / RESOLVED_CONFIG
    if ckpt is not None and saved.exists():
        before = json.loads(saved.read_text(encoding="utf-8"))
        now = _comparable(cfg)
        diff = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        if diff:
            raise InputError(out, f"--resume with settings that differ from the interrupted run: {', '.join(diff)}",
                             field="output_dir")
    return ckpt


def _comparable(cfg: TrainConfig) -> dict[str, Any]:
    d = cfg.model_dump(mode="json")
    d.pop("resume", None)
    return d


def _precision(cfg: TrainConfig) -> tuple[bool, Any]:
    import torch

    bf16 = cfg.trainer_args.get("bf16", "auto")
    if bf16 == "auto":
        bf16 = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    bf16 = bool(bf16)
    fp16 = bool(cfg.trainer_args.get("fp16"))
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(cfg.dtype)
    if dtype is None:
        dtype = torch.bfloat16 if bf16 else torch.float16 if fp16 else torch.float32
    return bf16, dtype


def load_tokenizer(cfg: TrainConfig):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    except (OSError, ValueError) as e:
        raise InputError(None, f"cannot load a tokenizer from {cfg.model!r} ({str(e).splitlines()[0]})",
                         field="model") from None
    ensure_chat_template(tokenizer, cfg.chat_template)
    return tokenizer


def load_model(cfg: TrainConfig, dtype):
    from transformers import AutoModelForCausalLM

    kwargs = dict(cfg.trainer_args.get("model_init_kwargs") or {})
    kwargs.setdefault("dtype", dtype)
    try:
        return AutoModelForCausalLM.from_pretrained(cfg.model, **kwargs)
    except (OSError, ValueError) as e:
        raise InputError(None, f"cannot load a causal LM from {cfg.model!r} ({str(e).splitlines()[0]})",
                         field="model") from None


def module_names(cfg: TrainConfig) -> dict[str, str]:
    """Module name -> class name, from the model's config alone (no weights are read)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    remote = bool((cfg.trainer_args.get("model_init_kwargs") or {}).get("trust_remote_code"))
    try:
        config = AutoConfig.from_pretrained(cfg.model, trust_remote_code=remote)
    except (OSError, ValueError) as e:
        raise InputError(None, f"cannot read a model config from {cfg.model!r} ({str(e).splitlines()[0]})",
                         field="model") from None
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config, trust_remote_code=remote)
    return {n: type(m).__name__ for n, m in skeleton.named_modules()}


def check_target_modules(modules: dict[str, str], targets) -> None:
    """Every named target must exist: PEFT only complains when none does."""
    if not isinstance(targets, list | tuple):
        return  # a regex or "all-linear": PEFT resolves it
    leaves = {n.rsplit(".", 1)[-1] for n in modules}
    missing = [t for t in targets if t not in leaves and not any(n.endswith("." + t) for n in modules)]
    if missing:
        linear = sorted({n.rsplit(".", 1)[-1] for n, kind in modules.items() if kind == "Linear"})
        raise InputError(None, f"the model has no module named {', '.join(missing)} "
                               f"(its linear layers: {', '.join(linear)})", field="adapter.target_modules")


def sft_arguments(cfg: TrainConfig, *, bf16: bool, has_eval: bool):
    import torch
    from trl import SFTConfig

    kw = cfg.trainer_args
    kw.update(output_dir=str(cfg.output_dir), bf16=bf16, include_num_input_tokens_seen="non_padding",
              disable_tqdm=True)
    # Pinned memory only speeds up copies to an accelerator; without one torch warns on every data loader.
    kw.setdefault("dataloader_pin_memory", torch.accelerator.is_available())
    kw.pop("model_init_kwargs", None)  # used by load_model; the trainer gets a loaded model
    if has_eval:
        kw.setdefault("eval_strategy", "epoch")
    elif kw.get("eval_strategy", "no") != "no":
        raise InputError(None, "an eval_strategy needs validation data: set eval_data", field="eval_strategy")
    try:
        return SFTConfig(**kw)
    except (ValueError, TypeError) as e:
        raise InputError(None, f"invalid trainer settings: {str(e).strip().splitlines()[0]}") from None


def _encode_split(records, tokenizer, cfg: TrainConfig, loss_on: str, what: str):
    max_length = cfg.trainer_args.get("max_length")
    enc = encode(records, tokenizer, loss_on=loss_on, max_length=max_length)
    if not enc.rows:
        raise MedinjectError(f"{what}: no record fits max_length={max_length} with its whole answer")
    return enc


def _trainer_class():
    from transformers.trainer_pt_utils import BatchRebalanceSampler
    from trl import SFTTrainer

    class SeededSFTTrainer(SFTTrainer):
        """transformers builds its batch-rebalancing sampler with a fixed seed (42); use the run's seed."""

        def _get_train_sampler(self, train_dataset=None):
            sampler = super()._get_train_sampler(train_dataset)
            if isinstance(sampler, BatchRebalanceSampler):
                sampler.seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return sampler

    return SeededSFTTrainer


def train(config: TrainConfig | dict[str, Any]) -> Path:
    """Fine-tune `config.model` on `config.data`; returns the output folder (adapter, tokenizer, manifest)."""
    from ..libwarnings import quiet_library_deprecations

    with quiet_library_deprecations():
        return _train(config)


def _train(config: TrainConfig | dict[str, Any]) -> Path:
    from peft import LoraConfig
    from transformers.trainer_callback import PrinterCallback

    from .callbacks import ProgressBar, StepSeed, WallClock, previous_wall_time

    cfg = as_config(config)
    t_start = time.monotonic()
    checkpoint = _check_output_dir(cfg)
    train_records, train_files = load_split(cfg.data, "data")
    eval_records, eval_files = load_split(cfg.eval_data, "eval_data")
    bf16, dtype = _precision(cfg)
    tokenizer = load_tokenizer(cfg)
    check_target_modules(module_names(cfg), cfg.adapter.get("target_modules"))
    train_enc = _encode_split(train_records, tokenizer, cfg, cfg.loss_on, "data")
    # Eval loss is always taken on the answer tokens, so that runs with either loss_on compare.
    eval_enc = _encode_split(eval_records, tokenizer, cfg, "answer", "eval_data") if eval_records else None
    args = sft_arguments(cfg, bf16=bf16, has_eval=eval_enc is not None)
    model = load_model(cfg, dtype)
    try:
        peft_config = LoraConfig(**cfg.adapter)
    except (ValueError, TypeError) as e:
        raise InputError(None, f"invalid adapter settings: {str(e).strip().splitlines()[0]}", field="adapter") from None
    clock = WallClock(previous_wall_time(checkpoint))
    trainer = _trainer_class()(
        model=model, args=args, train_dataset=to_dataset(train_enc),
        eval_dataset=to_dataset(eval_enc) if eval_enc else None,
        processing_class=tokenizer, peft_config=peft_config, callbacks=[StepSeed(), ProgressBar(), clock],
    )
    trainer.remove_callback(PrinterCallback)
    if trainer.is_world_process_zero():
        cfg.output_dir.mkdir(parents=True, exist_ok=True)
        write_json(cfg.output_dir / RESOLVED_CONFIG, _comparable(cfg))
    cpu0 = time.process_time()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    train_cpu_s = time.process_time() - cpu0
    eval_loss = None
    if eval_enc is not None:
        last = [h for h in trainer.state.log_history if "eval_loss" in h]
        if last and last[-1]["step"] == trainer.state.global_step:
            eval_loss = last[-1]["eval_loss"]
        else:
            eval_loss = trainer.evaluate()["eval_loss"]
    trainer.save_model(str(cfg.output_dir))  # adapter (PEFT layout) and tokenizer
    if trainer.is_world_process_zero():
        curves = loss_curves(trainer.state.log_history)
        manifest = {
            "kind": "medinject.train",
            "config": cfg.model_dump(mode="json"),
            "trainer_args": cfg.trainer_args | {"bf16": bf16},
            "sft_config": json.loads(args.to_json_string()),
            "data": {
                "train": {"files": train_files, "counts": counts(train_records), "encoded": len(train_enc.rows),
                          "truncated": train_enc.truncated, "dropped_too_long": train_enc.dropped_too_long,
                          "label_tokens": train_enc.label_tokens, "tokens": train_enc.tokens},
                **({"eval": {"files": eval_files, "counts": counts(eval_records), "encoded": len(eval_enc.rows),
                             "dropped_too_long": eval_enc.dropped_too_long}} if eval_enc else {}),
            },
            "loss_on": cfg.loss_on,
            "eval_loss_on": "answer",
            "world_size": args.world_size,
            "effective_batch": args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size,
            "resumed_from": str(checkpoint) if checkpoint else None,
            "versions": package_versions(),
            "git": git_commit(),
            "wall_time_s": clock.total_s,
            "wall_time_this_session_s": time.monotonic() - t_start,
            "results": {
                "global_step": trainer.state.global_step,
                "epochs": trainer.state.epoch,
                "tokens_seen": int(trainer.state.num_input_tokens_seen),
                "train_loss": curves["train"][-1][1] if curves["train"] else result.training_loss,
                "train_loss_mean_this_session": result.training_loss,
                "train_runtime_this_session_s": result.metrics.get("train_runtime"),
                # CPU seconds of this process in the training loop: a steadier speed measure on a shared CPU
                "train_cpu_time_this_session_s": train_cpu_s,
                "eval_loss": eval_loss,
            },
            "loss_curves": curves,
        }
        plot_losses(curves, cfg.output_dir / "loss.png", f"{cfg.model} · {cfg.loss_on} loss")
        write_text(cfg.output_dir / "config.yaml", config_to_yaml(cfg))
        write_model_card(cfg.output_dir, manifest)
        write_manifest(cfg.output_dir, manifest)  # last: its presence marks the run finished
    return cfg.output_dir
