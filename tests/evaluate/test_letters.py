"""Letter tokens of a byte-level BPE tokenizer (` A` and `A` are different tokens) and strict parsing."""

from __future__ import annotations

import pytest

from medinject.evaluate.letters import (
    allowed_token_ids,
    cannot_parse,
    letter_token_map,
    parse_answer,
    stop_token_ids,
)
from medinject.evaluate.reference import reference_parse


@pytest.fixture(scope="module")
def tok(toy_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(toy_model)


def test_spaced_and_bare_letters_are_distinct_tokens_mapped_to_one_letter(tok):
    bare = tok.encode("A", add_special_tokens=False)
    spaced = tok.encode(" A", add_special_tokens=False)
    assert len(bare) == len(spaced) == 1 and bare != spaced  # the premise of this test
    mapping = letter_token_map(tok, list("ABCDE"))
    assert mapping[bare[0]] == "A" and mapping[spaced[0]] == "A"
    assert sorted(set(mapping.values())) == list("ABCDE")
    assert len(mapping) == 10


def test_allowed_tokens_are_letters_separators_and_end(tok):
    allowed = set(allowed_token_ids(tok, list("ABC")))
    for s in ("A", " A", "C", " C", ",", " "):
        assert tok.encode(s, add_special_tokens=False)[-1] in allowed
    assert tok.eos_token_id in allowed and stop_token_ids(tok) == [tok.eos_token_id]
    assert tok.encode("D", add_special_tokens=False)[-1] not in allowed
    assert tok.encode(" D", add_special_tokens=False)[-1] not in allowed
    # ',\n' contributes its last token, exactly as the reference script computes it.
    assert tok.encode(",\n", add_special_tokens=False)[-1] in allowed
    assert len(allowed) == 6 + 3 + 1


@pytest.mark.parametrize("text, multi, expected", [
    ("A", False, ["A"]),
    (" b ", False, ["B"]),  # lower case counts as its capital
    ("A, C", True, ["A", "C"]),
    ("C, A, A", True, ["A", "C"]),  # repeats collapse, option order
    ("A;B/C|D+E.", True, list("ABCDE")),  # the reference's tolerated punctuation
    ("(A)", False, ["A"]),
    ("A, C", False, None),  # several letters for a single answer
    ("F", False, None),  # not an option
    ("La réponse est A", False, None),  # any other letter
    ("A!", False, None),  # any other character
    ("", True, None),  # no letter
    (", ", True, None),
    (None, True, None),
])
def test_parse_answer(text, multi, expected):
    assert parse_answer(text, list("ABCDE"), multi=multi) == expected
    # Same decision as the reference parser, which returns [] where this returns None.
    ref = reference_parse(text, list("ABCDE"), multi)
    assert (sorted(ref) or None) == expected


@pytest.mark.parametrize("text, multi, dead", [
    ("A, ", True, False), ("A, x", True, True), ("A B", False, True), ("A", False, False),
    ("A\ufffd", True, False),  # an unfinished multi-byte character decides nothing yet
    ("\ufffdA", True, True), ("é", True, True),
])
def test_cannot_parse(text, multi, dead):
    assert cannot_parse(text, list("ABCDE"), multi=multi) is dead
