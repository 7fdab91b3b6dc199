"""Judge inputs and agreement joins read text as printed; repeated rows and ratings are refused."""

from __future__ import annotations

import json
import unicodedata

import pytest

from medinject.errors import InputError
from medinject.judge.agreement import load_scores, read_ratings, read_scores
from medinject.judge.inputs import read_answers


def nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_judge_reads_normalised_answers_and_ids(tmp_path):
    p = _jsonl(tmp_path / "a.jsonl", [{"id": nfd("cas-é"), "question": nfd("Conduite à tenir ?"),
                                       "reference": "Antibiothérapie&nbsp;IV", "prediction": "Repos\u00a0strict\r\n"}])
    (a,) = read_answers(p, "base")
    assert a.id == "cas-é" and a.question == "Conduite à tenir ?"
    assert a.reference == "Antibiothérapie IV" and a.prediction == "Repos strict\n"


def test_judge_refuses_an_item_listed_twice_even_when_ids_differ_in_form(tmp_path):
    row = {"question": "Q ?", "reference": "r", "prediction": "p"}
    p = _jsonl(tmp_path / "a.jsonl", [{**row, "id": "é1"}, {**row, "id": nfd("é1")}])
    with pytest.raises(InputError, match="line 2: record é1: field 'id': item listed twice"):
        read_answers(p, "base")


def _ratings(path, rows, bom=False):
    text = "annotator,item_id,system,score\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    return path


def test_ratings_with_a_bom_and_nfd_ids_join_the_scores(tmp_path):
    human = read_ratings(_ratings(tmp_path / "r.csv", [("alice", nfd("cas-é"), "base", 7),
                                                       ("bruno", "cas-é\u00a0", "base", 5)], bom=True))
    assert {r["item_id"] for r in human} == {"cas-é"}
    scores = read_scores(_jsonl(tmp_path / "p.jsonl", [{"id": "cas-é", "task": "oeq", "scores": {"bleu": 12.0}}]),
                         "base")
    assert set(scores["BLEU"]) == {(r["item_id"], r["system"]) for r in human}


def test_a_repeated_rating_is_refused(tmp_path):
    path = _ratings(tmp_path / "r.csv", [("alice", "q1", "base", 7), ("alice", "q2", "base", 5),
                                         ("alice", nfd("q1"), "base", 3)])
    with pytest.raises(InputError, match="line 4: record q1: field 'item_id': duplicate rating"):
        read_ratings(path)


def test_agreement_refuses_a_predictions_file_with_a_repeated_row(tmp_path, run_cli):
    preds = _jsonl(tmp_path / "base.jsonl", [{"id": "q1", "task": "oeq", "scores": {"rouge2": 0.4}},
                                             {"id": "q2", "task": "oeq", "scores": {"rouge2": 0.1}},
                                             {"id": "q1", "task": "oeq", "scores": {"rouge2": 0.9}}])
    with pytest.raises(InputError, match="line 3: record q1: field 'id': duplicate row"):
        load_scores({"base": preds})
    human = _ratings(tmp_path / "r.csv", [("alice", "q1", "base", 7), ("alice", "q2", "base", 2)])
    code, _, err = run_cli("agreement", human, f"base={preds}", "-o", tmp_path / "out")
    assert code == 2 and "duplicate row" in err and "Traceback" not in err


def test_a_repeated_judge_verdict_is_refused(tmp_path):
    v = {"id": "q1", "system": "base", "mode": "graded", "status": "ok", "score": 6}
    path = _jsonl(tmp_path / "verdicts.jsonl", [v, {**v, "mode": "binary", "score": 1}, {**v, "score": 9}])
    with pytest.raises(InputError, match="line 3: record q1"):
        read_scores(path)
