import json

import pytest

from medinject.records import Origin, Record, Task
from medinject.translate.checks import apply_translation, check_translation, numbers, payload, schema_for

EN = Record(id="q1", task=Task.MCQU, question="A 45-year-old man takes 2.5 mg of warfarin daily and 1,000 IU of "
            "vitamin D. What is the most likely diagnosis?", options={"A": "Pulmonary embolism", "B": "Pneumonia",
            "C": "Myocardial infarction", "D": "Aortic dissection"}, answer=["C"], origin=Origin.NATIVE,
            source="medqa", lang="en")
FR = {"question": "Un homme de 45 ans prend 2,5 mg de warfarine par jour et 1 000 UI de vitamine D. Quel est le "
      "diagnostic le plus probable ?", "options": {"A": "Embolie pulmonaire", "B": "Pneumonie",
                                                   "C": "Infarctus du myocarde", "D": "Dissection aortique"}}


def test_numbers_agree_across_conventions():
    assert numbers("2.5 mg and 1,000 IU") == numbers("2,5 mg et 1\u202f000 UI") == {"2.5", "1000"}
    assert numbers("PaO2 130 mmHg") == {"2", "130"}  # a plain space does not always group thousands
    assert numbers("1 000 UI", spaced=True) == {"1000"}


def test_good_translation_passes_and_keeps_letters():
    assert check_translation(payload(EN), FR) is None
    fr = apply_translation(EN, FR, {"model": "m", "prompt_version": "v"})
    assert fr.id == "q1-fr" and fr.parent_id == "q1" and fr.origin is Origin.TRANSLATED and fr.lang == "fr"
    assert fr.answer == ["C"] and list(fr.options) == ["A", "B", "C", "D"]
    assert fr.options["C"] == "Infarctus du myocarde"
    assert fr.meta["prompt_version"] == "v"


def test_options_copied_through_in_english_are_rejected_even_under_a_french_question():
    out = {"question": FR["question"], "options": dict(EN.options)}
    reason, detail = check_translation(payload(EN), out)
    assert reason == "untranslated_options" and "A, B, C, D are the source text" in detail
    # The same names in both languages, or codes with nothing to translate, are not a copy-through.
    src = {"question": "Which immunoglobulin crosses the placenta?", "options": {"A": "IgG", "B": "IgM", "C": "IgA"}}
    fr = {"question": "Quelle immunoglobuline de la mère traverse le placenta pendant la grossesse ?",
          "options": dict(src["options"])}
    assert check_translation(src, fr) is None
    src = {"question": "What is the normal central venous pressure?", "options": {"A": "2 mmHg", "B": "10 mmHg"}}
    fr = {"question": "Quelle est la valeur normale de la pression veineuse centrale chez un adulte ?",
          "options": dict(src["options"])}
    assert check_translation(src, fr) is None
    partly = {"question": FR["question"], "options": {**FR["options"], "A": "Pulmonary embolism"}}
    assert check_translation(payload(EN), partly) is None


@pytest.mark.parametrize("change, reason", [
    (lambda d: d["options"].update(B="  "), "empty"),
    (lambda d: d.update(question="A 45-year-old man takes 2.5 mg of warfarin daily and 1,000 IU of vitamin D. "
                                 "What is the most likely diagnosis?"), "not_french"),
    (lambda d: d.update(question="Un homme de 45 ans prend 2,5 mg de warfarine par jour et 1 000 UI. Diagnostic ?"
                        * 4), "length_ratio"),
    (lambda d: d.update(question=d["question"].replace("2,5", "25")), "numbers"),
    (lambda d: d["options"].update(D="infarctus  du Myocarde"), "duplicate_options"),
])
def test_each_check_names_its_reason(change, reason):
    out = {"question": FR["question"], "options": dict(FR["options"])}
    change(out)
    assert check_translation(payload(EN), out)[0] == reason


def test_schema_demands_the_same_keys_and_letters():
    s = schema_for(payload(EN))
    assert s["required"] == ["question", "options"] and s["additionalProperties"] is False
    assert s["properties"]["options"]["required"] == ["A", "B", "C", "D"]


def test_options_that_were_already_equal_in_the_source_may_stay_equal():
    en = EN.model_copy(update={"options": {**EN.options, "D": "Myocardial infarction"}})
    fr = {"question": FR["question"], "options": {**FR["options"], "D": "Infarctus du myocarde"}}
    assert check_translation(payload(en), fr) is None
    assert check_translation(payload(EN), fr) == ("duplicate_options", "options C and D have the same translation")


def test_a_prompt_with_worked_examples_shows_them_as_earlier_turns(tmp_path):
    from medinject.translate import RecordTranslator, load_prompt

    fewshot = load_prompt("record", "record-fewshot")  # a packaged prompt, by name
    assert fewshot.version.startswith("translate-record-fewshot") and len(fewshot.examples) == 1
    msgs = RecordTranslator("m", prompt=fewshot).request(EN).messages
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert '"Asthme"' in msgs[2]["content"] and "warfarin" in msgs[3]["content"]
    assert "warfarin" not in msgs[1]["content"]
    bad = tmp_path / "p.yaml"
    bad.write_text("version: v\nsystem: s\nuser: '{payload}'\nexamples: [{source: {question: q}}]\n")
    from medinject.errors import InputError

    with pytest.raises(InputError, match="example 1 needs a source and a translation"):
        load_prompt("record", bad)


def test_a_worked_example_handed_back_is_rejected():
    from medinject.backends import ChatResponse
    from medinject.translate import RecordTranslator, load_prompt

    tr = RecordTranslator("m", prompt=load_prompt("record", "record-fewshot"))
    example = tr.prompt.examples[0]["translation"]
    out = {"question": FR["question"], "options": {**FR["options"], "A": example["options"]["D"],
                                                  "B": example["options"]["B"]}}
    outcome = tr.check(EN, ChatResponse(text=json.dumps(out), parsed=out))
    assert (outcome.reason, outcome.detail) == ("copied_example", "options.A is the translation of worked example 1")
    # "Pneumonia" is the example's option B too: translating it the same way is not a copy.
    out = {"question": FR["question"], "options": {**FR["options"], "B": example["options"]["B"]}}
    assert tr.check(EN, ChatResponse(text=json.dumps(out), parsed=out)).accepted
