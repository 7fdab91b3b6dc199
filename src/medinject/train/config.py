"""The training configuration: a few fields of our own, the adapter, and TRL's `SFTConfig` fields as they are.

Any `SFTConfig` / `TrainingArguments` field may be set at the top level (`learning_rate`, `max_steps`...), any
PEFT `LoraConfig` field under `adapter`. Both are checked against the installed libraries' own field lists and
types, so nothing is re-declared here and a typo is an error, not a silently ignored key.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InputError, MedinjectError, first_validation_problem
from ..io import read_yaml as _read_yaml_file

# The paper's recipe (MedInjection-FR, Belmadani et al. 2026). Every value can be overridden.
ADAPTER_DEFAULTS: dict[str, Any] = {
    "use_dora": True,
    "r": 16,
    "lora_alpha": 16,
    "lora_dropout": 0.05,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "bias": "none",
    "task_type": "CAUSAL_LM",
}

# SFTConfig fields whose default we change: the paper's hyper-parameters, plus speed and privacy choices
# (README "Fine-tuning" says what each buys, measured).
TRAINER_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 10,
    "per_device_train_batch_size": 12,
    "gradient_accumulation_steps": 8,
    "learning_rate": 1e-4,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.05,  # a float below 1 is a ratio of the total steps
    "max_length": 2048,
    "bf16": "auto",
    "seed": 42,
    # trl turns checkpointing on; for adapters on models that fit, recomputing activations only costs time.
    # (`activation_checkpointing` is transformers 5's name for `gradient_checkpointing`.)
    "activation_checkpointing": False,
    # Shuffles like a random sampler per optimizer step, then groups by length inside the step: less
    # padding, same gradient, and the order is a pure function of (seed, epoch), so resuming keeps it.
    "train_sampling_strategy": "batch_rebalance",
    # Every adapter weight gets a gradient each step: DDP need not search for unused ones (an extra graph walk).
    "ddp_find_unused_parameters": False,
    "report_to": "none",
    "logging_steps": 10,
    "save_strategy": "steps",
    "save_steps": 200,
    "save_total_limit": 2,
}

# SFTConfig fields that medinject sets itself.
MANAGED = {
    "assistant_only_loss": "use 'loss_on: answer' or 'loss_on: all'",
    "completion_only_loss": "use 'loss_on: answer' or 'loss_on: all'",
    "resume_from_checkpoint": "use --resume (or 'resume: true')",
    "include_num_input_tokens_seen": "medinject always counts non-padding tokens",
    "disable_tqdm": "medinject shows its own progress bar",
    "chat_template_path": "set the top-level 'chat_template' (a Jinja file)",
}


def _is_path_like(v: Any) -> bool:
    return isinstance(v, (str, Path))


class TrainConfig(BaseModel):
    """What `medinject train` needs. Extra top-level keys are `SFTConfig` fields."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    model: str = Field(min_length=1, description="Base model: a local folder or a hub id.")
    data: list[Path] = Field(min_length=1, description="Training record files (one mix).")
    eval_data: list[Path] = Field(default_factory=list, description="Validation record files: eval loss each epoch.")
    output_dir: Path
    loss_on: Literal["answer", "all"] = Field(
        "answer", description="'answer': the assistant answer and its end-of-turn token; 'all': the whole chat.")
    chat_template: Path | None = Field(None, description="Jinja chat template for a model that has none.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Base weights dtype; auto: bfloat16 when bf16 is on, else float32.")
    resume: bool = False
    adapter: dict[str, Any] = Field(default_factory=lambda: dict(ADAPTER_DEFAULTS))

    @field_validator("data", "eval_data", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any, info) -> Any:
        if v is None or v == []:
            if info.field_name == "data":
                raise ValueError("no training data: set data=FILE (or a list of files)")
            return []
        return [v] if _is_path_like(v) else v

    @field_validator("output_dir", "model", mode="before")
    @classmethod
    def _required(cls, v: Any, info) -> Any:
        if v is None or v == "":
            raise ValueError(f"not set: give {info.field_name}=...")
        return v

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        defaults = dict(TRAINER_DEFAULTS)
        if "gradient_checkpointing" in values:  # the deprecated alias, if given, must not lose to our default
            defaults.pop("activation_checkpointing")
        values = {**defaults, **values}
        adapter = values.get("adapter") or {}
        if not isinstance(adapter, dict):
            raise ValueError("adapter: expected a mapping of LoraConfig fields")
        values["adapter"] = {**ADAPTER_DEFAULTS, **adapter}
        return values

    @model_validator(mode="after")
    def _library_fields(self) -> TrainConfig:
        extra = self.__pydantic_extra__ or {}
        for key, value in list(extra.items()):
            extra[key] = _check_field("sft", key, value)
        self.adapter = {k: _check_field("lora", k, v, prefix="adapter.") for k, v in self.adapter.items()}
        return self

    @property
    def trainer_args(self) -> dict[str, Any]:
        """The `SFTConfig` keyword arguments given or defaulted (before medinject's own settings)."""
        return dict(self.__pydantic_extra__ or {})


def require_train_extra() -> None:
    try:
        import peft  # noqa: F401
        import trl  # noqa: F401
    except ImportError as e:
        raise MedinjectError(f"training needs the 'train' extra ({e.name} is missing): "
                             "pip install 'medinject[train]'") from None


@functools.cache
def _library_fields(kind: str) -> dict[str, Any]:
    require_train_extra()
    if kind == "sft":
        from trl import SFTConfig as cls
    else:
        from peft import LoraConfig as cls
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


@functools.cache
def _adapter(tp: Any):
    from pydantic import TypeAdapter

    return TypeAdapter(tp)


def _check_field(kind: str, key: str, value: Any, prefix: str = "") -> Any:
    fields = _library_fields(kind)
    owner = "SFTConfig/TrainingArguments" if kind == "sft" else "peft LoraConfig"
    if kind == "sft" and key in MANAGED:
        raise ValueError(f"{prefix}{key}: not settable here: {MANAGED[key]}")
    if kind == "sft" and key == "bf16" and value == "auto":
        return value
    if key not in fields:
        ours = [] if prefix else list(TrainConfig.model_fields)
        close = difflib.get_close_matches(key, [*fields, *ours], n=1)
        hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
        raise ValueError(f"{prefix}{key}: unknown key, not a medinject or {owner} field{hint}")
    try:
        return _adapter(fields[key]).validate_python(value)
    except ValidationError as e:
        _, msg = first_validation_problem(e)
        raise ValueError(f"{prefix}{key}: {msg} (got {value!r})") from None


# ----------------------------------------------------------------- loading ----

def parse_overrides(overrides: list[str] | None) -> dict[str, Any]:
    """`key=value` strings to a nested dict; values are YAML (`5`, `true`, `[a.jsonl, b.jsonl]`)."""
    from ..overrides import parse_overrides as parse

    return parse(overrides)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    raw = _read_yaml_file(path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InputError(path, f"expected a mapping of settings, got {type(raw).__name__}")
    return raw


def validate_config(values: dict[str, Any], *, source: str | Path | None = None,
                    overridden: set[str] = frozenset()) -> TrainConfig:
    try:
        return TrainConfig.model_validate(values)
    except ValidationError as e:
        field, msg = first_validation_problem(e)
        if field is None and ":" in msg:
            field, _, msg = msg.partition(": ")
        top = (field or "").split(".")[0]
        where = "command line" if top in overridden or source is None else source
        raise InputError(where, msg, field=field) from None


def load_config(path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None) -> TrainConfig:
    """A validated config from a YAML file (optional) and `key=value` overrides (or a dict of them)."""
    base = read_yaml(path) if path is not None else {}
    over = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    return validate_config(merge(base, over), source=path, overridden=set(over))


def as_config(config: TrainConfig | dict[str, Any]) -> TrainConfig:
    return config if isinstance(config, TrainConfig) else validate_config(dict(config))


def config_to_yaml(config: TrainConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
