"""Multiple-choice exam sets: FrenchMedMCQA, MedQA (and MedMCQA in that layout), MMLU CSVs."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..io import iter_jsonl, parse_model, read_json
from ..records import Origin, Record, Task, letters_for
from ..textnorm import match_key


def _need(obj: dict, key: str, path: Path, **where):
    if key not in obj or obj[key] is None:
        raise InputError(path, "missing field", field=key, **where)
    return obj[key]


def read_frenchmedmcqa(path: Path, *, origin: Origin = Origin.NATIVE, split: str = "train",
                       source: str = "frenchmedmcqa", lang: str = "fr", **_) -> Iterator[Record]:
    """JSON list; `mcqu` when exactly one answer is correct, `mcq` otherwise; letters upper-cased."""
    data = read_json(path)
    if not isinstance(data, list):
        raise InputError(path, f"expected a JSON list of questions, got {type(data).__name__}")
    if not data:
        raise InputError(path, "empty file: no records")
    for i, item in enumerate(data):
        where = {"record": str(item.get("id") or f"#{i + 1}") if isinstance(item, dict) else f"#{i + 1}"}
        if not isinstance(item, dict):
            raise InputError(path, "expected a JSON object", **where)
        answers = _need(item, "answers", path, **where)
        correct = _need(item, "correct_answers", path, **where)
        if not isinstance(answers, dict):
            raise InputError(path, "expected an object of letter to text", field="answers", **where)
        if not isinstance(correct, list):
            raise InputError(path, f"expected a list of letters, got {type(correct).__name__}",
                             field="correct_answers", **where)
        # Some items list their letters out of order (a, c, d, e, b): show them in letter order.
        options = dict(sorted((str(k).strip().upper(), str(v)) for k, v in answers.items()))
        letters = [str(c).strip().upper() for c in correct]
        rid = str(_need(item, "id", path, **where))
        meta = {"subject": item.get("subject_name")}
        # The train split repeats one item under the same id: `ingest.normalise` suffixes every repeated id.
        obj = {
            "id": rid, "question": _need(item, "question", path, **where),
            "task": Task.MCQU if len(letters) == 1 else Task.MCQ,
            "options": options, "answer": letters, "origin": origin, "source": source,
            "split": split, "lang": lang, "meta": meta,
        }
        yield parse_model(Record, obj, path, **where)


def _check_answer_text(obj: dict, options: dict, idx: str, path: Path, lineno: int, rid) -> None:
    """MedQA also gives the answer as text: it must be the text of the option `answer_idx` names."""
    text = obj.get("answer")
    by_letter = {str(k).strip().upper(): v for k, v in options.items()}
    if not isinstance(text, str) or idx not in by_letter or match_key(text) == match_key(str(by_letter[idx])):
        return
    same = [k for k, v in by_letter.items() if match_key(str(v)) == match_key(text)]
    where = f"option {same[0]}'s text" if len(same) == 1 else "no option's text" if not same else \
        f"the text of options {' and '.join(same)}"
    raise InputError(path, f"answer {text[:60]!r} contradicts answer_idx {idx} ({str(by_letter[idx])[:60]!r}): "
                     f"it is {where}", line=lineno, record=None if rid is None else str(rid), field="answer")


def read_medqa(path: Path, *, origin: Origin = Origin.NATIVE, split: str = "test", source: str = "medqa",
               lang: str = "en", **_) -> Iterator[Record]:
    """JSONL with an `options` object (letter to text) and `answer_idx` (a letter)."""
    for lineno, obj in iter_jsonl(path):
        options = _need(obj, "options", path, line=lineno)
        if not isinstance(options, dict):
            raise InputError(path, "expected an object of letter to text", line=lineno, field="options")
        idx = str(_need(obj, "answer_idx", path, line=lineno)).strip().upper()
        rid = obj.get("id") or obj.get("realidx")
        _check_answer_text(obj, options, idx, path, lineno, rid)
        rec = {
            "id": f"{source}-{split}-{rid if rid is not None else lineno}",
            "task": Task.MCQU, "question": _need(obj, "question", path, line=lineno),
            "options": dict(sorted((str(k).strip().upper(), str(v)) for k, v in options.items())),
            "answer": [idx], "origin": origin, "source": source, "split": split, "lang": lang,
            "meta": {k: obj[k] for k in ("meta_info", "subject_name", "topic_name") if obj.get(k)},
        }
        yield parse_model(Record, rec, path, line=lineno)


def _csv_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise InputError(path, "no .csv files in this folder")
        return files
    if not path.exists():
        raise InputError(path, "file not found")
    return [path]


def read_mmlu(path: Path, *, origin: Origin = Origin.NATIVE, split: str = "test", source: str = "mmlu",
              lang: str = "en", **_) -> Iterator[Record]:
    """Header-less CSV rows: question, four options, answer letter; subject from the file name.

    `path` may be one CSV or a folder of them.
    """
    for f in _csv_files(path):
        subject = f.stem.removesuffix(f"_{split}").removesuffix("_test").removesuffix("_val").removesuffix("_dev")
        try:
            with f.open(encoding="utf-8-sig", newline="") as fh:
                rows = list(csv.reader(fh))
        except UnicodeDecodeError as e:
            raise InputError(f, f"not UTF-8 text (byte {e.start})") from None
        if not rows:
            raise InputError(f, "empty file: no records")
        for lineno, row in enumerate(rows, start=1):
            if len(row) < 3:
                raise InputError(f, f"expected question, options and answer, got {len(row)} columns", line=lineno)
            question, *opts, letter = row
            if len(opts) > 26:
                raise InputError(f, f"{len(opts)} options: at most 26 are supported", line=lineno)
            rec = {
                "id": f"{source}-{subject}-{split}-{lineno}", "task": Task.MCQU, "question": question,
                "options": dict(zip(letters_for(len(opts)), opts, strict=True)),
                "answer": [letter.strip().upper()], "origin": origin, "source": source, "split": split,
                "lang": lang, "meta": {"subject": subject},
            }
            yield parse_model(Record, rec, f, line=lineno)
