"""lm-evaluation-harness both ways: `export --to lm-eval` writes a task folder; `score` reads its samples files.

The folder holds one task per (source, task type) of multiple-choice records, tagged `medinject`, with the
evaluator's own prompt text (`prompts.user_text`, the system prompt as the task `description`):

- single answer (mcqu): `multiple_choice`, the log-likelihood of each option letter right after the prompt
  (lm-eval's `acc` is then Exact Match);
- several answers (mcq): `generate_until`, greedy, then the evaluator's strict parser
  (`evaluate.letters.parse_answer`) as a `custom` filter; Exact Match and Hamming per item.

Open-ended records are left out: lm-eval has no BERTScore or judge of ours to score them with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import InputError, MedinjectError
from ..prompts import FR, PROMPT_VERSION, format_answer, user_text
from ..records import LETTERS, Record, Task

TAG = "medinject"
INVALID = "[invalid]"

UTILS = '''"""Helpers of the medinject lm-eval tasks in this folder (written by `medinject export --to lm-eval`)."""

import json
from pathlib import Path

import datasets

from medinject.evaluate.letters import parse_answer
from medinject.evaluate.metrics import choice_scores
from medinject.prompts import format_answer

HERE = Path(__file__).resolve().parent
INVALID = "[invalid]"


def load_docs(file, **_):
    """The task's items; the path is relative to this folder, so the folder can move."""
    lines = (HERE / file).read_text(encoding="utf-8").splitlines()
    return {"test": datasets.Dataset.from_list([json.loads(line) for line in lines if line.strip()])}


def strict_letters(resps, docs):
    """medinject's strict parser as an lm-eval filter: each answer becomes `A, C`, or [invalid]."""
    out = []
    for rs, doc in zip(resps, docs):
        parsed = [parse_answer(r, doc["choices"], multi=doc["task"] == "mcq") for r in rs]
        out.append([format_answer(p) if p else INVALID for p in parsed])
    return out


def process_mcq(doc, results):
    pred = None if results[0] == INVALID else parse_answer(results[0], doc["choices"], multi=True)
    return choice_scores(doc["gold"], pred)
'''


class _Function(str):
    """A `!function module.name` reference in lm-eval's YAML."""


def _yaml(obj: dict) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(_Function, lambda d, f: d.represent_scalar("!function", str(f)))
    return yaml.dump(obj, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=1000)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


def _doc(r: Record) -> dict[str, Any]:
    letters = list(r.options)
    doc = {"id": r.id, "source": r.source, "task": r.task.value, "origin": r.origin.value, "prompt": user_text(r),
           "choices": letters, "gold": r.letters, "target": format_answer(r.letters)}
    if r.task is Task.MCQU:
        doc["answer_index"] = letters.index(r.letters[0])
    return doc


def _config(name: str, task: Task, rows: list[dict], data_file: str) -> dict[str, Any]:
    common = {
        "tag": [TAG, f"{TAG}_{task.value}"],
        "task": name,
        "custom_dataset": _Function("utils.load_docs"),
        "dataset_kwargs": {"file": data_file},
        "test_split": "test",
        "description": FR["system"],
        "doc_to_text": "prompt",
    }
    if task is Task.MCQU:
        cfg = {**common, "output_type": "multiple_choice", "doc_to_choice": "choices",
               "doc_to_target": "answer_index", "target_delimiter": "",
               "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}]}
    else:
        most = max(len(d["choices"]) for d in rows)
        cfg = {**common, "output_type": "generate_until", "doc_to_target": "target", "target_delimiter": "",
               "generation_kwargs": {"until": ["\n\n"], "max_gen_toks": 2 * most, "do_sample": False},
               "filter_list": [{"name": "strict", "filter": [
                   {"function": "custom", "filter_fn": _Function("utils.strict_letters")},
                   {"function": "take_first"}]}],
               "process_results": _Function("utils.process_mcq"),
               "metric_list": [{"metric": m, "aggregation": "mean", "higher_is_better": True}
                               for m in ("em", "hamming")]}
    return {**cfg, "metadata": {"version": 1.0, "medinject_prompt_version": PROMPT_VERSION}}


def export_lmeval(records: Iterable[Record], out: str | Path) -> dict[str, int]:
    """Write the task folder at `out` (built beside it, moved in whole); returns items per task."""
    from ..io import atomic_folder, write_jsonl, write_text

    out = Path(out)
    groups: dict[str, tuple[Task, list[dict]]] = {}
    skipped = 0
    for r in records:
        if not r.is_choice:
            skipped += 1
            continue
        name = f"{TAG}_{_slug(r.source)}_{r.task.value}"
        groups.setdefault(name, (r.task, []))[1].append(_doc(r))
    if not groups:
        raise MedinjectError("no multiple-choice records to export (lm-eval tasks take mcqu and mcq records)")
    with atomic_folder(out) as tmp:
        (tmp / "data").mkdir(parents=True)
        write_text(tmp / "utils.py", UTILS)
        for name, (task, rows) in groups.items():
            write_jsonl(tmp / "data" / f"{name}.jsonl", rows)
            write_text(tmp / f"{name}.yaml", _yaml(_config(name, task, rows, f"data/{name}.jsonl")))
    if skipped:
        import logging

        logging.getLogger(__name__).warning("%d open-ended record(s) left out: lm-eval tasks here are "
                                            "multiple choice only", skipped)
    return {name: len(rows) for name, (_, rows) in groups.items()}


# ------------------------------------------------------------ samples files --

def is_samples_file(path: str | Path) -> bool:
    """True for an lm-eval `--log_samples` file (samples_<task>_<date>.jsonl, or lines with doc and resps),
    or a folder holding such files (lm-eval's output folder for one model)."""
    path = Path(path)
    if path.is_dir():
        return any(path.rglob("samples_*.jsonl"))
    if path.name.startswith("samples_") and path.suffix == ".jsonl":
        return True
    try:
        with open(path, encoding="utf-8-sig") as f:
            first = next((line for line in f if line.strip()), "")
        obj = json.loads(first)
    except (OSError, ValueError):
        return False
    return isinstance(obj, dict) and {"doc", "filtered_resps", "doc_id"} <= set(obj)


def _task_name(path: Path) -> str:
    m = re.match(r"samples_(.+)_\d{4}-\d{2}-\d{2}T[\d\-.:]+$", path.stem)
    return m.group(1) if m else path.stem.removeprefix("samples_")


def read_samples(path: str | Path) -> list[dict]:
    """Prediction rows (as `evaluate.summary.read_predictions` gives) from an lm-eval samples file.

    Our exported tasks carry id, task, source, choices and gold in each doc. Other lm-eval multiple-choice
    tasks are read too: gold is the choice at `target`, letters A, B, ... stand for the choices.
    Multiple choice (log-likelihoods) gives mode `lm-eval-loglikelihood`; generation `lm-eval-generate`,
    with the filter's name appended when it is not lm-eval's default.
    """
    from ..evaluate.letters import parse_answer
    from ..io import iter_jsonl

    path = Path(path)
    if path.is_dir():  # every task of a run; a task logged twice (two runs) is an error, not a silent mix
        files = sorted(path.rglob("samples_*.jsonl"))
        names = [_task_name(f) for f in files]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InputError(path, f"task {twice[0]!r} has several samples files (runs); give one file")
        return [row for f in files for row in read_samples(f)]
    task_name = _task_name(path)
    rows = []
    for line, obj in iter_jsonl(path):
        doc, resps = obj.get("doc"), obj.get("filtered_resps")
        if not isinstance(doc, dict) or not isinstance(resps, list) or not resps:
            raise InputError(path, "not an lm-eval samples line (needs doc and filtered_resps)", line=line)
        ours = "gold" in doc and "choices" in doc
        loglik = isinstance(resps[0], list | tuple)
        if loglik:
            try:
                lls = [float(r[0]) for r in resps]
            except (TypeError, ValueError, IndexError):
                raise InputError(path, "expected [log-likelihood, is_greedy] per choice", line=line,
                                 field="filtered_resps") from None
            letters = list(doc["choices"]) if ours else list(LETTERS[:len(lls)])
            pred: list[str] | None = [letters[max(range(len(lls)), key=lls.__getitem__)]]
            mode = "lm-eval-loglikelihood"
        else:
            if not ours:
                raise InputError(path, "a generation sample needs medinject's doc fields (choices, gold); "
                                 "export the task with `medinject export --to lm-eval`", line=line, field="doc")
            letters = list(doc["choices"])
            text = str(resps[0])
            pred = None if text == INVALID else parse_answer(text, letters, multi=doc.get("task") == "mcq")
            mode = "lm-eval-generate"
        filt = obj.get("filter")
        if filt and filt not in ("none", "strict"):
            mode += f"-{filt}"
        if ours:
            gold, task = list(doc["gold"]), str(doc.get("task") or ("mcq" if len(doc["gold"]) > 1 else "mcqu"))
            item, source = str(doc.get("id", obj["doc_id"])), str(doc.get("source") or task_name)
        else:
            try:
                gold = [letters[int(obj.get("target"))]]
            except (TypeError, ValueError, IndexError):
                raise InputError(path, "target is not the index of a choice", line=line, field="target") from None
            task, item, source = "mcqu", str(obj["doc_id"]), task_name
        rows.append({"id": item, "task": task, "source": source, "mode": mode, "variant": "original",
                     "gold": sorted(gold), "pred": sorted(pred) if pred else None})
    return rows
