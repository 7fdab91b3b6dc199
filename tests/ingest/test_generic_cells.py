"""Generic ingest refuses cells whose text would be a Python repr, and letter answers without options."""

import json

import pytest

MAP = "question=q,options=a|b,answer=gold"


@pytest.mark.parametrize("name, body, field, message", [
    ("obj.json", json.dumps([{"q": {"x": 1}, "a": "oui", "b": "non", "gold": "A"}]), "q",
     "an object where text is expected"),
    ("nan.jsonl", '{"q": NaN, "a": "oui", "b": "non", "gold": "A"}\n', "q", "NaN where text is expected"),
    ("nan_option.jsonl", '{"q": "Dose ?", "a": NaN, "b": "non", "gold": "B"}\n', "a", "NaN where text is expected"),
    ("obj_list.jsonl", '{"q": ["Dose ?", {"y": 2}], "a": "oui", "b": "non", "gold": "B"}\n', "q",
     "an object where text is expected"),
    ("letter.csv", "q,a,b,gold\nQuelle est la dose ?,,,B\n", "gold", "names options but the row's options are empty"),
    ("letters.csv", "q,a,b,gold\nQuelle est la dose ?,,,\"A, C\"\n", "gold", "names options"),
])
def test_refused_with_file_row_and_field(tmp_path, run_cli, name, body, field, message):
    src, out = tmp_path / name, tmp_path / "out.jsonl"
    src.write_text(body, encoding="utf-8")
    code, _, err = run_cli("ingest", src, "-f", "generic", "--origin", "native", "--lang", "fr", "--map", MAP,
                           "-o", out)
    assert code == 2 and not out.exists()
    assert f"{name}: " in err and f"field '{field}'" in err and message in err and "Traceback" not in err


def test_open_answer_that_is_a_word_still_makes_an_open_question(tmp_path, run_cli):
    src, out = tmp_path / "mixed.csv", tmp_path / "out.jsonl"
    src.write_text("q,a,b,gold\nLe paracétamol est-il un AINS ?,,,Non\nDose ?,1 g,2 g,B\n", encoding="utf-8")
    code, _, err = run_cli("ingest", src, "-f", "generic", "--origin", "native", "--lang", "fr", "--map", MAP,
                           "-o", out)
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["task"], r["answer"]) for r in rows] == [("oeq", "Non"), ("mcqu", ["B"])]
