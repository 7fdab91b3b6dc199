"""Curation end to end on FrenchMedMCQA and E3C records with planted duplicates and contaminated items."""

from __future__ import annotations

import json
import random

import pytest

from medinject.curate import run_curate
from medinject.io import write_records
from medinject.records import Origin, Record, Task


def _copy(r: Record, **update) -> Record:
    data = r.model_dump()
    data.update(update)
    return Record.model_validate(data)


def _edit_words(text: str, positions: list[int], rng: random.Random) -> str:
    words = text.split()
    for p in positions:
        words[p] = rng.choice(["important", "clinique", "majeur", "rarement", "toujours"])
    return " ".join(words)


@pytest.fixture(scope="module")
def clean(fm, e3c_passages, tmp_path_factory):
    """A base without natural duplicates or contamination: what curation keeps of the real records."""
    d = tmp_path_factory.mktemp("clean")
    native = fm["train"][:700]
    translated = [_copy(r, id=f"tr-{r.id[:16]}", origin=Origin.TRANSLATED, source="fmm-dev-as-translated")
                  for r in fm["dev"][:250]]
    synthetic = [Record(id=f"syn-{p.id}", task=Task.OEQ, question="Résumez le cas clinique suivant en une phrase.",
                        context=p.text, answer=p.text.split(". ")[0], origin=Origin.SYNTHETIC, source="synth-e3c",
                        parent_id=p.id) for p in e3c_passages[:60]]
    for name, recs in (("native", native), ("translated", translated), ("synthetic", synthetic)):
        write_records(d / f"{name}.jsonl", recs)
    write_records(d / "eval.jsonl", fm["test"])
    report = run_curate([d / "native.jsonl", d / "translated.jsonl", d / "synthetic.jsonl"], d / "out",
                        [d / "eval.jsonl"], progress=False)
    kept = [Record.model_validate_json(line) for line in open(d / "out" / "curated.jsonl", encoding="utf-8")]
    by_origin = {o: [r for r in kept if r.origin is o] for o in Origin}
    return {"by_origin": by_origin, "eval": fm["test"], "report": report}


def test_base_keeps_every_distinct_synthetic_item(clean):
    # 60 records share one question but not their passage: none of them is a duplicate of another.
    assert len(clean["by_origin"][Origin.SYNTHETIC]) == 60
    assert clean["report"]["by_reason"].get("contaminated", 0) >= 1  # FrenchMedMCQA train overlaps its test set


def test_curate_removes_exactly_the_planted_items(clean, tmp_path):
    rng = random.Random(0)
    nat = clean["by_origin"][Origin.NATIVE]
    tra = clean["by_origin"][Origin.TRANSLATED]
    syn = clean["by_origin"][Origin.SYNTHETIC]
    long_nat = [r for r in nat if len(r.question.split()) >= 25]
    expected: dict[str, tuple[str, str | None]] = {}  # rejected id -> (reason, duplicate_of or eval id)

    # Exact duplicate under another provenance, listed before its native original: the native copy wins.
    src = nat[3]
    exact = _copy(src, id="plant-exact", origin=Origin.TRANSLATED,
                  question=src.question.upper().replace(",", " ,  ") + " ?!", source="fmm-dev-as-translated")
    expected["plant-exact"] = ("exact_duplicate", src.id)
    # Near duplicates: two words of a long question changed, as translated and as synthetic.
    near1 = _copy(long_nat[0], id="plant-near-1", origin=Origin.TRANSLATED,
                  question=_edit_words(long_nat[0].question, [2, 9], rng))
    near2 = _copy(long_nat[1], id="plant-near-2", origin=Origin.SYNTHETIC,
                  question=_edit_words(long_nat[1].question, [4], rng))
    expected["plant-near-1"] = ("near_duplicate", long_nat[0].id)
    expected["plant-near-2"] = ("near_duplicate", long_nat[1].id)
    # A native copy of a translated item: the translated original is the one to go.
    t = next(r for r in tra if len(r.question.split()) >= 20)
    nat_copy = _copy(t, id="plant-native-copy", origin=Origin.NATIVE, source="frenchmedmcqa",
                     question=_edit_words(t.question, [5], rng))
    expected[t.id] = ("near_duplicate", "plant-native-copy")
    # Options reordered: the same item.
    r = nat[10]
    letters = list(r.options)
    texts = list(r.options.values())[::-1]
    reordered = _copy(r, id="plant-reordered", origin=Origin.SYNTHETIC, options=dict(zip(letters, texts, strict=True)),
                      answer=[letters[len(letters) - 1 - letters.index(a)] for a in r.letters])
    expected["plant-reordered"] = ("near_duplicate", r.id)
    # Evaluation items hidden in training: verbatim, options reordered, pasted inside a longer question.
    ev = clean["eval"]
    e1, e2, e3 = ev[5], ev[40], next(e for e in ev[60:] if len(e.question.split()) >= 12)
    c1 = _copy(e1, id="plant-contam-verbatim", split="train")
    opts = list(e2.options.values())
    c2 = _copy(e2, id="plant-contam-reordered", split="train", origin=Origin.TRANSLATED,
               options=dict(zip(e2.options, opts[1:] + opts[:1], strict=True)), answer=["A"], task=Task.MCQU)
    c3 = _copy(e3, id="plant-contam-embedded", split="train", origin=Origin.SYNTHETIC,
               question="Un patient de 45 ans consulte pour une fièvre persistante depuis dix jours. " + e3.question)
    for c, e in ((c1, e1), (c2, e2), (c3, e3)):
        expected[c.id] = ("contaminated", e.id)

    d = tmp_path
    write_records(d / "translated.jsonl", [exact, near1, *tra, c2])
    write_records(d / "native.jsonl", [*nat[:5], c1, *nat[5:], nat_copy])
    write_records(d / "synthetic.jsonl", [*syn, near2, reordered, c3])
    write_records(d / "eval.jsonl", ev)
    inputs = [d / "translated.jsonl", d / "native.jsonl", d / "synthetic.jsonl"]
    report = run_curate(inputs, d / "out", [d / "eval.jsonl"], progress=False)

    rejected = {}
    for line in open(d / "out" / "rejected.jsonl", encoding="utf-8"):
        row = json.loads(line)
        other = row["detail"].get("duplicate_of") or row["detail"].get("eval_id")
        rejected[row["record"]["id"]] = (row["reason"], other)
    assert rejected == expected
    total = len(nat) + len(tra) + len(syn) + 8  # eight planted records; one of them ousts its original
    assert report["counts"] == {"input": total, "kept": total - 8, "rejected": 8}
    assert report["by_reason"] == {"contaminated": 3, "exact_duplicate": 1, "near_duplicate": 4}
    assert report["by_origin"]["translated"]["rejected"] == {"contaminated": 1, "exact_duplicate": 1,
                                                             "near_duplicate": 2}
    removed = report["decontamination"]["removed"]
    assert {x["id"]: x["eval_id"] for x in removed} == {c.id: e.id for c, e in ((c1, e1), (c2, e2), (c3, e3))}
    assert report["decontamination"]["by_eval_file"] == {str(d / "eval.jsonl"): 3}
    methods = {x["id"]: x["method"] for x in removed}
    assert methods["plant-contam-verbatim"] == "exact" and methods["plant-contam-embedded"] == "8-gram"
    kept_ids = [json.loads(line)["id"] for line in open(d / "out" / "curated.jsonl", encoding="utf-8")]
    assert len(kept_ids) == total - 8 and "plant-native-copy" in kept_ids and t.id not in kept_ids
    md = (d / "out" / "report.md").read_text(encoding="utf-8")
    assert "| translated | " in md and "eval.jsonl | 3 |" in md


def test_output_is_the_same_whatever_the_number_of_workers(clean, tmp_path):
    recs = [r for o in Origin for r in clean["by_origin"][o]]
    recs += [_copy(r, id=f"dup-{i}", origin=Origin.SYNTHETIC) for i, r in enumerate(recs[:40])]
    write_records(tmp_path / "in.jsonl", recs)
    a = run_curate([tmp_path / "in.jsonl"], tmp_path / "a", workers=1, chunk_size=97, progress=False)
    b = run_curate([tmp_path / "in.jsonl"], tmp_path / "b", workers=2, chunk_size=50, progress=False)
    for name in ("curated.jsonl", "rejected.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert a["by_reason"] == b["by_reason"] == {"exact_duplicate": 40}


def test_bad_records_are_rejected_with_a_reason_not_fatal(tmp_path):
    good = {"id": "ok", "task": "mcqu", "question": "Quel est l'antidote du paracétamol en cas de surdosage ?",
            "options": {"A": "La N-acétylcystéine", "B": "La naloxone"}, "answer": ["A"], "origin": "native",
            "source": "s"}
    lines = [json.dumps(good, ensure_ascii=False), "{not json", json.dumps({**good, "id": "no-answer", "answer": []}),
             json.dumps({**good, "id": "dup-opt", "options": {"A": "Oui", "B": "oui !"}}),
             json.dumps({**good, "id": "leak", "question": "La N-acétylcystéine est-elle l'antidote du paracétamol ?",
                         "options": {"A": "La N-acétylcystéine", "B": "Le flumazénil"}}),
             json.dumps({**good, "id": "too-long", "options": {"A": "La N-acétylcystéine", "B": "mot " * 300}}),
             json.dumps({**good, "id": "english", "question": "Which drug is the antidote for an acetaminophen "
                         "overdose in adults?", "options": {"A": "N-acetylcysteine", "B": "Naloxone"}})]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = run_curate([tmp_path / "in.jsonl"], tmp_path / "out", progress=False)
    rows = [json.loads(line) for line in open(tmp_path / "out" / "rejected.jsonl", encoding="utf-8")]
    got = {(r["record"]["id"] if isinstance(r["record"], dict) else r["record"]): (r["reason"], r["line"])
           for r in rows}
    assert got == {"{not json": ("invalid", 2), "no-answer": ("invalid", 3), "dup-opt": ("duplicate_options", 4),
                   "leak": ("answer_in_question", 5), "too-long": ("too_long", 6), "english": ("wrong_language", 7)}
    assert next(r for r in rows if r["reason"] == "invalid" and r["line"] == 3)["detail"]["field"] == "answer"
    assert next(r for r in rows if r["reason"] == "too_long")["detail"] == {"field": "options.B", "chars": 1200,
                                                                           "max": 1000}
    assert report["by_origin"]["unknown"]["rejected"] == {"invalid": 1}
    assert [json.loads(x)["id"] for x in open(tmp_path / "out" / "curated.jsonl")] == ["ok"]


def test_missing_input_is_a_user_error_and_writes_nothing(run_cli, tmp_path):
    code, _, err = run_cli("curate", tmp_path / "nope.jsonl", "-o", tmp_path / "out")
    assert code == 2 and "nope.jsonl" in err and "file not found" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "curated.jsonl").exists()
    code, _, err = run_cli("curate", tmp_path / "nope.jsonl", "-o", tmp_path / "out", "--set", "threshold=2")
    assert code == 2 and "threshold" in err


def test_cli_on_the_packaged_sample_finds_its_planted_problems(run_cli, tmp_path):
    from medinject.demo import sample_dir

    s = sample_dir()
    code, out, err = run_cli("curate", s / "native.jsonl", s / "translated.jsonl", s / "synthetic.jsonl",
                             "--eval", s / "eval.jsonl", "-o", tmp_path / "out", "--no-progress")
    assert code == 0, err
    rows = [json.loads(x) for x in open(tmp_path / "out" / "rejected.jsonl", encoding="utf-8")]
    assert {r["record"]["id"]: r["reason"] for r in rows} == {
        "nat-mcqu-13-contam": "contaminated", "trad-mcqu-13-dup": "near_duplicate", "trad-mcq-13-dup": "near_duplicate",
        "trad-mcqu-14-dup": "exact_duplicate", "syn-mcq-13-dup": "near_duplicate"}
    assert "113 in, 108 kept, 5 rejected" in out
    code, out, err = run_cli("mix", "--pool", tmp_path / "out" / "curated.jsonl", "--size", "36", "-o", tmp_path / "m")
    assert code == 0, err
    assert out.count(": 36 records") == 7
