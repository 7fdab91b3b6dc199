import pytest

from medinject.errors import InputError, MedinjectError
from medinject.judge.verdicts import KINDS, LANGS, load_prompt


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lang", LANGS)
def test_every_shipped_prompt_loads_with_its_version(kind, lang):
    p = load_prompt(kind, lang)
    assert p.version == f"{kind}-{lang}-v1" and p.lang == lang
    fields = dict(question="Q?", reference="R", answer="C", answer_a="X", answer_b="Y")
    msgs = p.messages(**fields)
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "Q?" in msgs[1]["content"] and "R" in msgs[1]["content"]


@pytest.mark.parametrize("text, value", [
    ("Explication.\nVerdict : 7", 7),
    ("**Verdict :** 10", 10),
    ("Verdict: 8/10", 8),
    ("- verdict : « 3 ».", 3),
    ("Verdict : 7\nplus tard\nVerdict : 7", 7),
])
def test_graded_verdicts_are_read_from_the_verdict_line(text, value):
    assert load_prompt("graded").parse(text) == (value, None)


@pytest.mark.parametrize("text, reason", [
    ("La réponse vaut 7.", "no 'Verdict:' line"),
    ("", "empty judge output"),
    (None, "empty judge output"),
    ("Verdict : 7.5", "not an integer"),
    ("Verdict : 11", "outside 1-10"),
    ("Verdict : 0", "outside 1-10"),
    ("Verdict : 8/20", "not an integer"),
    ("Verdict : 7\nVerdict : 8", "conflicting"),
    ("Verdict : sept", "not an integer"),
    ("Mon verdict : 7", "no 'Verdict:' line"),
])
def test_bad_graded_verdicts_are_unparseable_with_a_reason(text, reason):
    value, why = load_prompt("graded").parse(text)
    assert value is None and reason in why


def test_binary_and_pairwise_values():
    b = load_prompt("binary", "en")
    assert b.parse("Verdict: 1") == (1, None) and b.parse("Verdict: 0") == (0, None)
    assert b.parse("Verdict: 2")[0] is None
    p = load_prompt("pairwise", "fr")
    assert p.parse("Verdict : A") == ("A", None)
    assert p.parse("Verdict : b") == ("B", None)
    assert p.parse("Verdict : Égalité") == ("tie", None)
    assert p.parse("Verdict : les deux")[0] is None
    assert load_prompt("pairwise", "en").parse("Verdict: tie") == ("tie", None)


def test_prompt_dir_overrides_and_bad_files_name_their_field(tmp_path):
    (tmp_path / "binary.fr.yaml").write_text("version: mine-v2\nsystem: S\nuser: '{question} {reference}'\n"
                                             "scale: [0, 1]\n", encoding="utf-8")
    with pytest.raises(InputError, match="field 'user'.*lacks \\{answer\\}"):
        load_prompt("binary", "fr", tmp_path)
    (tmp_path / "binary.fr.yaml").write_text("version: mine-v2\nsystem: S\nuser: '{question} {reference} {answer}'"
                                             "\nscale: [0, 1]\n", encoding="utf-8")
    assert load_prompt("binary", "fr", tmp_path).version == "mine-v2"
    with pytest.raises(MedinjectError, match="no graded judge prompt for language 'de'"):
        load_prompt("graded", "de")
