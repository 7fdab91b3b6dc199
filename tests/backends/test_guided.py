import json

from medinject.backends import ChatRequest, make_backend
from medinject.backends.guided import guided_json, string_end, supported
from medinject.backends.structured import schema_problem
from medinject.synthesize.kinds import load_kinds
from medinject.translate.checks import schema_for

SRC = {"question": "Which drug?", "options": {"A": "Aspirin", "B": "Heparin"}}


def scripted(answers):
    """A generator that writes the given raw continuations in turn, one list per call (one item per row)."""
    calls = []

    def gen(texts, max_new, end):
        out = answers[len(calls)]
        calls.append((texts, max_new))
        return [(t, len(t) // 4 + 1, ended) for t, ended in out]

    return gen, calls


def test_the_skeleton_is_written_by_the_decoder_and_only_values_by_the_model():
    schema = schema_for(SRC)
    gen, calls = scripted([
        [('Quel médicament ? "}', False), ('Quel \\"mot\\" ? "', False)],   # question: ends at the first free quote
        [("Aspirine\n", False), ("Aspirine", True)],                        # a line break or the end of turn ends it
        [('Héparine", "C": "x"}', False), ('Héparine"', False)],
    ])
    rows = guided_json(["P1", "P2"], schema, 100, gen)
    assert [r.error for r in rows] == [None, None]
    first, second = (json.loads(r.text) for r in rows)
    assert first == {"question": "Quel médicament ? ", "options": {"A": "Aspirine", "B": "Héparine"}}
    assert second["question"] == 'Quel "mot" ? '  # an escaped quote stays inside the value
    assert schema_problem(first, schema) is None and schema_problem(second, schema) is None
    # The model continued each row from its own partial JSON, after the prompt.
    assert calls[1][0][0] == 'P1{"question": "Quel médicament ? ", "options": {"A": "'


def test_a_value_that_runs_out_of_tokens_drops_only_its_row():
    gen, calls = scripted([
        [("Quel ?", False), ("Quoi ?\"", False)],  # row 1 never closes its string
        [("Aspirine\"", False)],
        [("Héparine\"", False)],
    ])
    rows = guided_json(["P1", "P2"], schema_for(SRC), 50, gen)
    assert rows[0].error == "truncated: max_tokens reached inside question"
    assert rows[1].error is None and json.loads(rows[1].text)["options"]["B"] == "Héparine"
    assert [len(texts) for texts, _ in calls] == [2, 1, 1]  # the dropped row is not generated further
    assert calls[1][1] < 50  # the budget shrinks by what the row already spent


def test_string_arrays_and_the_supported_subset():
    mcq = next(k for k in load_kinds(["mcq"]))
    assert supported(mcq.schema()) and supported(schema_for(SRC))
    assert not supported({"type": "object", "additionalProperties": {"type": "string"}})
    assert not supported({"type": "integer"}) and not supported(None)
    # Each answer letter is one value; after it, the model's next character says whether another follows.
    gen, calls = scripted([[("Q ?\"", False)]] + [[(f"opt {L}\"", False)] for L in "ABCDE"]
                          + [[('B"', False)], [(", ", False)], [('D"', False)], [("]", False)]])
    (row,) = guided_json(["P"], mcq.schema(), 200, gen)
    obj = json.loads(row.text)
    assert obj["answer"] == ["B", "D"] and list(obj["options"]) == list("ABCDE")
    assert calls[6][1] == 4  # a letter field (maxLength 3) gets a few tokens, not the whole budget
    gen, _ = scripted([[("Q ?\"", False)]] + [[(f"opt {L}\"", False)] for L in "ABCDE"]
                      + [[("Les réponses B et D sont", False)]])
    (row,) = guided_json(["P"], mcq.schema(), 200, gen)
    assert row.error == "truncated: max_tokens reached inside answer/0"
    assert string_end('a\\"b"c') == 4 and string_end("abc") is None


def test_the_local_backend_returns_schema_valid_json_from_a_random_model(toy_model, tmp_path):
    # A random-weight model never writes JSON by itself; guided, every answer parses (or is cut short).
    schema = schema_for(SRC)
    reqs = [ChatRequest(messages=[{"role": "user", "content": f"Traduisez {i}"}], max_tokens=40, json_schema=schema,
                        tag=str(i)) for i in range(3)]
    be = make_backend("transformers", str(toy_model), cache=tmp_path / "c.sqlite", batch_size=2, device="cpu")
    out = be.generate(reqs)
    for r in out:
        assert r.parsed is not None or r.error.startswith("truncated")
        if r.parsed is not None:
            assert sorted(r.parsed) == ["options", "question"] and sorted(r.parsed["options"]) == ["A", "B"]
    free = make_backend("transformers", str(toy_model), cache=tmp_path / "c.sqlite", device="cpu", guided=False)
    assert all(r.parsed is None and r.error.startswith("invalid_json") for r in free.generate(reqs))
    assert free.stats["cached"] == 0  # guided answers are cached apart from free ones


def test_an_enum_value_is_chosen_or_checked():
    schema = {"type": "object", "properties": {"verdict": {"type": "string", "enum": ["0", "1"]}},
              "required": ["verdict"]}
    assert supported(schema) and not supported({"type": "string", "enum": []})
    picked = []

    def choose(texts, choices):
        picked.append((texts, choices))
        return [(1, 2), (0, 2)]

    gen, calls = scripted([])
    rows = guided_json(["P1", "P2"], schema, 8, gen, choose)
    assert [json.loads(r.text) for r in rows] == [{"verdict": "1"}, {"verdict": "0"}] and calls == []
    # The model is offered each value with its closing quote, where a JSON string ends.
    assert picked == [(['P1{"verdict": "', 'P2{"verdict": "'], ['0"', '1"'])]
    # Without a chooser the value is generated freely and must be one of the allowed ones.
    gen, _ = scripted([[('La"', False), ('1"', False)]])
    rows = guided_json(["P1", "P2"], schema, 8, gen)
    assert rows[0].error == "not_allowed: verdict is none of 0, 1" and json.loads(rows[1].text) == {"verdict": "1"}


def test_the_local_backend_keeps_a_random_model_inside_the_enum(toy_model):
    # Choices that share a first token ("1", "10") and one of several tokens ("égalité") all stay reachable.
    choices = ["1", "10", "égalité", "B"]
    schema = {"type": "object", "properties": {"v": {"type": "string", "enum": choices}}, "required": ["v"]}
    reqs = [ChatRequest(messages=[{"role": "user", "content": f"Choisissez {i} " * (i + 1)}], max_tokens=8,
                        json_schema=schema, temperature=1.0, seed=i) for i in range(12)]
    out = make_backend("transformers", str(toy_model), cache=False, batch_size=4, device="cpu").generate(reqs)
    assert all(r.error is None and r.parsed["v"] in choices for r in out)
    assert all(r.usage["completion_tokens"] >= 1 for r in out)
