"""Text enters once, normalised: NFC, Unicode spaces, BOM, CRLF, HTML entities; ids unique; no ambiguous gold."""

import json
import unicodedata

from medinject.io import load_records
from medinject.validate import validate_file

NBSP = "\u00a0"


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def ingest_csv(tmp_path, run_cli, name: str, text: str, extra=()):
    src = tmp_path / f"{name}.csv"
    src.write_bytes(text.encode("utf-8"))
    out = tmp_path / f"{name}.jsonl"
    code, stdout, err = run_cli("ingest", src, "--format", "generic", "--origin", "native", "-o", out, "--map",
                                "question=q,options=opt_a|opt_b|opt_c,answer=gold,answer_as=text,id=uid", *extra)
    return code, stdout, err, out


def ingest_rows(tmp_path, run_cli, rows):
    """Generic JSONL rows (id i, question q, options a|b, gold letter g) ingested; the records file."""
    src = tmp_path / "d.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o.jsonl"
    code, _, err = run_cli("ingest", src, "-f", "generic", "--origin", "native", "--lang", "fr", "-o", out,
                           "--map", "question=q,options=a|b,answer=g,id=i")
    assert code == 0, err
    return out


HEADER = "\ufeffuid,q,opt_a,opt_b,opt_c,gold\r\n"


# ---------------------------------------------------------------- shared case: ingest-normalisation ----

def test_nbsp_option_matches_a_gold_with_a_plain_space(tmp_path, run_cli):
    text = HEADER + f"n1,Posologie de l'amoxicilline ?,1{NBSP}g trois fois par jour,10 g,50 mg," \
        "1 g trois fois par jour\r\n"
    code, stdout, err, out = ingest_csv(tmp_path, run_cli, "nbsp", text)
    assert code == 0, err
    (r,) = load_records(out)
    assert r.answer == ["A"] and r.options["A"] == "1 g trois fois par jour"
    assert "1 field(s) normalised" in stdout


def test_nfd_option_matches_an_nfc_gold_and_is_stored_nfc(tmp_path, run_cli):
    text = HEADER + f"n2,Quel signe oriente vers une péritonite ?,Diarrhée,{nfd('Défense abdominale généralisée')}," \
        "Prurit,Défense abdominale généralisée\r\n"
    code, _, err, out = ingest_csv(tmp_path, run_cli, "nfd", text)
    assert code == 0, err
    (r,) = load_records(out)
    assert r.answer == ["B"] and r.options["B"] == "Défense abdominale généralisée"
    assert unicodedata.is_normalized("NFC", r.options["B"])


def test_entities_crlf_in_a_cell_and_nfd_are_stored_decoded(tmp_path, run_cli):
    text = HEADER + 'n3,"Une kali&eacute;mie &gt; 6 mmol/L :\r\n(adulte)",une hyperkaliémie,' \
        f'{nfd("une hypokaliémie")},une normokaliémie,une hyperkaliémie\r\n'
    code, stdout, err, out = ingest_csv(tmp_path, run_cli, "scraped", text)
    assert code == 0, err
    (r,) = load_records(out)
    assert r.question == "Une kaliémie > 6 mmol/L :\n(adulte)"
    assert r.options["B"] == "une hypokaliémie" and unicodedata.is_normalized("NFC", r.options["B"])
    assert "HTML entities decoded in 1 field(s)" in stdout
    assert validate_file(out).ok


# ---------------------------------------------------------------- own instances, every importer ----

def test_medqa_importer_normalises_entities_and_nfd(tmp_path, run_cli):
    src = tmp_path / "m.jsonl"
    rows = [{"question": "Serum Na&#43; of 120 mmol/L is called?", "answer": "Hyponatremia",
             "options": {"A": "Hyponatremia", "B": nfd("Hypernatrémie")}, "answer_idx": "A"},
            {"question": f"A 3{NBSP}cm mass&hellip; next step?", "answer": "Biopsy",
             "options": {"A": "Biopsy", "B": "Observation"}, "answer_idx": "A"}]
    src.write_text("\ufeff" + "\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "m.out.jsonl"
    code, stdout, err = run_cli("ingest", src, "-f", "medqa", "--origin", "native", "-o", out)
    assert code == 0, err
    a, b = load_records(out)
    assert a.question == "Serum Na+ of 120 mmol/L is called?" and a.options["B"] == "Hypernatrémie"
    assert b.question == "A 3 cm mass… next step?"
    assert "HTML entities decoded in 2 field(s)" in stdout and "1 field(s) normalised" in stdout


def test_frenchmedmcqa_and_passages_are_normalised(tmp_path, run_cli):
    src = tmp_path / "f.json"
    src.write_text(json.dumps([{"id": "f1", "question": nfd("Quelle molécule est un bêta-bloquant ?"),
                                "answers": {"a": "Propranolol", "b": "Amlodipine &amp; autres"},
                                "correct_answers": ["a"]}]), encoding="utf-8")
    out = tmp_path / "f.jsonl"
    assert run_cli("ingest", src, "-f", "frenchmedmcqa", "--origin", "native", "-o", out)[0] == 0
    (r,) = load_records(out)
    assert r.question == "Quelle molécule est un bêta-bloquant ?" and r.options["B"] == "Amlodipine & autres"
    cases = tmp_path / "e.jsonl"
    cases.write_text(json.dumps({"id": "c1", "text": f"Patient de 54{NBSP}ans, fi&egrave;vre.\r\nSuite."}) + "\n",
                     encoding="utf-8")
    out = tmp_path / "p.jsonl"
    assert run_cli("ingest", cases, "-f", "e3c", "-o", out)[0] == 0
    assert json.loads(out.read_text())["text"] == "Patient de 54 ans, fièvre.\nSuite."


# ---------------------------------------------------------------- shared case: answer-text-two-options ----

def test_gold_text_shared_by_two_options_is_refused_naming_both_letters(tmp_path, run_cli):
    src = tmp_path / "m.jsonl"
    src.write_text(json.dumps({"id": "k7", "question": "Formule de l'indice de masse corporelle ?",
                               "opa": "Poids / taille²", "opb": "Taille / poids", "opc": "Poids x taille",
                               "opd": "poids / taille² ", "cop": 0, "answer_text": "Poids / taille²"}) + "\n")
    out = tmp_path / "o.jsonl"
    code, _, err = run_cli("ingest", src, "-f", "generic", "--origin", "native", "-o", out, "--map",
                           "question=question,options=opa|opb|opc|opd,answer=answer_text,answer_as=text,id=id")
    assert code == 2 and not out.exists()
    assert "record k7" in err and "options A and D" in err and "field 'answer_text'" in err


def test_validate_flags_a_gold_sharing_its_text_with_a_wrong_option(tmp_path):
    rec = {"id": "q1", "task": "mcqu", "question": "Formule ?", "options": {"A": "X / Y", "B": "Y / X",
           "C": "Z", "D": "y / x"}, "answer": ["D"], "origin": "native", "source": "t"}
    ok = {**rec, "id": "q2", "options": {"A": "X / Y", "B": "Y / X", "C": "Z", "D": "W"}}
    both_gold = {**rec, "id": "q3", "task": "mcq", "answer": ["B", "D"]}
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in (rec, ok, both_gold)))
    report = validate_file(path)
    assert report.bad == 1 and len(report.problems) == 1
    assert "record q1" in report.problems[0] and "options B and D" in report.problems[0]


def test_frenchmedmcqa_item_with_an_ambiguous_gold_is_refused(tmp_path, run_cli):
    src = tmp_path / "f.json"
    src.write_text(json.dumps([{"id": "f9", "question": "Q ?", "answers": {"a": "Aspirine", "b": "Héparine",
                                "c": "aspirine"}, "correct_answers": ["a"]}]), encoding="utf-8")
    code, _, err = run_cli("ingest", src, "-f", "frenchmedmcqa", "--origin", "native", "-o", tmp_path / "o.jsonl")
    assert code == 2 and "record f9" in err and "A and C" in err


# ---------------------------------------------------------------- shared case: medqa-duplicate-ids ----

MEDQA = [
    {"realidx": 3, "question": "Drug of choice for anaphylaxis?", "answer": "Epinephrine",
     "options": {"A": "Epinephrine", "B": "Diphenhydramine", "C": "Prednisone", "D": "Ranitidine"}, "answer_idx": "A"},
    {"realidx": 3, "question": "First-line treatment of uncomplicated hypertension in a 50-year-old?",
     "answer": "Thiazide diuretic", "options": {"A": "Clonidine", "B": "Thiazide diuretic", "C": "Minoxidil",
                                                "D": "Hydralazine"}, "answer_idx": "B"},
]


def test_medqa_repeated_ids_follow_the_suffix_policy_and_validate(tmp_path, run_cli):
    src = tmp_path / "m.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in MEDQA + [{**MEDQA[0], "question": "Antidote of heparin?",
                   "answer": "Protamine", "options": {"A": "Protamine", "B": "Vitamin K"}}]))
    out = tmp_path / "o.jsonl"
    code, stdout, err = run_cli("ingest", src, "-f", "medqa", "--origin", "native", "--split", "test", "-o", out)
    assert code == 0, err
    ids = [r.id for r in load_records(out)]
    assert ids == ["medqa-test-3", "medqa-test-3-2", "medqa-test-3-3"]
    assert [r.meta.get("duplicate_of") for r in load_records(out)] == [None, "medqa-test-3", "medqa-test-3"]
    assert "2 repeated id(s) suffixed" in stdout
    assert validate_file(out).ok


def test_medqa_answer_text_contradicting_answer_idx_is_reported_by_record(tmp_path, run_cli):
    bad = {**MEDQA[1], "realidx": 11, "answer_idx": "C"}
    src = tmp_path / "m.jsonl"
    src.write_text(json.dumps(MEDQA[0]) + "\n" + json.dumps(bad) + "\n")
    out = tmp_path / "o.jsonl"
    code, _, err = run_cli("ingest", src, "-f", "medqa", "--origin", "native", "-o", out)
    assert code == 2 and not out.exists()
    assert "line 2" in err and "record 11" in err and "field 'answer'" in err and "option B" in err


def test_generic_repeated_ids_get_the_same_policy_and_a_suffix_never_collides(tmp_path, run_cli):
    rows = [{"i": "x", "q": "Q1 ?", "a": "oui", "b": "non", "g": "A"},
            {"i": "x-2", "q": "Q2 ?", "a": "oui", "b": "non", "g": "B"},
            {"i": "x", "q": "Q3 ?", "a": "oui", "b": "non", "g": "A"}]
    out = ingest_rows(tmp_path, run_cli, rows)
    records = load_records(out)
    assert [r.id for r in records] == ["x", "x-2", "x-3"] and records[2].meta["duplicate_of"] == "x"
    assert validate_file(out).ok


def test_a_genuine_id_equal_to_a_suffixed_one_is_renamed_not_called_a_duplicate(tmp_path, run_cli):
    rows = [{"i": "7", "q": f"Q{n} ?", "a": "oui", "b": "non", "g": "A"} for n in (1, 2)]
    rows.append({"i": "7-2", "q": "Q3 ?", "a": "oui", "b": "non", "g": "B"})
    out = ingest_rows(tmp_path, run_cli, rows)
    records = load_records(out)
    assert [r.id for r in records] == ["7", "7-2", "7-2-2"]
    assert [(r.meta.get("duplicate_of"), r.meta.get("renamed_from")) for r in records] == [
        (None, None), ("7", None), (None, "7-2")]
    assert validate_file(out).ok


def test_ids_that_differ_only_by_spaces_or_invisible_characters_are_one_id(tmp_path, run_cli):
    """score and compare join ids as `join_key`s; ingest and validate must see the same ids, or eval's own
    output is refused later as a repeated row."""
    rows = [{"i": i, "q": f"Q{n} ?", "a": "oui", "b": "non", "g": "A"} for n, i in enumerate(["x1", "x1 ", "x1\u200b"])]
    out = ingest_rows(tmp_path, run_cli, rows)
    assert [r.id for r in load_records(out)] == ["x1", "x1-2", "x1-3"]
    assert validate_file(out).ok
    by_hand = tmp_path / "by_hand.jsonl"  # written by another tool: validate names the repeat
    by_hand.write_text(out.read_text().replace('"x1-2"', '"x1 "'))
    report = validate_file(by_hand)
    assert not report.ok and any("duplicate id" in str(e) and "record x1" in str(e) for e in report.problems)


def test_an_option_that_is_only_an_entity_is_empty_once_decoded(tmp_path, run_cli):
    src = tmp_path / "m.jsonl"
    src.write_text(json.dumps({"question": "Q?", "options": {"A": "x", "B": "&nbsp;"}, "answer_idx": "A"}) + "\n")
    code, _, err = run_cli("ingest", src, "-f", "medqa", "--origin", "native", "-o", tmp_path / "o.jsonl")
    assert code == 2 and "field 'options'" in err and "option B is empty" in err
