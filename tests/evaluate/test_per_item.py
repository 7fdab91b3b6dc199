"""`--per-item` decoding gives the outputs and first-step probabilities of one `generate` call per item."""

import functools

import pytest

from medinject.records import Record


def _records():
    return [Record(id=f"q{i}", task="mcq" if i % 2 else "mcqu", question=f"Question numéro {i} sur la fièvre ?",
                   options={"A": "un", "B": "deux", "C": "trois", "D": f"quatre {i}"}, answer=["B"],
                   origin="native", source="s") for i in range(4)]


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_per_item_matches_per_item_generate(toy_model, dtype):
    from medinject.evaluate.decoding import decode, load_model
    from medinject.evaluate.mcqa import predict_choice
    from medinject.evaluate.reference import reference_predict

    model, tok = load_model(str(toy_model), device="cpu", dtype=dtype)
    records = _records()
    rows = predict_choice(records, model, tok, paper=True, prompt_style="authors",
                          decoder=functools.partial(decode, per_item=True))
    ref = {x["id"]: x for x in reference_predict(records, model, tok, prompt_style="authors")}
    assert len(rows) == 2 * len(records)
    for row in rows:
        x = ref[row["id"]]
        key = "constrained" if row["mode"] == "constrained" else "greedy"
        assert row["output"] == x[f"{key}_output"]
        if row["mode"] == "constrained":
            assert row["letter_probs"] == pytest.approx(x["class_probabilities"], abs=1e-6 if dtype == "float32"
                                                        else 1e-3)
