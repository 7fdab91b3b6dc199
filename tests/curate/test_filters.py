"""Language identification, decontamination and the LLM quality judge, one filter at a time."""

from __future__ import annotations

import json

import pytest

from medinject.backends.base import ChatResponse
from medinject.curate import CurateSettings, run_curate
from medinject.curate.decontam import build_eval_index, find_contamination
from medinject.curate.language import BatchIdentifier, check_languages, identifier, language_text
from medinject.curate.minhash import MinHasher
from medinject.curate.quality import parse_score
from medinject.curate.text import item_segments, item_text, segmented_ngram_hashes, stable_hash
from medinject.io import write_records
from medinject.records import Origin, Record


def test_batch_language_identifier_decides_like_py3langid(fm, shared_data):
    from medinject.ingest import ingest

    english = list(ingest(shared_data / "medqa_usmle_4opt" / "test.jsonl", "medqa", origin=Origin.NATIVE))[:300]
    texts = [language_text(r) for r in fm["test"][:300] + english] + ["", "???", "LE FOIE EST GROS"]
    langs = tuple(sorted(CurateSettings().languages))
    ours = BatchIdentifier(langs).classify(texts)
    ref = [identifier(langs).classify(t) for t in texts]
    assert [o[0] for o in ours] == [r[0] for r in ref]
    assert max(abs(o[1] - r[1]) for o, r in zip(ours, ref, strict=True)) < 1e-3


def test_language_check_rejects_english_labelled_french(fm, shared_data):
    from medinject.ingest import ingest

    english = [r.model_copy(update={"lang": "fr"}) for r in
               ingest(shared_data / "medqa_usmle_4opt" / "test.jsonl", "medqa", origin=Origin.TRANSLATED)][:50]
    verdicts = check_languages(fm["train"][:200] + english, CurateSettings())
    assert all(v is None for v in verdicts[:200])  # Latin species names do not make French look Latin
    assert all(v.reason == "wrong_language" and v.detail["detected"] == "en" for v in verdicts[200:])


def _verdicts(eval_records, train_records, **kw):
    settings = CurateSettings(**kw)
    hasher = MinHasher(settings.num_perm)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        write_records(Path(d) / "eval.jsonl", eval_records)
        index = build_eval_index([Path(d) / "eval.jsonl"], settings, hasher)
    texts = [item_text(r) for r in train_records]
    h, off = segmented_ngram_hashes([item_segments(r) for r in train_records], settings.shingle_size)
    sig = hasher.signatures(h, off)
    return find_contamination(index, texts, [stable_hash(t) for t in texts], (h, off), sig, settings)


def test_decontamination_catches_edits_and_ignores_exam_boilerplate(fm):
    ev = fm["test"]
    e = next(r for r in ev if len(r.question.split()) >= 15)
    words = e.question.split()
    for i in range(3, len(words), 5):  # every fifth word changed: no 8-word run survives
        words[i] = "modifié"
    edited = e.model_copy(update={"id": "edited", "question": " ".join(words)})
    other = next(r for r in fm["train"] if r.question.startswith("Parmi les propositions suivantes"))
    verdicts = _verdicts(ev, [edited, other])
    assert verdicts[0].detail["method"] == "near_duplicate" and verdicts[0].detail["eval_id"] == e.id
    assert 0.5 <= verdicts[0].detail["score"] < 1
    assert verdicts[1] is None  # shares the exam's stock phrasing with test items, nothing more
    strict = _verdicts(ev, [edited], eval_threshold=0.95)
    assert strict[0] is None


class _Judge:
    name, model = "fake", "fake-judge"

    def __init__(self, answers):
        self.answers, self.seen = answers, []

    def generate(self, requests, *, on_result=None):
        self.seen += list(requests)
        return [ChatResponse(text=self.answers(r)) for r in requests]

    def close(self):
        pass


def test_quality_judge_scores_translated_and_synthetic_records(fm, tmp_path):
    native = fm["train"][:3]
    translated = [r.model_copy(update={"id": f"t{i}", "origin": Origin.TRANSLATED}) for i, r in
                  enumerate(fm["train"][10:14])]
    write_records(tmp_path / "in.jsonl", native + translated)
    scores = {"t0": '{"score": 5, "raison": "bien"}', "t1": "Note : 2", "t2": '{"score": 1}', "t3": "je ne sais pas"}
    judge = _Judge(lambda req: scores[req.tag])
    report = run_curate([tmp_path / "in.jsonl"], tmp_path / "out", backend=judge, quality_threshold=3,
                        quality_batch=2, progress=False)
    assert sorted(r.tag for r in judge.seen) == ["t0", "t1", "t2", "t3"]  # natives are not judged
    assert "Réponse attendue" in judge.seen[0].messages[1]["content"]
    kept = {json.loads(x)["id"]: json.loads(x) for x in open(tmp_path / "out" / "curated.jsonl")}
    assert list(kept) == [r.id for r in native] + ["t0", "t3"]  # order kept
    assert kept["t0"]["meta"]["quality"]["score"] == 5 and kept["t3"]["meta"]["quality"]["score"] is None
    assert "error" in kept["t3"]["meta"]["quality"]
    rejected = [json.loads(x) for x in open(tmp_path / "out" / "rejected.jsonl")]
    assert [(r["record"]["id"], r["detail"]["score"]) for r in rejected] == [("t1", 2), ("t2", 1)]
    assert all(r["reason"] == "low_quality" for r in rejected)
    assert report["quality"] == {"scored": 3, "unscored": 1, "mean_score": 2.667, "threshold": 3.0, "rejected": 2}


@pytest.mark.parametrize("text,parsed,expected", [
    ('{"score": 4}', None, 4), ("", {"score": 3}, 3), ("score = 2, car...", None, 2), ("5", None, 5),
    ("très bien", None, None), ('{"score": 9}', None, None)])
def test_parse_score(text, parsed, expected):
    assert parse_score(ChatResponse(text=text, parsed=parsed))[0] == expected


def test_failed_request_is_unscored():
    score, error = parse_score(ChatResponse(text=None, error="HTTP 500"))
    assert score is None and error == "HTTP 500"


def test_records_with_the_same_question_but_other_passages_are_not_duplicates(e3c_passages, tmp_path):
    recs = [Record(id=f"s{i}", task="oeq", question="Résumez ce cas.", context=p.text, answer="Un résumé.",
                   origin="synthetic", source="s") for i, p in enumerate(e3c_passages[:20])]
    recs.append(recs[3].model_copy(update={"id": "copy"}))
    write_records(tmp_path / "in.jsonl", recs)
    report = run_curate([tmp_path / "in.jsonl"], tmp_path / "out", progress=False)
    assert report["by_reason"] == {"exact_duplicate": 1}


def test_structure_filters_compare_options_on_case_and_spacing_only():
    from medinject.curate.filters import check_answer_leak, check_structure

    s = CurateSettings()
    base = {"id": "x", "task": "mcqu", "question": "Quelle est l'expression de l'équation d'Henderson ?",
            "answer": ["A"], "origin": "native", "source": "s"}
    signs = Record(**base, options={"A": "pH = 6,1 + log [HCO3-]", "B": "pH = 6,1 - log [HCO3-]"})
    assert check_structure(signs, s) is None
    same = Record(**base, options={"A": "Le foie", "B": "le  FOIE."})
    assert check_structure(same, s).detail == {"options": ["A", "B"]}
    short = Record(**{**base, "question": "Le foie : vrai ?"}, options={"A": "Le foie", "B": "La rate"})
    assert check_answer_leak(short, s) is None  # two words may appear by chance
