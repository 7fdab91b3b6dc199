"""The experiment file: one YAML that describes a whole study, validated before anything runs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, PrivateAttr, ValidationError, field_validator

from ..errors import InputError, first_validation_problem
from ..records import Origin, Task
from .yamlload import LineDict, apply_overrides, line_of, load_yaml

PASSAGE_FORMATS = {"e3c", "morfitt", "passages"}  # sources that hold passages, not records
HUB_FORMATS = {"medinjection"}  # a path that is no local file is a hub id
# records / passages: medinject's own files; the others are `medinject ingest --format` names.
SourceFormat = Literal["records", "passages", "frenchmedmcqa", "medqa", "mmlu", "medinjection", "reference-eval",
                       "e3c", "morfitt", "generic"]
PAPER_MIXES = ["NAT", "TRAD", "SYN", "NAT-TRAD", "NAT-SYN", "TRAD-SYN", "ALL"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Named(Strict):
    name: str

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} is not a valid name (letters, digits, '_', '-', '.', '+')")
        return v


class Source(Named):
    """A data set to import: native French records, English records to translate, passages or an eval set."""

    path: str  # a file or folder (relative to the experiment file), `package:sample/x.jsonl`, or a hub id
    format: SourceFormat
    origin: Origin | None = None
    split: str | None = None  # default: the importer's (records files keep their own)
    source: str | None = None  # the data set name written into records (default: the importer's)
    lang: str | None = None
    mapping: str | dict[str, Any] | None = None  # generic importer field mapping
    limit: PositiveInt | None = None  # keep the first N items (quick runs)
    tasks: list[Task] | None = None  # keep only records of these tasks (e.g. [oeq]); applied before limit



class BackendSpec(Strict):
    """An LLM reached through the shared backends. The API key is read from `api_key_env`, never stored."""

    kind: Literal["openai", "transformers", "vllm"] = "openai"
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    serve: bool = False  # start `transformers serve` on loopback for `model` while the run needs it
    concurrency: PositiveInt = 8
    prices: dict[str, Any] | None = None  # cost accounting, per model
    options: dict[str, Any] = Field(default_factory=dict)  # timeout, max_retries, batch_size, device...


class TranslateJob(Named):
    input: str  # a source name (English records)
    backend: str
    limit: PositiveInt | None = None
    options: dict[str, Any] = Field(default_factory=dict)



class SynthesizeJob(Named):
    passages: str  # a source name (passages)
    backend: str
    limit: PositiveInt | None = None  # passages used
    options: dict[str, Any] = Field(default_factory=dict)  # task kinds, items per passage...



class CurateSpec(Strict):
    inputs: list[str] | None = None  # sources / translate / synthesize names; default: every French train set
    decontaminate: bool = True  # against the evaluation sets
    backend: str | None = None  # LLM for the optional quality score (options.quality_threshold)
    options: dict[str, Any] = Field(default_factory=dict)  # CurateSettings fields (thresholds, shingles...)


class MixSpec(Strict):
    size: PositiveInt
    seed: int = 42
    configs: list[str] = Field(default_factory=lambda: list(PAPER_MIXES))
    shrink: bool = False  # allow a smaller N when a pool is short (the manifest says so)
    options: dict[str, Any] = Field(default_factory=dict)  # weights (custom mixes), tasks (task proportions)


class TrainSpec(Strict):
    model: str  # hub id, path, or `toy:tiny` / `toy:small` (built offline into the run folder)
    recipe: str | None = None  # a training config YAML (e.g. configs/train/paper.yaml)
    overrides: dict[str, Any] = Field(default_factory=dict)
    validation: str | None = None  # a source name giving an eval loss each epoch


class OeqSpec(Strict):
    max_new_tokens: PositiveInt = 256
    bertscore_model: str | None = None  # omitted: the evaluator's default encoder; null: no BERTScore


class EvaluateSpec(Strict):
    sets: list[str]  # source names
    model: str | None = None  # default: train.model
    base: bool = True  # evaluate the base model too
    mode: Literal["fast", "paper"] = "fast"  # paper: the reference procedure exactly; fast: same predictions
    permute: int = Field(default=0, ge=0)
    circular: bool = False
    seed: int = 0
    batch_size: PositiveInt | None = None
    oeq: OeqSpec = Field(default_factory=OeqSpec)
    options: dict[str, Any] = Field(default_factory=dict)  # other run_eval arguments (modes, n_boot, dtype...)


class JudgeSpec(Strict):
    backend: str
    modes: list[Literal["paper", "binary", "graded"]] = Field(default_factory=lambda: ["binary"])
    lang: Literal["fr", "en"] = "fr"
    limit: PositiveInt | None = None  # judge only the first N open-ended items of each system (quick runs)
    experts: str | None = None  # expert ratings (CSV) for judge-expert agreement
    options: dict[str, Any] = Field(default_factory=dict)


class ReportSpec(Strict):
    title: str | None = None
    baseline: str = "base"
    reference: str = "NAT"
    confidence: float = Field(default=0.95, gt=0, lt=1)
    n_boot: PositiveInt = 1000
    seed: int = 0


class SlurmSpec(Strict):
    partition: str | None = None
    account: str | None = None
    nodes: PositiveInt = 1
    gpus_per_node: PositiveInt = 1
    cpus_per_task: PositiveInt = 8
    mem: str | None = None
    time_train: str = "24:00:00"
    time_evaluate: str = "04:00:00"
    accelerate_config: str | None = None  # e.g. configs/accelerate/fsdp.yaml
    setup: list[str] = Field(default_factory=list)  # shell lines run first (module load, venv activation)
    extra: list[str] = Field(default_factory=list)  # extra `#SBATCH` options, e.g. "--qos=long"


class Experiment(Named):
    workdir: str | None = None  # default runs/<name>, relative to the current directory
    seed: int = 42
    sources: list[Source]
    backends: dict[str, BackendSpec] = Field(default_factory=dict)
    translate: list[TranslateJob] = Field(default_factory=list)
    synthesize: list[SynthesizeJob] = Field(default_factory=list)
    curate: CurateSpec = Field(default_factory=CurateSpec)
    mix: MixSpec
    train: TrainSpec
    evaluate: EvaluateSpec
    judge: JudgeSpec | None = None
    report: ReportSpec = Field(default_factory=ReportSpec)
    slurm: SlurmSpec | None = None


    # Filled in by load_experiment (not part of the YAML).
    _path: Path | None = PrivateAttr(default=None)
    _data: Any = PrivateAttr(default=None)  # the parsed YAML, with line numbers
    _set_keys: list[str] = PrivateAttr(default_factory=list)  # keys set by command-line overrides

    @property
    def base_dir(self) -> Path:
        return self._path.parent if self._path is not None else Path.cwd()

    def source(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name)

    @property
    def eval_model(self) -> str:
        return self.evaluate.model or self.train.model

    def curate_inputs(self) -> list[str]:
        """Names feeding curation: explicit, or every French train source nobody else consumes + LLM outputs."""
        if self.curate.inputs is not None:
            return list(self.curate.inputs)
        used = {j.input for j in self.translate} | {j.passages for j in self.synthesize} | set(self.evaluate.sets)
        if self.train.validation:
            used.add(self.train.validation)
        names = [s.name for s in self.sources if s.name not in used and s.format not in PASSAGE_FORMATS]
        return names + [j.name for j in self.translate] + [j.name for j in self.synthesize]


def _fail(path: Path, data: Any, loc: Sequence[Any], message: str, set_keys: Sequence[str] = ()) -> InputError:
    dotted = ".".join(str(p) for p in loc) or None
    line = line_of(data, loc)
    if dotted and any(dotted == k or dotted.startswith(k + ".") for k in set_keys):
        return InputError(path, f"{message} (set on the command line)", field=dotted)
    return InputError(path, message, line=line, field=dotted)


def error_at(exp: Experiment, loc: Sequence[Any], message: str) -> InputError:
    """An error about a part of a loaded experiment file, naming its line."""
    return _fail(exp._path, exp._data, loc, message, exp._set_keys)


def _check_references(exp: Experiment, data: Any, path: Path, set_keys: Sequence[str]) -> None:
    """Names that point at other parts of the file must exist and have the right kind."""
    names = [s.name for s in exp.sources] + [j.name for j in exp.translate] + [j.name for j in exp.synthesize]
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            loc = _name_loc(exp, i)
            raise _fail(path, data, loc, f"name {n!r} is used twice", set_keys)
        seen.add(n)
    sources = {s.name: s for s in exp.sources}
    passage_formats = PASSAGE_FORMATS

    def need(loc, name, what, ok=lambda s: True):
        if name not in sources or not ok(sources[name]):
            known = ", ".join(k for k, s in sources.items() if ok(s)) or "none"
            raise _fail(path, data, loc, f"unknown {what} {name!r} (known: {known})", set_keys)

    for i, j in enumerate(exp.translate):
        need(["translate", i, "input"], j.input, "record source", lambda s: s.format not in passage_formats)
        if j.backend not in exp.backends:
            raise _fail(path, data, ["translate", i, "backend"], f"unknown backend {j.backend!r}", set_keys)
    for i, j in enumerate(exp.synthesize):
        need(["synthesize", i, "passages"], j.passages, "passage source", lambda s: s.format in passage_formats)
        if j.backend not in exp.backends:
            raise _fail(path, data, ["synthesize", i, "backend"], f"unknown backend {j.backend!r}", set_keys)
    for i, n in enumerate(exp.curate.inputs or []):
        if n not in seen:
            raise _fail(path, data, ["curate", "inputs", i], f"unknown input {n!r}", set_keys)
    for i, n in enumerate(exp.evaluate.sets):
        need(["evaluate", "sets", i], n, "evaluation source", lambda s: s.format not in passage_formats)
    if exp.train.validation:
        need(["train", "validation"], exp.train.validation, "validation source")
    if exp.curate.backend and exp.curate.backend not in exp.backends:
        raise _fail(path, data, ["curate", "backend"], f"unknown backend {exp.curate.backend!r}", set_keys)
    if exp.judge and exp.judge.backend not in exp.backends:
        raise _fail(path, data, ["judge", "backend"], f"unknown backend {exp.judge.backend!r}", set_keys)
    for i, c in enumerate(exp.mix.configs):
        if c not in PAPER_MIXES and c not in (exp.mix.options.get("weights") or {}):
            raise _fail(path, data, ["mix", "configs", i],
                        f"unknown mix {c!r}; use {', '.join(PAPER_MIXES)} or define it in mix.options.weights",
                        set_keys)
    if len(set(exp.mix.configs)) != len(exp.mix.configs):
        raise _fail(path, data, ["mix", "configs"], "a mix is listed twice", set_keys)
    if not exp.curate_inputs():
        raise _fail(path, data, ["curate"], "nothing to curate: no French training source", set_keys)


def _name_loc(exp: Experiment, i: int) -> list:
    for key, items in (("sources", exp.sources), ("translate", exp.translate), ("synthesize", exp.synthesize)):
        if i < len(items):
            return [key, i, "name"]
        i -= len(items)
    return []


def load_experiment(path: str | Path, overrides: Sequence[str] = ()) -> Experiment:
    """Read, override (`key.sub=value`) and validate an experiment file; errors name file, line and field."""
    path = Path(path)
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise InputError(path, "an experiment file is a YAML mapping (name, sources, mix, train, evaluate...)")
    set_keys = apply_overrides(data, overrides, path)
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        _, msg = first_validation_problem(e)
        raise _fail(path, data, err.get("loc", ()), msg, set_keys) from None
    exp._path, exp._data, exp._set_keys = path.resolve(), data, list(set_keys)
    _check_references(exp, data, path, set_keys)
    return exp


def plain(data: Any) -> Any:
    """LineDict/LineList back to plain containers (for hashing and JSON)."""
    if isinstance(data, LineDict | dict):
        return {k: plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data
