"""Generic importer: list cells, constant options, an origin column, the language of a file without --lang."""

import json

import pytest

from medinject.errors import InputError, MedinjectError
from medinject.ingest import ingest
from medinject.ingest.generic import load_mapping
from medinject.io import load_records
from medinject.records import Origin, Task

# An object keyed by id, as PubMedQA-style sets are distributed (invented text).
KEYED = {
    "501": {"QUESTION": "Does regular walking lower resting blood pressure in older adults?",
            "CONTEXTS": ["Methods paragraph describing a walking programme.", "Results paragraph with lower values."],
            "LONG_ANSWER": "Regular walking was followed by a lower resting pressure.", "final_decision": "yes",
            "kind": "translated"},
    "502": {"QUESTION": "Is vitamin D supplementation useful against the common cold in healthy adults?",
            "CONTEXTS": ["A trial with no difference in infections."],
            "LONG_ANSWER": "No benefit was shown.", "final_decision": "no", "kind": "native"},
    "503": {"QUESTION": "Does a short antibiotic course suffice after an uncomplicated appendectomy?",
            "CONTEXTS": ["An observational study with mixed results.", "", "A second small series."],
            "LONG_ANSWER": "The evidence is insufficient.", "final_decision": "maybe", "kind": "native"},
}


@pytest.fixture
def keyed(tmp_path):
    p = tmp_path / "qa.json"
    p.write_text(json.dumps(KEYED), encoding="utf-8")
    return p


def test_list_column_is_joined_with_newlines_never_python_list_text(keyed, tmp_path, run_cli):
    out = tmp_path / "o.jsonl"
    code, _, err = run_cli("ingest", keyed, "-f", "generic", "--origin", "native", "--lang", "en", "-o", out,
                           "--map", "question=QUESTION,answer=LONG_ANSWER,context=CONTEXTS")
    assert code == 0, err
    a, _, c = load_records(out)
    assert a.task is Task.OEQ and a.id == "501"
    assert a.context == "Methods paragraph describing a walking programme.\nResults paragraph with lower values."
    assert c.context == "An observational study with mixed results.\nA second small series."  # empty item dropped
    assert "['" not in out.read_text()


def test_list_cells_in_csv_and_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"q": ["Quels examens demander devant une douleur thoracique ?"],
                             "ans": [["ECG", "troponine"]]}), tmp_path / "t.parquet")
    (r,) = ingest(tmp_path / "t.parquet", "generic", mapping="question=q,answer=ans", origin="native", lang="fr")
    assert r.answer == "ECG\ntroponine"
    csv = tmp_path / "t.csv"
    csv.write_text('q,ctx,ans\nQuel traitement ?,"[""Cas clinique."", ""Examen normal.""]",Repos\n', encoding="utf-8")
    (r,) = ingest(csv, "generic", mapping="question=q,answer=ans,context=ctx", origin="native", lang="fr")
    assert r.context == "Cas clinique.\nExamen normal."


def test_constant_options_on_the_command_line_with_an_origin_column(keyed, tmp_path, run_cli):
    out = tmp_path / "o.jsonl"
    code, _, err = run_cli("ingest", keyed, "-f", "generic", "--lang", "en", "-o", out, "--map",
                           "question=QUESTION,option_values=yes|no|maybe,answer=final_decision,answer_as=text,"
                           "context=CONTEXTS,origin=kind")
    assert code == 0, err
    a, b, c = load_records(out)
    assert a.options == {"A": "yes", "B": "no", "C": "maybe"} and a.task is Task.MCQU
    assert (a.answer, b.answer, c.answer) == (["A"], ["B"], ["C"])
    assert (a.origin, b.origin) == (Origin.TRANSLATED, Origin.NATIVE)  # no --origin needed


def test_constant_options_in_yaml_read_as_text_not_booleans(keyed, tmp_path):
    spec = tmp_path / "map.yaml"
    spec.write_text("question: QUESTION\noption_values: [yes, no, maybe]\nanswer: final_decision\n"
                    "answer_as: text\norigin: kind\nlang: lang_col\n")
    fm = load_mapping(spec)
    assert fm.option_values == ["yes", "no", "maybe"]
    spec.write_text("question: QUESTION\noption_values:\n  - Yes\n  - 'No'\n  - off\nanswer: final_decision\n"
                    "answer_as: text\n")
    assert load_mapping(spec).option_values == ["Yes", "No", "off"]
    spec.write_text("question: QUESTION\noption_values: yes|no|maybe\nanswer: final_decision\nanswer_as: text\n")
    records = list(ingest(keyed, "generic", mapping=spec, origin="native", lang="en"))
    assert [r.answer for r in records] == [["A"], ["B"], ["C"]]


def test_constant_options_are_checked():
    with pytest.raises(MedinjectError, match="not both"):
        load_mapping("question=q,answer=g,options=a|b,option_values=oui|non")
    with pytest.raises(MedinjectError, match="share one text"):
        load_mapping("question=q,answer=g,option_values=oui|Oui")


def test_english_file_without_lang_is_an_error_naming_the_language(keyed, tmp_path, run_cli):
    out = tmp_path / "o.jsonl"
    code, _, err = run_cli("ingest", keyed, "-f", "generic", "--origin", "native", "-o", out,
                           "--map", "question=QUESTION,answer=LONG_ANSWER")
    assert code == 2 and not out.exists()
    assert "'en'" in err and "--lang en" in err and "field 'lang'" in err


def test_french_file_without_lang_is_labelled_fr_and_a_lang_column_needs_no_detection(tmp_path):
    rows = [{"q": "Quel est le traitement de première intention de l'hypertension artérielle essentielle ?",
             "a": "Un diurétique thiazidique ou un inhibiteur de l'enzyme de conversion.", "l": "fr"},
            {"q": "Which drug reverses heparin?", "a": "Protamine sulfate reverses heparin.", "l": "en"}]
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps(rows[0], ensure_ascii=False) + "\n")
    (r,) = ingest(p, "generic", mapping="question=q,answer=a", origin="native")
    assert r.lang == "fr"
    p.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in rows))
    assert [r.lang for r in ingest(p, "generic", mapping="question=q,answer=a,lang=l", origin="native")] == \
        ["fr", "en"]
    p.write_text(json.dumps(rows[1]) + "\n" + json.dumps({**rows[1], "q": "Which antidote for paracetamol?"}) + "\n")
    with pytest.raises(InputError, match="reads as 'en'"):
        list(ingest(p, "generic", mapping="question=q,answer=a", origin="native"))


def test_answer_text_column_is_checked_against_the_index(tmp_path, run_cli):
    rows = [{"id": "z1", "q": "Quel organe produit l'insuline ?", "a": "Foie", "b": "Pancréas", "c": "Rate",
             "cop": 1, "txt": "pancréas"},
            {"id": "z2", "q": "Quel organe filtre le sang ?", "a": "Rein", "b": "Cœur", "c": "Rate", "cop": 2,
             "txt": "Rein"}]
    src = tmp_path / "m.jsonl"
    src.write_text(json.dumps(rows[0], ensure_ascii=False) + "\n", encoding="utf-8")
    mapping = "question=q,options=a|b|c,answer=cop,answer_as=index,answer_text=txt,id=id"
    (r,) = ingest(src, "generic", mapping=mapping, origin="native", lang="fr")
    assert r.answer == ["B"]
    src.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in rows), encoding="utf-8")
    code, _, err = run_cli("ingest", src, "-f", "generic", "--origin", "native", "--lang", "fr", "--map", mapping,
                           "-o", tmp_path / "o.jsonl")
    assert code == 2 and not (tmp_path / "o.jsonl").exists()
    assert "line 2: record z2: field 'txt'" in err and "contradicts the answer C" in err and "option A" in err


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
@pytest.mark.parametrize("mapped", ["lang=LANGUAGE", "context=NOPE", "origin=provenance", "meta=Kind"])
def test_a_mapped_key_that_no_record_has_is_refused_naming_it(tmp_path, run_cli, suffix, mapped):
    """CSV refuses a mapped column missing from its header; JSON rows have no header, and a mistyped key used to
    drop its field silently (`lang=LANGUAGE` left English text labelled French)."""
    src = tmp_path / f"qa{suffix}"
    if suffix == ".json":
        src.write_text(json.dumps(KEYED), encoding="utf-8")
    else:
        src.write_text("".join(json.dumps({"id": k, **v}) + "\n" for k, v in KEYED.items()), encoding="utf-8")
    out = tmp_path / "o.jsonl"
    code, stdout, err = run_cli("ingest", src, "-f", "generic", "--origin", "native", "--lang", "en", "-o", out,
                                "--map", f"question=QUESTION,answer=LONG_ANSWER,{mapped}")
    column = mapped.partition("=")[2]
    assert code == 2 and "Traceback" not in stdout + err
    assert str(src) in err and column in err and "key of no record" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_key_some_records_lack_is_still_optional(tmp_path, run_cli):
    rows = [{"id": k, **v} for k, v in KEYED.items()]
    del rows[0]["CONTEXTS"], rows[2]["CONTEXTS"]
    src = tmp_path / "qa.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, _, err = run_cli("ingest", src, "-f", "generic", "--origin", "native", "--lang", "en",
                           "-o", tmp_path / "o.jsonl", "--map", "question=QUESTION,answer=LONG_ANSWER,context=CONTEXTS")
    assert code == 0, err
    contexts = [r.context for r in load_records(tmp_path / "o.jsonl")]
    assert contexts == [None, "A trial with no difference in infections.", None]
