import pytest

from medinject.errors import InputError, MedinjectError
from medinject.judge.verdicts import KINDS, LANGS, load_prompt


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "paper"])
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


@pytest.mark.parametrize("lang", LANGS)
def test_paper_judge_is_the_authors_prompt_in_english_whatever_the_language(lang):
    p = load_prompt("paper", lang)
    assert (p.version, p.lang, p.max_tokens, p.temperature, p.scale) == ("paper-en-v1", "en", 1, 0.0, (0, 1))
    msgs = p.messages(question="Q ?", answer="candidate", reference="gold")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[1]["content"] == "Question: Q ?\nCandidate_answer: candidate\nGround_truth: gold"
    assert "equivalent" in msgs[0]["content"] and "only" in msgs[0]["content"]


@pytest.mark.parametrize("text, value", [
    ("1", 1), ("0", 0), ("Score: 1", 1), (" 0\n", 0), ("1.", 1), ("Verdict: 0 (not equivalent)", 0),
    ("0 or 1? 1", 0),  # the first one counts
    # "10" is the number ten: neither digit stands alone, so no verdict (reading it as 1 would also read
    # "100" as 1 and "0.5" as 0)
    ("10", None), ("100", None), ("0.5", None), ("2,1", None), ("1st", None), ("Score: 10/10", None),
    ("", None), ("   ", None), (None, None), ("yes", None),
])
def test_paper_judge_reads_the_first_standalone_0_or_1(text, value):
    got, reason = load_prompt("paper").parse(text)
    assert got == value
    assert (reason is None) == (value is not None)


@pytest.mark.parametrize("text", ["« Verdict : 1 »", "Explication.\n« Verdict : 1 »", "«\u00a0Verdict\u00a0: 1\u00a0»",
                                  "\u201cVerdict : 1\u201d", "« **Verdict : 1** »"])
def test_french_binary_verdict_in_the_format_its_prompt_asks_for(text):
    assert load_prompt("binary", "fr").parse(text) == (1, None)
    assert load_prompt("binary", "fr").parse(text.replace("1", "0")) == (0, None)


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
