"""The generic importer: any table through a field mapping, no code."""

import csv
import json

import pytest

from medinject.errors import MedinjectError
from medinject.ingest.generic import FieldMap, load_mapping, parse_mapping_text, read_generic
from medinject.io import load_records
from medinject.records import Origin, Task


def write_csv(path, rows, delimiter=","):
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=delimiter)
        w.writeheader()
        w.writerows(rows)
    return path


CSV_ROWS = [
    {"uid": "q1", "q": "Quel organe sécrète l'insuline ?", "opt_a": "Le foie", "opt_b": "Le pancréas",
     "opt_c": "La rate", "gold": "1", "ctx": "", "subject": "endocrino"},
    {"uid": "q2", "q": "Quels sont des antibiotiques ?", "opt_a": "Amoxicilline", "opt_b": "Paracétamol",
     "opt_c": "Ciprofloxacine", "gold": "0,2", "ctx": "Cours de pharmacologie.", "subject": "pharmaco"},
    {"uid": "q3", "q": "Vrai ou faux : l'aspirine est un AINS.", "opt_a": "Vrai", "opt_b": "Faux",
     "opt_c": "", "gold": "0", "ctx": "", "subject": "pharmaco"},
]


def test_csv_with_one_column_per_option_and_index_answers(tmp_path, run_cli):
    src = write_csv(tmp_path / "exam.csv", CSV_ROWS)
    out = tmp_path / "exam.jsonl"
    code, stdout, err = run_cli(
        "ingest", src, "--format", "generic", "--origin", "native", "--split", "dev", "-o", out,
        "--map", "question=q,options=opt_a|opt_b|opt_c,answer=gold,answer_as=index,context=ctx,id=uid,meta=subject")
    assert code == 0, err
    r1, r2, r3 = load_records(out)
    assert (r1.id, r1.task, r1.answer, r1.options["B"], r1.context) == ("q1", Task.MCQU, ["B"], "Le pancréas", None)
    assert (r2.task, r2.answer, r2.context) == (Task.MCQ, ["A", "C"], "Cours de pharmacologie.")
    assert list(r3.options) == ["A", "B"]  # the empty trailing option column is dropped
    assert r1.source == "exam" and r1.split == "dev" and r1.origin is Origin.NATIVE and r1.lang == "fr"
    assert r2.meta == {"subject": "pharmaco"}


def test_json_object_keyed_by_id_with_options_list_and_text_answers(tmp_path, run_cli):
    data = {
        "a1": {"question": "Quel est l'antidote du paracétamol ?", "choices": ["N-acétylcystéine", "Naloxone"],
               "good": "n-acétylcystéine"},
        "a2": {"question": "Décrire la prise en charge d'une hypoglycémie.", "choices": None,
               "good": "Resucrage oral ou glucagon."},
    }
    src = tmp_path / "keyed.json"
    src.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "keyed.parquet"
    code, _, err = run_cli("ingest", src, "--format", "generic", "--origin", "synthetic", "--source", "mine",
                           "-o", out, "--map", "question=question,options=choices,answer=good,answer_as=text")
    assert code == 0, err
    a1, a2 = load_records(out)
    assert (a1.id, a1.task, a1.answer, a1.source) == ("a1", Task.MCQU, ["A"], "mine")  # text matched ignoring case
    assert (a2.id, a2.task, a2.answer) == ("a2", Task.OEQ, "Resucrage oral ou glucagon.")


def test_yaml_mapping_jsonl_letters_task_column_and_options_object(tmp_path):
    rows = [
        {"Q": "Signes de l'anémie ?", "opts": {"a": "Pâleur", "b": "Asthénie", "c": "Fièvre"}, "ans": "a;b",
         "kind": "mcq", "orig": "translated", "en": "en-7"},
        {"Q": "Signe de la méningite ?", "opts": {"a": "Raideur de nuque", "b": "Toux"}, "ans": ["A"],
         "kind": "mcq", "orig": "translated", "en": "en-8"},
    ]
    src = tmp_path / "t.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    spec = tmp_path / "map.yaml"
    spec.write_text("question: Q\noptions: opts\nanswer: ans\ntask: kind\norigin: orig\nparent_id: en\n")
    r1, r2 = list(read_generic(src, mapping=spec))
    assert (r1.answer, r1.task, r1.origin, r1.parent_id) == (["A", "B"], Task.MCQ, Origin.TRANSLATED, "en-7")
    assert r2.task is Task.MCQ and r2.answer == ["A"]  # the mapped task wins over inference
    assert r1.id == "t-train-1"


def test_tsv_and_one_based_index(tmp_path):
    src = write_csv(tmp_path / "s.tsv", [{"q": "2+2 ?", "a": "3", "b": "4", "y": "2"}], delimiter="\t")
    (r,) = read_generic(src, mapping="question=q,options=a|b,answer=y,answer_as=index1", origin="native")
    assert r.answer == ["B"]


def test_mapping_text_parsing_and_validation():
    assert parse_mapping_text("question=q, options=a|b ,answer=g") == {"question": "q", "options": "a|b",
                                                                     "answer": "g"}
    fm = load_mapping("question=q,options=a|b|c,answer=g,meta=x|y")
    assert fm.options == ["a", "b", "c"] and fm.meta == ["x", "y"]
    assert load_mapping({"question": "q", "options": "opts", "answer": "g"}).options == "opts"
    assert isinstance(load_mapping(fm), FieldMap)
    with pytest.raises(MedinjectError, match="unknown key 'questoin' \\(did you mean 'question'"):
        load_mapping("questoin=q,answer=g")
    with pytest.raises(MedinjectError, match="'answer' is required"):
        load_mapping("question=q")
    with pytest.raises(MedinjectError, match="answer_as"):
        load_mapping("question=q,answer=g,answer_as=position")
    with pytest.raises(MedinjectError, match="needs options"):
        load_mapping("question=q,answer=g,answer_as=index")
    with pytest.raises(MedinjectError, match="not key=column"):
        load_mapping("question=q,answer")


def test_mapping_that_is_neither_pairs_nor_a_file(tmp_path):
    with pytest.raises(MedinjectError, match="neither 'key=column,...' nor a YAML file"):
        load_mapping("question:q")
    with pytest.raises(MedinjectError, match="mapping file not found"):
        load_mapping(str(tmp_path / "absent.yaml"))
