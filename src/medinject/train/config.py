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

from ..cli_values import non_finite
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

# SFTConfig fields whose default we change, the same in both recipes: the paper's hyper-parameters and
# bookkeeping. `global_batch_size` (ours) fixes sequences per optimizer step whatever the number of processes.
TRAINER_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 10,
    "per_device_train_batch_size": 12,
    "learning_rate": 1e-4,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.05,  # a float below 1 is a ratio of the total steps
    "max_length": 2048,
    "bf16": "auto",
    "seed": 42,
    # Every adapter weight gets a gradient each step: DDP need not search for unused ones (an extra graph walk).
    "ddp_find_unused_parameters": False,
    "report_to": "none",
    "logging_steps": 10,
    "save_strategy": "steps",
    "save_steps": 200,
    "save_total_limit": 2,
}

# The authors ran 12 per device x 8 accumulation x 2 GPUs.
PAPER_GLOBAL_BATCH = 192

# What each named recipe sets by default: medinject's own keys, then SFTConfig fields. Every value can be
# overridden, so each difference can be turned back on its own (benchmarks/train_throughput.py measures them).
RECIPES: dict[str, dict[str, Any]] = {
    # The authors' procedure: LM loss on every token of the rendered chat (their prompt, no system turn),
    # an added pad token with resized embeddings, right padding, length grouping, over-long chats truncated.
    "paper": {
        "loss_on": "all", "prompt": "paper", "over_long": "truncate", "add_pad_token": "[PAD]",
        "global_batch_size": PAPER_GLOBAL_BATCH,
        "train_sampling_strategy": "group_by_length",
    },
    # Ours: loss on the answer and its end-of-turn token only, our French prompt, a sampler that shuffles per
    # step then groups by length inside it (same gradient, less padding, order a function of seed and epoch),
    # over-long records whose answer would be cut dropped, no activation checkpointing (adapters on models that
    # fit only pay time for it; `activation_checkpointing` is transformers 5's `gradient_checkpointing`).
    "medinject": {
        "loss_on": "answer", "prompt": "medinject", "over_long": "drop", "add_pad_token": None,
        "global_batch_size": PAPER_GLOBAL_BATCH,
        "train_sampling_strategy": "batch_rebalance", "activation_checkpointing": False,
    },
}
DEFAULT_RECIPE = "medinject"

# SFTConfig fields that medinject sets itself.
MANAGED = {
    "assistant_only_loss": "use 'loss_on: answer' or 'loss_on: all'",
    "completion_only_loss": "use 'loss_on: answer' or 'loss_on: all'",
    "resume_from_checkpoint": "use --resume (or 'resume: true')",
    "include_num_input_tokens_seen": "medinject always counts non-padding tokens",
    "disable_tqdm": "medinject shows its own progress bar",
    "chat_template_path": "set the top-level 'chat_template' (a Jinja file)",
}


# Values the libraries accept but that cannot train (TrainingArguments takes `num_train_epochs: 0` or a batch
# of 0 and fails, or does nothing, much later): name -> (lowest value, whether it is allowed).
RANGES: dict[str, tuple[float, bool]] = {
    "num_train_epochs": (0, False), "per_device_train_batch_size": (1, True), "per_device_eval_batch_size": (1, True),
    "gradient_accumulation_steps": (1, True), "learning_rate": (0, False), "max_length": (1, True),
    "save_steps": (0, False), "logging_steps": (0, False), "save_total_limit": (1, True),
    "adapter.r": (1, True), "adapter.lora_alpha": (0, False), "adapter.lora_dropout": (0, True),
}


def _out_of_range(key: str, value: Any) -> str | None:
    # An infinite learning rate trains to NaN weights without a word.
    if why := non_finite(value):
        return why
    if key not in RANGES or not isinstance(value, int | float) or isinstance(value, bool):
        return None
    low, inclusive = RANGES[key]
    if value < low or (value == low and not inclusive):
        return f"must be {'>=' if inclusive else '>'} {low:g} (got {value!r})"
    if key == "adapter.lora_dropout" and value >= 1:
        return f"must be < 1 (got {value!r})"
    return None


def _is_path_like(v: Any) -> bool:
    return isinstance(v, (str, Path))


class TrainConfig(BaseModel):
    """What `medinject train` needs. Extra top-level keys are `SFTConfig` fields."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    model: str = Field(min_length=1, description="Base model: a local folder or a hub id.")
    data: list[Path] = Field(min_length=1, description="Training record files (one mix).")
    eval_data: list[Path] = Field(default_factory=list, description="Validation record files: eval loss each epoch.")
    output_dir: Path
    recipe: Literal["paper", "medinject"] = Field(
        DEFAULT_RECIPE, description="Named defaults: 'paper' (the authors' procedure) or 'medinject' (ours).")
    loss_on: Literal["answer", "all"] = Field(
        "answer", description="'answer': the assistant answer and its end-of-turn token; 'all': every token of the "
                              "rendered chat.")
    prompt: Literal["paper", "medinject"] = Field(
        "medinject", description="'paper': the record's verbatim messages, else the authors' rendering, no system "
                                 "turn; 'medinject': our French template with its system turn.")
    over_long: Literal["truncate", "drop"] = Field(
        "drop", description="A chat longer than max_length: cut it there, or drop it when its answer would be cut.")
    add_pad_token: str | None = Field(
        None, description="Add this token as the pad token and resize the embeddings (the authors' '[PAD]').")
    global_batch_size: int | None = Field(
        PAPER_GLOBAL_BATCH, gt=0, description="Sequences per optimizer step over all processes: accumulation is "
                                              "derived from it; null: use gradient_accumulation_steps as given.")
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
        recipe = values.get("recipe") or DEFAULT_RECIPE
        if recipe not in RECIPES:
            raise ValueError(f"recipe: unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
        defaults = {**TRAINER_DEFAULTS, **RECIPES[recipe]}
        if "gradient_checkpointing" in values:  # the deprecated alias, if given, must not lose to our default
            defaults.pop("activation_checkpointing", None)
        if "gradient_accumulation_steps" in values and "global_batch_size" not in values:
            defaults["global_batch_size"] = None  # accumulation given, and the global size only defaulted
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
        if self.global_batch_size is not None:
            if "gradient_accumulation_steps" in extra:
                raise ValueError(f"gradient_accumulation_steps: set with global_batch_size={self.global_batch_size}, "
                                 "which derives it; give one of them (global_batch_size=null keeps yours)")
            per_device = extra.get("per_device_train_batch_size", 8)
            if self.global_batch_size % per_device:
                raise ValueError(f"global_batch_size: {self.global_batch_size} is not a multiple of "
                                 f"per_device_train_batch_size={per_device}")
        return self

    def accumulation(self, world_size: int) -> int:
        """Gradient accumulation steps at `world_size` processes (derived from global_batch_size when set)."""
        args = self.trainer_args
        if self.global_batch_size is None:
            return int(args.get("gradient_accumulation_steps", 1))
        return accumulation_steps(self.global_batch_size, args.get("per_device_train_batch_size", 8), world_size)

    @property
    def trainer_args(self) -> dict[str, Any]:
        """The `SFTConfig` keyword arguments given or defaulted (before medinject's own settings)."""
        return dict(self.__pydantic_extra__ or {})


def accumulation_steps(global_batch: int, per_device: int, world_size: int) -> int:
    """Accumulation giving exactly `global_batch` sequences per optimizer step, or a one-line error."""
    per_step = per_device * world_size
    if global_batch % per_step:
        fits = [b for b in range(1, per_device + 1) if global_batch % (b * world_size) == 0]
        raise InputError(None, f"{global_batch} sequences per step cannot be split into {world_size} process(es) "
                               f"x per_device_train_batch_size={per_device} x an integer accumulation; a "
                               f"per-device batch of {fits[-1] if fits else 1} fits", field="global_batch_size")
    return global_batch // per_step


def describe_recipe(values: dict[str, Any]) -> str:
    """One line for a plan: recipe, adapter, length, batch (values: a training config's raw settings)."""
    recipe = values.get("recipe") or DEFAULT_RECIPE
    r = {**TRAINER_DEFAULTS, **RECIPES.get(recipe, {}), **values}
    if "gradient_accumulation_steps" in values and "global_batch_size" not in values:
        r["global_batch_size"] = None
    a = {**ADAPTER_DEFAULTS, **(r.get("adapter") or {})}
    kind = "DoRA" if a.get("use_dora") else "LoRA"
    steps = f"{r['max_steps']} steps" if r.get("max_steps", -1) not in (-1, None) else f"{r['num_train_epochs']} epochs"
    per = r["per_device_train_batch_size"]
    batch = (f"{r['global_batch_size']} sequences/step ({per} per device)" if r.get("global_batch_size")
             else f"batch {per}x{r.get('gradient_accumulation_steps', 1)} per device")
    return (f"{recipe} recipe ({r['loss_on']} loss), {kind} r{a.get('r')}, {steps}, {batch}, "
            f"lr {r['learning_rate']}")


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
        checked = _adapter(fields[key]).validate_python(value)
    except ValidationError as e:
        _, msg = first_validation_problem(e)
        raise ValueError(f"{prefix}{key}: {msg} (got {value!r})") from None
    problem = _out_of_range(prefix + key, checked)
    if problem:
        raise ValueError(f"{prefix}{key}: {problem}")
    return checked


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
