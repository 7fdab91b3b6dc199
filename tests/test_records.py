import pytest
from pydantic import ValidationError

from medinject.records import Origin, Record, Task


def make(**kw):
    base = dict(id="r1", task="mcq", question="Q ?", options={"A": "a", "B": "b", "C": "c"}, answer=["C", "A"],
                origin="native", source="t")
    base.update(kw)
    return Record(**base)


def test_answer_letters_are_put_in_option_order():
    assert make().answer == ["A", "C"]
    assert make().task is Task.MCQ and make().origin is Origin.NATIVE


@pytest.mark.parametrize("kw, field", [
    (dict(task="mcqu"), "answer"),
    (dict(answer=["D"]), "answer"),
    (dict(answer=["A", "A"]), "answer"),
    (dict(answer=[]), "answer"),
    (dict(options={"A": "a"}, answer=["A"]), "options"),
    (dict(question="  "), "question"),
    (dict(options={"a": "x", "B": "y"}, answer=["B"]), "options"),
    (dict(task="oeq"), "options"),
])
def test_invalid_records_name_their_field(kw, field):
    with pytest.raises(ValidationError) as e:
        make(**kw)
    assert field in str(e.value)


def test_oeq_keeps_text_answer():
    r = make(task="oeq", options={}, answer="Une pyélonéphrite.")
    assert r.answer == "Une pyélonéphrite." and r.letters == []
