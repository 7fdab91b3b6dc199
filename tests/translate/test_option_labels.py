"""A translated option that repeats its own letter label is stripped; curation rejects such options anywhere."""

from __future__ import annotations

import json

import pytest
from fakeserver import FakeChatServer

from medinject.curate.filters import check_option_labels
from medinject.curate.settings import CurateSettings
from medinject.io import load_records, write_records
from medinject.records import Origin, Record, Task
from medinject.translate.checks import labelled_options, strip_option_labels

EN = Record(id="e5", task=Task.MCQ, question="Which of the following drugs are loop diuretics used for heart failure?",
            options={"A": "Furosemide", "B": "Spironolactone", "C": "Bumetanide", "D": "A. baumannii vaccine"},
            answer=["A", "C"], origin=Origin.NATIVE, source="toyqa", split="train", lang="en")
FR_REPLY = {"question": "Parmi les médicaments suivants, lesquels sont des diurétiques de l'anse utilisés dans "
                        "l'insuffisance cardiaque ?",
            "options": {"A": "A) Furosémide", "B": "(B) Spironolactone", "C": "C. Bumétanide",
                        "D": "A. baumannii, vaccin"}}


def test_translation_with_copied_labels_is_stripped_and_recorded(tmp_path, run_cli):
    src = tmp_path / "en.jsonl"
    write_records(src, [EN])
    with FakeChatServer(lambda body: json.dumps(FR_REPLY, ensure_ascii=False)) as server:
        code, out, err = run_cli("translate", src, "-o", tmp_path / "fr.jsonl", "--model", "fake",
                                 "--base-url", server.base_url, "--cache", "off")
    assert code == 0, err
    (r,) = load_records(tmp_path / "fr.jsonl")
    assert r.options == {"A": "Furosémide", "B": "Spironolactone", "C": "Bumétanide", "D": "A. baumannii, vaccin"}
    assert r.meta["option_labels_stripped"] == ["A", "B", "C"] and r.answer == ["A", "C"]


@pytest.mark.parametrize("options", [
    {"A": "B) Furosémide", "B": "A) Spironolactone", "C": "C. Bumétanide", "D": "(D) A. baumannii, vaccin"},
    {"A": "Furosémide", "B": "Spironolactone", "C": "[D] Bumétanide", "D": "A. baumannii, vaccin"},
])
def test_translation_with_another_options_label_is_rejected(tmp_path, run_cli, options):
    src, out = tmp_path / "en.jsonl", tmp_path / "fr.jsonl"
    write_records(src, [EN])
    reply = {**FR_REPLY, "options": options}
    with FakeChatServer(lambda body: json.dumps(reply, ensure_ascii=False)) as server:
        code, _, err = run_cli("translate", src, "-o", out, "--model", "fake", "--base-url", server.base_url,
                               "--cache", "off")
    assert code == 0, err
    assert out.read_text() == ""  # nothing accepted
    (rej,) = [json.loads(x) for x in (tmp_path / "fr.rejected.jsonl").read_text().splitlines()]
    assert rej["reason"] == "option_label" and "starts with the label of option" in rej["detail"]


@pytest.mark.parametrize("text, stripped", [("A) x", "x"), ("(A) x", "x"), ("[A] x", "x"), ("A: x", "x"),
                                            ("A - x", "x"), ("A.x", "x"), ("Ax", None), ("B) x", None)])
def test_label_forms(text, stripped):
    out, letters = strip_option_labels({"options": {"A": "y"}}, {"options": {"A": text}})
    assert (out["options"]["A"] if letters else None) == stripped


def _rec(options, origin=Origin.NATIVE):
    return Record(id="n1", task=Task.MCQU, question="Quel est le traitement de la crise d'asthme ?",
                  options=options, answer=["A"], origin=origin, source="s")


def test_curation_rejects_labelled_options_of_any_origin():
    settings = CurateSettings()
    native = _rec({"A": "A) Salbutamol", "B": "B) Amoxicilline", "C": "C) Oméprazole"})
    synthetic = _rec({"A": "Salbutamol", "B": "(B) Amoxicilline"}, origin=Origin.SYNTHETIC)
    weak = _rec({"A": "A. Salbutamol", "B": "B. Amoxicilline"}, origin=Origin.TRANSLATED)
    for r, letters in ((native, ["A", "B", "C"]), (synthetic, ["B"]), (weak, ["A", "B"])):
        reject = check_option_labels(r, settings)
        assert reject is not None and reject.reason == "option_label" and reject.detail == {"options": letters}
    # One option starting with an abbreviation that happens to be its letter is not a label.
    assert check_option_labels(_rec({"A": "A. baumannii", "B": "E. coli"}), settings) is None
    assert labelled_options({"A": "Salbutamol", "B": "Amoxicilline"}) == []
