"""Answer-order variants stay true: options that refer to other options are never moved."""

from __future__ import annotations

import pytest

from medinject.evaluate import bias
from medinject.evaluate.references import order_policy, reference_kind
from medinject.records import Origin, Record, Task

LETTERS = set("ABCDE")


@pytest.mark.parametrize("text, kind", [
    ("A et B", "fixed"), ("A, B et C", "fixed"), ("Les réponses A et C sont exactes", "fixed"),
    ("Both A and B", "fixed"), ("A and D", "fixed"), ("Réponse A", "fixed"),
    ("Les deux précédentes", "fixed"), ("Les deux premières propositions", "fixed"), ("Both of the above", "fixed"),
    ("Toutes les réponses ci-dessus", "set"), ("Toutes les réponses sont exactes", "set"),
    ("Aucune des propositions", "set"), ("Aucune de ces réponses n'est exacte", "set"),
    ("All of the above", "set"), ("None of the above", "set"),
    # contents, not references
    ("Hépatites B et C", None), ("Vitamine A", None), ("Les deux reins", None), ("Previous radiation therapy", None),
    ("Skin above the clavicle", None), ("A", None), ("Amoxicilline", None),
])
def test_reference_kind(text, kind):
    assert reference_kind(text, LETTERS) == kind


def _rec(options, answer, rid="q1", task=Task.MCQU):
    return Record(id=rid, task=task, question="Quelle est la bonne réponse ?", options=options, answer=answer,
                  origin=Origin.NATIVE, source="s")


A_ET_B = _rec({"A": "Amoxicilline", "B": "Clarithromycine", "C": "Paracétamol", "D": "A et B", "E": "Aucune"},
              ["D"], rid="a-et-b")
ALL_ABOVE = _rec({"A": "Fièvre", "B": "Toux", "C": "Dyspnée", "D": "Toutes les réponses ci-dessus"}, ["D"],
                 rid="all-above")


def test_an_a_et_b_item_is_left_out_of_permuted_and_circular_variants():
    assert order_policy(A_ET_B) == ("left_out", [])
    recs, info = bias.variants([A_ET_B], permute=3, circular=True, seed=0)
    assert recs == [] and info == []


def test_an_all_of_the_above_option_stays_last_while_the_others_move():
    recs, info = bias.variants([ALL_ABOVE], permute=3, circular=True, seed=0)
    assert [i["variant"] for i in info] == ["perm-1", "perm-2", "perm-3", "rot-1", "rot-2"]
    for r, i in zip(recs, info, strict=True):
        assert r.options["D"] == "Toutes les réponses ci-dessus" and r.answer == ["D"]
        assert i["order"][-1] == "D" and sorted(i["order"][:3]) == ["A", "B", "C"]
        assert i["order"][:3] != ["A", "B", "C"]


def test_a_set_reference_in_the_middle_or_a_position_reference_leaves_the_item_out():
    middle = _rec({"A": "None of the above", "B": "Fever", "C": "Cough"}, ["B"])
    position = _rec({"A": "Fièvre", "B": "Toux", "C": "Les deux précédentes"}, ["C"])
    assert order_policy(middle)[0] == order_policy(position)[0] == "left_out"
    plain = _rec({"A": "Hépatites B et C", "B": "Vitamine A", "C": "Fièvre"}, ["A"])
    assert order_policy(plain) == ("free", ["A", "B", "C"])
    assert len(bias.permutations(plain, 3, seed=0)) == 3


def test_order_counts_name_the_items():
    plain = _rec({"A": "x", "B": "y"}, ["A"], rid="plain")
    counts = bias.order_counts([A_ET_B, ALL_ABOVE, plain])
    assert counts == {"options_kept_in_place": 1, "items_left_out": 1, "kept_ids": ["all-above"],
                      "left_out_ids": ["a-et-b"]}


def test_eval_with_permute_and_circular_keeps_gold_true_and_counts(toy_model, tmp_path, run_cli):
    import json

    from medinject.io import write_records

    plain = _rec({"A": "Insuline", "B": "Glucagon", "C": "Adrénaline", "D": "Cortisol"}, ["A"], rid="plain")
    data = tmp_path / "d.jsonl"
    write_records(data, [A_ET_B, ALL_ABOVE, plain])
    out = tmp_path / "run"
    code, _, err = run_cli("eval", "--model", toy_model, "--data", data, "-o", out, "--permute", "3", "--circular",
                           "--bertscore-model", "none", "--no-progress", "--n-boot", "20")
    assert code == 0, err
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    variants = {(r["id"], r["variant"]) for r in rows}
    assert {v for i, v in variants if i == "a-et-b"} == {"original"}
    assert {v for i, v in variants if i == "all-above"} == {"original", "perm-1", "perm-2", "perm-3", "rot-1", "rot-2"}
    assert all(r["gold"] == ["D"] for r in rows if r["id"] == "all-above")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["order_variants"]["items_left_out"] == 1
    assert summary["order_variants"]["options_kept_in_place"] == 1
    assert summary["settings"]["parse_rule"] == {"constrained": "reference", "greedy": "tokens"}
    perm = next(e for e in summary["results"] if e["metric"] == "perm_em_mean" and e["source"] == "all"
                and e["task"] == "mcqu" and e["mode"] == "constrained")
    assert perm["n"] == 2  # the A-et-B item is not among the permuted ones
