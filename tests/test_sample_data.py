"""The sample data shipped in the package: valid, counted as documented, with its planted problems in place."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from importlib.resources import files
from pathlib import Path

import pytest

from medinject.io import load_records, read_passages
from medinject.records import Origin, Task

SAMPLE = Path(str(files("medinject") / "data" / "sample"))
RECORD_FILES = ["native", "translated", "synthetic", "eval", "english"]

# planted id -> the record it copies
NEAR_DUPS = {"trad-mcqu-13-dup": "nat-mcqu-01", "trad-mcq-13-dup": "nat-mcq-01", "syn-mcq-13-dup": "nat-mcq-09"}
EXACT_DUPS = {"trad-mcqu-14-dup": "nat-mcqu-03"}
CONTAM = {"nat-mcqu-13-contam": "eval-mcqu-06"}

# file -> ((task, origin) -> count), split, lang, source
EXPECTED = {
    "native": ({("mcqu", "native"): 13, ("mcq", "native"): 12, ("oeq", "native"): 12}, "train", "fr", "sample-exam"),
    "translated": ({("mcqu", "translated"): 14, ("mcq", "translated"): 13, ("oeq", "translated"): 12},
                   "train", "fr", "sample-medqa-fr"),
    "synthetic": ({("mcqu", "synthetic"): 12, ("mcq", "synthetic"): 13, ("oeq", "synthetic"): 12},
                  "train", "fr", "sample-synth"),
    "eval": ({("mcqu", "native"): 16, ("mcq", "native"): 16, ("oeq", "native"): 10}, "test", "fr", "sample-eval"),
    "english": ({("mcqu", "native"): 8, ("mcq", "native"): 6, ("oeq", "native"): 6}, "train", "en", "sample-en"),
}
TASK_KINDS = {"factual_question", "differential_diagnosis", "treatment_plan", "lab_interpretation", "summary",
              "patient_instructions", "mcq"}


@pytest.fixture(scope="module")
def data():
    return {name: load_records(SAMPLE / f"{name}.jsonl") for name in RECORD_FILES}


@pytest.fixture(scope="module")
def by_id(data):
    return {r.id: r for rs in data.values() for r in rs}


@pytest.fixture(scope="module")
def passages():
    return list(read_passages(SAMPLE / "passages.jsonl"))


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s']", " ", text).split())


def _is_planted(rid: str) -> bool:
    return rid.endswith(("-dup", "-contam"))


@pytest.mark.parametrize("name", RECORD_FILES)
def test_counts_split_lang_source(data, name):
    counts, split, lang, source = EXPECTED[name]
    records = data[name]
    assert Counter((r.task.value, r.origin.value) for r in records) == counts
    assert {(r.split, r.lang, r.source) for r in records} == {(split, lang, source)}


def test_ids_unique_within_and_across_files(data, passages):
    ids = [r.id for rs in data.values() for r in rs] + [p.id for p in passages]
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_choice_items_have_five_options_and_plausible_answers(data):
    for rs in data.values():
        for r in rs:
            if r.task is Task.OEQ:
                assert not r.options and len(r.answer.split()) >= 5, r.id
                continue
            assert list(r.options) == list("ABCDE"), r.id
            assert 1 <= len(r.letters) <= (1 if r.task is Task.MCQU else 4), r.id
    base_mcq = [r for name in ("native", "translated", "synthetic") for r in data[name]
                if r.task is Task.MCQ and not _is_planted(r.id)]
    assert sum(len(r.letters) in (2, 3) for r in base_mcq) > len(base_mcq) / 2


def test_base_items_per_training_file(data):
    for name in ("native", "translated", "synthetic"):
        base = [r for r in data[name] if not _is_planted(r.id)]
        assert Counter(r.task for r in base) == {Task.MCQU: 12, Task.MCQ: 12, Task.OEQ: 12}, name


def test_planted_near_duplicates(by_id):
    for dup_id, orig_id in NEAR_DUPS.items():
        dup, orig = by_id[dup_id], by_id[orig_id]
        assert orig.origin is Origin.NATIVE and dup.origin is not Origin.NATIVE
        assert (dup.options, dup.answer, dup.task) == (orig.options, orig.answer, orig.task)
        assert _norm(dup.question) != _norm(orig.question)
        a, b = _norm(dup.question).split(), _norm(orig.question).split()
        changed = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in
                      difflib.SequenceMatcher(a=a, b=b).get_opcodes() if tag != "equal")
        assert 1 <= changed <= 3, (dup_id, changed)


def test_planted_exact_duplicate(by_id):
    for dup_id, orig_id in EXACT_DUPS.items():
        dup, orig = by_id[dup_id], by_id[orig_id]
        assert dup.question != orig.question
        assert _norm(dup.question) == _norm(orig.question)
        assert (dup.options, dup.answer) == (orig.options, orig.answer)
        assert dup.origin is Origin.TRANSLATED


def test_planted_contamination_and_otherwise_disjoint_eval(data, by_id):
    for train_id, eval_id in CONTAM.items():
        train, test = by_id[train_id], by_id[eval_id]
        assert (train.question, train.options, train.answer) == (test.question, test.options, test.answer)
        assert (train.split, test.split) == ("train", "test")
    eval_questions = {_norm(r.question) for r in data["eval"]}
    leaked = [r.id for name in ("native", "translated", "synthetic") for r in data[name]
              if _norm(r.question) in eval_questions]
    assert leaked == list(CONTAM)


def test_translated_provenance(data):
    for r in data["translated"]:
        assert r.parent_id and r.parent_id.startswith("sample-en-"), r.id
        assert r.meta == {"translator": "gpt-4o", "prompt_version": "sample"}, r.id


def test_synthetic_provenance(data, passages):
    passage_ids = {p.id for p in passages}
    base = [r for r in data["synthetic"] if not _is_planted(r.id)]
    with_context = [r for r in base if r.context]
    assert len(with_context) > len(base) * 3 / 4
    assert all(r.parent_id in passage_ids for r in with_context)
    assert {r.parent_id for r in with_context} == passage_ids
    assert all(r.meta["task_kind"] in TASK_KINDS for r in data["synthetic"])
    assert all(r.meta["task_kind"] == "mcq" for r in data["synthetic"] if r.is_choice)
    assert len({r.meta["task_kind"] for r in base if not r.is_choice}) == 6


def test_english_items_carry_numbers(data):
    assert [r.id for r in data["english"]] == [f"sample-en-{i:02d}" for i in range(1, 21)]
    with_numbers = [r for r in data["english"] if re.search(r"\d", r.question + r.answer_text)]
    assert len(with_numbers) >= 12


def test_passages(passages):
    assert [p.id for p in passages] == [f"passage-{i:02d}" for i in range(1, 9)]
    assert {(p.source, p.lang) for p in passages} == {("sample-cases", "fr")}
    kinds = Counter(p.meta["kind"] for p in passages)
    assert kinds == {"clinical_case": 5, "abstract": 3}
    for p in passages[:5]:
        assert 120 <= len(p.text.split()) <= 250, p.id
        assert re.search(r"\d+ ans", p.text) and re.search(r"\d+ (mg|g/L|mmol/L|µmol/L|g/dL)", p.text), p.id


def test_readme_names_every_planted_id():
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    for planted, orig in {**NEAR_DUPS, **EXACT_DUPS, **CONTAM}.items():
        assert f"`{planted}` | `{orig}`" in readme
