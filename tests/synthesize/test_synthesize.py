"""Synthesis from E3C clinical cases against a scripted loopback server."""

import itertools
import json

import pytest
from fakeserver import FakeChatServer

from medinject.backends import BackendSpec
from medinject.io import iter_jsonl, load_records, write_passages
from medinject.synthesize import check_item, load_kinds, run_synthesize

OPTIONS = {"A": "Une pneumopathie", "B": "Une embolie pulmonaire", "C": "Un infarctus du myocarde",
           "D": "Une péricardite", "E": "Une dissection aortique"}
MCQ = {"question": "Quel diagnostic faut-il évoquer en premier chez ce patient ?", "options": OPTIONS,
       "answer": ["B", "D"]}
OEQ = {"question": "Quelle prise en charge proposez-vous pour ce patient ?",
       "answer": "Une hospitalisation, une anticoagulation curative et une surveillance clinique rapprochée."}


@pytest.fixture
def passages(shared_data, tmp_path):
    from medinject.ingest import ingest

    path = tmp_path / "e3c.jsonl"
    items = ingest(shared_data / "e3c_fr_clinical_cases" / "e3c_fr_layer1_layer2.jsonl", "e3c")
    write_passages(path, itertools.islice(items, 6))
    return path


def kind_of(body) -> str:
    user = body["messages"][1]["content"]
    return "mcq" if "choix multiples" in user else "oeq"


def test_check_item_reasons():
    mcq, summary = load_kinds(["mcq", "summary"])
    passage = "Un homme de 55 ans consulte pour une douleur thoracique. " * 5
    assert check_item(mcq, MCQ, passage) is None
    assert check_item(mcq, {**MCQ, "answer": ["F"]}, passage)[0] == "answer_outside_options"
    assert check_item(mcq, {**MCQ, "options": {**OPTIONS, "E": " une PNEUMOPATHIE"}}, passage)[0] == \
        "duplicate_options"
    assert check_item(mcq, {**MCQ, "options": {k: OPTIONS[k] for k in "ABCD"}}, passage)[0] == "option_count"
    assert check_item(mcq, {**MCQ, "question": " "}, passage)[0] == "empty"
    labels = {"A": "B", "B": "C", "C": "D", "D": "E", "E": "F"}
    assert check_item(mcq, {**MCQ, "options": labels}, passage) == (
        "letter_options", "option(s) A, B, C, D, E hold only a letter")
    blood = {"A": "A", "B": "B", "C": "AB", "D": "O", "E": "Aucun groupe sanguin"}
    assert check_item(mcq, {**MCQ, "options": blood}, passage) is None
    assert check_item(summary, OEQ, passage) is None
    assert check_item(summary, {**OEQ, "answer": passage}, passage)[0] == "copied_passage"
    assert check_item(summary, {**OEQ, "answer": OEQ["question"]}, passage)[0] == "answer_copies_question"
    assert check_item(summary, {**OEQ, "answer": "The patient should be admitted and anticoagulated promptly."},
                      passage)[0] == "not_french"


def test_synthesize_accepts_good_items_and_explains_each_rejection(passages, tmp_path):
    plist = [json.loads(line) for line in passages.read_text().splitlines()]
    text_of = {p["id"]: p["text"] for p in plist}
    bad = {plist[1]["text"]: {**MCQ, "answer": ["Z"]}, plist[2]["text"]: {**MCQ, "options": {**OPTIONS, "E":
           OPTIONS["A"]}}}

    def reply(body):
        user = body["messages"][1]["content"]
        passage = next(t for t in text_of.values() if t in user)
        if kind_of(body) == "mcq":
            return "```json\n" + json.dumps(bad.get(passage, MCQ), ensure_ascii=False) + "\n```"
        if passage == plist[3]["text"] and "résumer ce cas" in user:
            return json.dumps({"question": "Résumez ce cas.", "answer": passage}, ensure_ascii=False)
        return json.dumps(OEQ, ensure_ascii=False)

    with FakeChatServer(reply) as server:
        spec = BackendSpec(model="fake", base_url=server.base_url, cache=str(tmp_path / "c.sqlite"))
        summary = run_synthesize(passages, tmp_path / "syn.jsonl", spec, kinds=["mcq", "summary", "factual"],
                                 progress=False)
    records = load_records(tmp_path / "syn.jsonl")
    rejected = [row for _, row in iter_jsonl(tmp_path / "syn.rejected.jsonl")]
    assert summary["items"] == 18 and len(records) + len(rejected) == 18
    assert summary["rejected_by_reason"] == {"answer_outside_options": 1, "duplicate_options": 1,
                                             "copied_passage": 1}
    assert {(r["input"]["passage_id"], r["input"]["kind"]) for r in rejected} == {
        (plist[1]["id"], "mcq"), (plist[2]["id"], "mcq"), (plist[3]["id"], "summary")}
    for r in records:
        assert r.origin.value == "synthetic" and r.lang == "fr" and r.parent_id in text_of
        assert r.meta["kind"] in ("mcq", "summary", "factual") and r.meta["model"] == "fake"
        assert r.meta["prompt_version"].startswith(f"synth-{r.meta['kind']}-")
        if r.meta["kind"] == "mcq":
            assert r.task.value == "mcq" and r.answer == ["B", "D"] and list(r.options) == list("ABCDE")
        else:
            assert r.task.value == "oeq" and r.answer == OEQ["answer"]
        # the factual question stands alone; the others keep the passage as context
        assert (r.context is None) == (r.meta["kind"] == "factual")
        if r.context:
            assert r.context == text_of[r.parent_id]


def test_user_kind_from_a_folder(passages, tmp_path, run_cli):
    kinds = tmp_path / "kinds"
    kinds.mkdir()
    (kinds / "education.yaml").write_text(
        "name: education\nversion: synth-education-fr-v1\ntask: oeq\ncontext: true\n"
        "system: Vous êtes un médecin enseignant.\nuser: |-\n  Rédigez une question d'éducation thérapeutique "
        "sur ce texte, en JSON.\n\n  {passage}\n", encoding="utf-8")
    with FakeChatServer(lambda body: json.dumps(OEQ, ensure_ascii=False)) as server:
        code, out, err = run_cli("synthesize", passages, "-o", tmp_path / "edu.jsonl", "--kinds", "education",
                                 "--kinds-dir", kinds, "--limit", "2", "--model", "fake", "--base-url",
                                 server.base_url, "--cache", "off", "--no-progress")
    assert code == 0, err
    assert "2 accepted, 0 rejected of 2 items" in out
    assert {r.meta["prompt_version"] for r in load_records(tmp_path / "edu.jsonl")} == {"synth-education-fr-v1"}
    code, _, err = run_cli("synthesize", passages, "-o", tmp_path / "x.jsonl", "--kinds", "nope", "--model", "m",
                           "--base-url", "http://127.0.0.1:9/v1")
    assert code == 2 and "unknown task kind(s) nope" in err


def test_a_kind_with_a_worked_example_shows_it_before_the_passage(tmp_path):
    from medinject.errors import InputError
    from medinject.records import Passage
    from medinject.synthesize import Synthesizer
    from medinject.synthesize.synthesize import Item

    (few,) = load_kinds(["mcq-fewshot"])
    assert few.task == "mcq" and len(few.examples) == 1
    item = Item(Passage(id="p1", text="Une femme de 30 ans consulte pour une fièvre.", source="e3c"), few, 0)
    msgs = Synthesizer("m", [few]).request(item).messages
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert json.loads(msgs[2]["content"]) == few.examples[0]["item"] and "30 ans" in msgs[3]["content"]
    (tmp_path / "k.yaml").write_text("name: k\nversion: v\ntask: mcq\nsystem: s\nuser: '{passage}'\n"
                                     "examples: [{passage: texte}]\n")
    with pytest.raises(InputError, match="example 1 needs a passage"):
        load_kinds(["k"], tmp_path)


def test_a_worked_example_handed_back_is_rejected():
    from medinject.synthesize.synthesize import copied_example

    (few,) = load_kinds(["mcq-fewshot"])
    ex = few.examples[0]["item"]
    assert copied_example(few, {**MCQ, "question": ex["question"].upper()}) == (
        "copied_example", "the question of worked example 1")
    two = {**OPTIONS, "A": ex["options"]["A"], "C": ex["options"]["D"]}
    assert copied_example(few, {**MCQ, "options": two}) == ("copied_example", "options of worked example 1")
    assert copied_example(few, MCQ) is None


def test_pooled_distractors_are_other_items_answers(passages, tmp_path):
    """A pooled kind asks for a question and its answer; the wrong options are the other items' answers."""
    (pooled,) = load_kinds(["mcq-pooled"])
    assert pooled.schema()["required"] == ["question", "answer"] and not pooled.writes_options
    plist = [json.loads(line) for line in passages.read_text().splitlines()]
    answer_of = {p["text"]: f"Réponse numéro {n} sur le traitement" for n, p in enumerate(plist)}

    def reply(body):
        user = body["messages"][-1]["content"]
        text = next(t for t in answer_of if t in user)
        return json.dumps({"question": f"Quelle est la conduite à tenir devant ce cas clinique {len(text)} ?",
                           "answer": answer_of[text]}, ensure_ascii=False)

    with FakeChatServer(reply) as server:
        spec = BackendSpec(kind="openai", model="m", base_url=server.base_url, cache="off")
        s = run_synthesize(passages, tmp_path / "syn.jsonl", spec, kinds=["mcq-pooled"], progress=False)
    out = load_records(tmp_path / "syn.jsonl")
    assert s["accepted"] == len(out) == len(plist) and s["distractors"]["kinds"] == ["mcq-pooled"]
    answers = set(answer_of.values())
    letters = set()
    for r in out:
        assert r.task.value == "mcqu" and list(r.options) == list("ABCDE") and len(set(r.options.values())) == 5
        assert set(r.options.values()) <= answers and r.options[r.answer[0]] == r.meta["answer_text"]
        letters.add(r.answer[0])
    assert len(letters) > 1  # the correct position is drawn, not fixed
    summary = json.loads((tmp_path / "syn.summary.json").read_text())
    assert summary["records"] == len(out)
    # Again, deterministically; with too few answers in the pool, every item is left out and counted.
    from medinject.records import Task
    from medinject.synthesize.distractors import pooled_mcq

    raw = [r.model_copy(update={"task": Task.OEQ, "options": {}, "answer": r.meta["answer_text"]}) for r in out]
    again, _ = pooled_mcq(raw, {"mcq-pooled"})
    assert [r.options for r in again] == [r.options for r in out]
    few, rejected = pooled_mcq(raw[:4], {"mcq-pooled"})
    assert few == [] and rejected == {"too_few_answers": 4}
