"""The SFT recipe: records -> chats -> TRL `SFTTrainer` with a PEFT DoRA adapter -> adapter, manifest, card."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from ..errors import InputError, MedinjectError
from ..io import sha256_file, write_json, write_text
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
INPUT_HASHES = "input_sha256"  # beside the settings in RESOLVED_CONFIG: what --resume checks the data against
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
        hashes = before.pop(INPUT_HASHES, None) or {}
        now = _comparable(cfg)
        diff = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        if diff:
            raise InputError(out, f"--resume with settings that differ from the interrupted run: {', '.join(diff)}",
                             field="output_dir")
        _refuse_changed_data(hashes, out)
    return ckpt


def _refuse_changed_data(hashes: dict[str, str], out: Path) -> None:
    """Resume only on the data the interrupted run started with: a changed or missing file is refused."""
    for path, digest in hashes.items():
        if not Path(path).exists():
            raise InputError(path, f"missing: the interrupted run in {out} was trained on it; restore it to "
                                   "resume, or choose another output_dir")
        if sha256_file(path) != digest:
            raise InputError(path, f"changed since the interrupted run in {out} started (sha256 differs): "
                                   "restore it to resume, or choose another output_dir")


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


def check_model_ref(ref: str) -> None:
    """A missing local folder, or a hub id that is neither cached nor reachable, is a one-line error now
    (instead of a hub-id message for a mistyped path, or half a minute of download retries)."""
    if ref.startswith("toy:") or Path(ref).expanduser().exists():
        return
    if ref.startswith(("/", ".", "~")) or ref.count("/") > 1 or "\\" in ref:
        raise InputError(Path(ref), "model folder not found", field="model")
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(ref, "config.json"), str):
        return
    if constants.HF_HUB_OFFLINE:
        raise InputError(None, f"hub model {ref!r} is not in the local cache and HF_HUB_OFFLINE is set",
                         field="model")
    import socket
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout=5).close()
    except OSError as e:
        raise InputError(None, f"hub model {ref!r} is not in the local cache and {url.hostname} cannot be reached "
                               f"({e.strerror or e}); give a local folder or connect", field="model") from None


def load_tokenizer(cfg: TrainConfig):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    except (OSError, ValueError) as e:
        raise InputError(None, f"cannot load a tokenizer from {cfg.model!r} ({str(e).splitlines()[0]})",
                         field="model") from None
    ensure_chat_template(tokenizer, cfg.chat_template)
    if cfg.add_pad_token:
        # The authors' handling: a pad token of its own (never a real token of the text), right padding.
        tokenizer.add_special_tokens({"pad_token": cfg.add_pad_token})
        tokenizer.padding_side = "right"
    return tokenizer


def fit_embeddings(model, tokenizer) -> dict[str, int] | None:
    """Resize the embeddings to the tokenizer (after an added pad token), as the authors did."""
    before = model.get_input_embeddings().weight.shape[0]
    if before == len(tokenizer):
        return None
    model.resize_token_embeddings(len(tokenizer))
    return {"rows_before": int(before), "rows_after": len(tokenizer)}


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


def world_size_from_env() -> int:
    """Processes of the launch (torchrun and accelerate set WORLD_SIZE); 1 for a plain run."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def sft_arguments(cfg: TrainConfig, *, bf16: bool, has_eval: bool, world_size: int | None = None):
    import torch
    from trl import SFTConfig

    world = world_size_from_env() if world_size is None else world_size
    kw = cfg.trainer_args
    kw.update(output_dir=str(cfg.output_dir), bf16=bf16, include_num_input_tokens_seen="non_padding",
              disable_tqdm=True, gradient_accumulation_steps=cfg.accumulation(world))
    # Pinned memory only speeds up copies to an accelerator; without one torch warns on every data loader.
    kw.setdefault("dataloader_pin_memory", torch.accelerator.is_available())
    kw.pop("model_init_kwargs", None)  # used by load_model; the trainer gets a loaded model
    if has_eval:
        kw.setdefault("eval_strategy", "epoch")
    elif kw.get("eval_strategy", "no") != "no":
        raise InputError(None, "an eval_strategy needs validation data: set eval_data", field="eval_strategy")
    try:
        args = SFTConfig(**kw)
    except (ValueError, TypeError) as e:
        raise InputError(None, f"invalid trainer settings: {str(e).strip().splitlines()[0]}") from None
    if world_size is None and args.world_size != world and cfg.global_batch_size is not None:
        # a launcher that does not set WORLD_SIZE: derive the accumulation from the Trainer's own count
        return sft_arguments(cfg, bf16=bf16, has_eval=has_eval, world_size=args.world_size)
    return args


def batch_plan(cfg: TrainConfig, args) -> dict[str, Any]:
    """How the sequences per optimizer step come about, for the manifest."""
    return {"sequences_per_step": args.per_device_train_batch_size * args.gradient_accumulation_steps
            * args.world_size, "per_device_train_batch_size": args.per_device_train_batch_size,
            "gradient_accumulation_steps": args.gradient_accumulation_steps, "world_size": args.world_size,
            "accumulation": "derived from global_batch_size" if cfg.global_batch_size is not None else "as given",
            "global_batch_size": cfg.global_batch_size}


def _encode_split(records, tokenizer, cfg: TrainConfig, loss_on: str, what: str, over_long: str):
    max_length = cfg.trainer_args.get("max_length")
    enc = encode(records, tokenizer, loss_on=loss_on, max_length=max_length, over_long=over_long, prompt=cfg.prompt)
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
    check_model_ref(cfg.model)
    tokenizer = load_tokenizer(cfg)
    check_target_modules(module_names(cfg), cfg.adapter.get("target_modules"))
    train_enc = _encode_split(train_records, tokenizer, cfg, cfg.loss_on, "data", cfg.over_long)
    # Eval loss is always taken on whole answer tokens, so that runs of either recipe compare.
    eval_enc = (_encode_split(eval_records, tokenizer, cfg, "answer", "eval_data", "drop")
                if eval_records else None)
    args = sft_arguments(cfg, bf16=bf16, has_eval=eval_enc is not None)
    model = load_model(cfg, dtype)
    resized = fit_embeddings(model, tokenizer) if cfg.add_pad_token else None
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
        hashes = {f["path"]: f["sha256"] for f in [*train_files, *eval_files]}
        write_json(cfg.output_dir / RESOLVED_CONFIG, {**_comparable(cfg), INPUT_HASHES: hashes})
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
                          "truncated": train_enc.truncated, "answer_cut": train_enc.answer_cut,
                          "dropped_too_long": train_enc.dropped_too_long, "system_folded": train_enc.folded_system,
                          "label_tokens": train_enc.label_tokens, "tokens": train_enc.tokens},
                **({"eval": {"files": eval_files, "counts": counts(eval_records), "encoded": len(eval_enc.rows),
                             "dropped_too_long": eval_enc.dropped_too_long}} if eval_enc else {}),
            },
            "recipe": {"name": cfg.recipe, "loss_on": cfg.loss_on, "prompt": cfg.prompt, "over_long": cfg.over_long,
                       "pad_token": tokenizer.pad_token, "added_pad_token": cfg.add_pad_token,
                       "padding_side": tokenizer.padding_side, "embeddings_resized": resized,
                       "train_sampling_strategy": args.train_sampling_strategy},
            "loss_on": cfg.loss_on,
            "eval_loss_on": "answer",
            "world_size": args.world_size,
            "batch": batch_plan(cfg, args),
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
        plot_losses(curves, cfg.output_dir / "loss.png", f"{cfg.model} · {cfg.recipe} recipe, {cfg.loss_on} loss")
        write_text(cfg.output_dir / "config.yaml", config_to_yaml(cfg))
        write_model_card(cfg.output_dir, manifest)
        write_manifest(cfg.output_dir, manifest)  # last: its presence marks the run finished
        trackers = [t for t in (args.report_to or []) if t in ("tensorboard", "wandb")]
        if trackers:  # the trainer logged the curves; the config and data hashes go beside them
            from ..tracking import report_run

            report_run(manifest, trackers, log_dir=getattr(args, "logging_dir", None) or cfg.output_dir / "runs",
                       name="manifest")
    return cfg.output_dir
