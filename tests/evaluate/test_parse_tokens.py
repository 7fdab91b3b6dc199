"""Parsing never reads letters inside words, with any number of options; paper mode keeps the authors' rule."""

from __future__ import annotations

import string

import pytest

from medinject.evaluate.letters import cannot_parse, parse_answer
from medinject.evaluate.mcqa import parse_rule
from medinject.evaluate.reference import reference_parse

A_TO_T = list(string.ascii_uppercase[:20])
A_TO_Z = list(string.ascii_uppercase)


def test_et_is_not_read_as_options_e_and_t():
    assert parse_answer("A, B et C", A_TO_T, multi=True) is None
    # The reference script's character rule, which paper mode keeps, reads the letters of "et".
    assert parse_answer("A, B et C", A_TO_T, multi=True, rule="reference") == ["A", "B", "C", "E", "T"]
    assert sorted(reference_parse("A, B et C", A_TO_T, True)) == ["A", "B", "C", "E", "T"]


@pytest.mark.parametrize("text, letters, multi, expected", [
    ("I think A", A_TO_T, False, None),  # "I" is a word here, not option I
    ("A ou C", A_TO_Z, True, None),
    ("AB", list("ABCD"), True, None),  # two letters side by side are one word
    ("A, C, E, T", A_TO_T, True, ["A", "C", "E", "T"]),  # letters standing alone count, however many options
    ("s", A_TO_Z, False, ["S"]),
    ("A,\u00a0C", list("ABCD"), True, ["A", "C"]),  # a no-break space separates like a space
    ("(B)", list("ABCD"), False, ["B"]),
    ("B\u200b", list("ABCD"), False, None),  # an invisible character is still a character
])
def test_every_letter_must_stand_alone(text, letters, multi, expected):
    assert parse_answer(text, letters, multi=multi) == expected


@pytest.mark.parametrize("text, dead", [("A, E", False), ("A, ET", True), ("A, B e", False), ("I th", True),
                                        ("A\u00a0", False)])
def test_cannot_parse_follows_the_tokens_rule(text, dead):
    # A word only grows: two letters side by side are decisive, a lone letter of the options is not.
    assert cannot_parse(text, A_TO_T, multi=True) is dead


def test_paper_mode_parses_by_the_reference_rule_and_fast_greedy_by_tokens():
    assert parse_rule(True, "greedy") == parse_rule(True, "constrained") == "reference"
    assert parse_rule(False, "constrained") == "reference"  # constrained letters are letter tokens already
    assert parse_rule(False, "greedy") == "tokens"
    with pytest.raises(ValueError, match="unknown parsing rule"):
        parse_answer("A", ["A", "B"], multi=False, rule="loose")
