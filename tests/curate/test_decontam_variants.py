"""Decontamination and deduplication see through invisible characters, a question moved into the context
and a multiple-choice item recast as an open question."""

from __future__ import annotations

import json
import re

import pytest

from medinject.curate import run_curate
from medinject.io import write_records
from medinject.records import Origin, Record, Task


def _copy(r: Record, **update) -> Record:
    return Record.model_validate({**r.model_dump(), **update})


def _in_long_words(text: str, mark: str) -> str:
    """`mark` inside every word of 8 letters or more, as copy-paste from PDFs and web pages leaves them."""
    return re.sub(r"\w{8,}", lambda m: m.group(0)[:4] + mark + m.group(0)[4:], text)


def _rejected(d) -> dict[str, tuple[str, str | None]]:
    out = {}
    for line in open(d / "out" / "rejected.jsonl", encoding="utf-8"):
        row = json.loads(line)
        out[row["record"]["id"]] = (row["reason"], row["detail"].get("eval_id") or row["detail"].get("duplicate_of"))
    return out


@pytest.fixture(scope="module")
def base(fm, tmp_path_factory):
    d = tmp_path_factory.mktemp("variants-base")
    train = fm["train"][:300]
    ev = [e for e in fm["test"] if len(e.question.split()) >= 10][:40]
    write_records(d / "train.jsonl", train)
    write_records(d / "eval.jsonl", ev)
    run_curate([d / "train.jsonl"], d / "out", [d / "eval.jsonl"], progress=False, check_language=False)
    return {"train": train, "eval": ev, "rejected": _rejected(d)}


def test_each_variant_of_an_evaluation_item_is_caught_and_nothing_else(base, tmp_path):
    ev = base["eval"]
    planted: dict[str, str] = {}  # training id -> the evaluation item it copies
    recs = []
    for i, e in enumerate(ev[:30]):
        kind = i % 5
        if kind == 0:  # zero-width spaces inside long words of the question and options
            r = _copy(e, question=_in_long_words(e.question, "\u200b"),
                      options={k: _in_long_words(v, "\u200b") for k, v in e.options.items()})
        elif kind == 1:  # soft hyphens and word joiners
            r = _copy(e, question=_in_long_words(e.question, "\u00ad").replace(" ", " \u2060", 2))
        elif kind == 2:  # the question moved into `context` under a generic instruction
            r = _copy(e, question="Répondez à la question ci-dessous.", context=e.question)
        elif kind == 3:  # recast as an open question whose answer is the correct option text
            r = Record(id="x", task=Task.OEQ, question=e.question, answer=e.answer_text, origin=Origin.SYNTHETIC,
                       source="recast")
        else:  # recast as an open question, with a BOM and a zero-width joiner on top
            r = Record(id="x", task=Task.OEQ, question="\ufeff" + _in_long_words(e.question, "\u200d"),
                       answer=e.answer_text, origin=Origin.TRANSLATED, source="recast")
        r = _copy(r, id=f"plant-{i}", split="train")
        recs.append(r)
        planted[r.id] = e.id
    write_records(tmp_path / "train.jsonl", [*base["train"], *recs])
    write_records(tmp_path / "eval.jsonl", ev)
    run_curate([tmp_path / "train.jsonl"], tmp_path / "out", [tmp_path / "eval.jsonl"], progress=False,
               check_language=False)
    rejected = _rejected(tmp_path)
    assert {k: v for k, v in rejected.items() if k in planted} == {k: ("contaminated", e) for k, e in planted.items()}
    # No false positive: the real records are judged as they were without the planted ones.
    assert {k: v for k, v in rejected.items() if k not in planted} == base["rejected"]


def test_the_open_form_needs_the_correct_option(base, tmp_path):
    e = next(x for x in base["eval"] if len(x.options) >= 4 and len(x.letters) == 1)
    wrong = next(v for k, v in e.options.items() if k not in e.letters)
    r = Record(id="open-wrong", task=Task.OEQ, question="Donnez une définition de ce terme.", answer=wrong,
               origin=Origin.SYNTHETIC, source="s")
    write_records(tmp_path / "train.jsonl", [*base["train"], r])
    write_records(tmp_path / "eval.jsonl", base["eval"])
    run_curate([tmp_path / "train.jsonl"], tmp_path / "out", [tmp_path / "eval.jsonl"], progress=False,
               check_language=False)
    assert "open-wrong" not in _rejected(tmp_path)


def test_invisible_characters_do_not_hide_a_duplicate(base, tmp_path):
    src = base["train"][7]
    copy = _copy(src, id="copy-zw", origin=Origin.TRANSLATED, question=_in_long_words(src.question, "\u200b\u00ad"))
    write_records(tmp_path / "train.jsonl", [*base["train"], copy])
    write_records(tmp_path / "eval.jsonl", base["eval"])
    run_curate([tmp_path / "train.jsonl"], tmp_path / "out", [tmp_path / "eval.jsonl"], progress=False,
               check_language=False)
    assert _rejected(tmp_path)["copy-zw"] == ("exact_duplicate", src.id)


def test_loose_key_is_blind_to_invisible_characters_accents_and_spacing():
    from medinject.textnorm import loose_key

    assert loose_key("hépa\u00adto\u200btoxi\u2060cité\ufeff  du Paracétamol !") == "hepatotoxicite du paracetamol"
    assert loose_key("e\u0301te\u0301") == loose_key("été") == "ete"
    assert loose_key("a\u00a0b\u202fc") == "a b c"
