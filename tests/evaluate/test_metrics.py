"""Metric definitions on hand-worked cases (FrenchMedMCQA's EMR and Hamming score)."""

from __future__ import annotations

import json

import pytest

from medinject.evaluate.metrics import CATALOG, exact_match, hamming_score
from medinject.evaluate.summary import score_rows, summarize


@pytest.mark.parametrize("gold, pred, em, ham", [
    (["A"], ["A"], 1.0, 1.0),
    (["A"], None, 0.0, 0.0),  # invalid output
    (["A", "C"], ["A"], 0.0, 0.5),
    (["A", "C"], ["A", "B"], 0.0, 1 / 3),
    (["A", "B", "C", "D", "E"], ["e", "d", "c", "b", "a"], 1.0, 1.0),  # all options correct, lower case
    (["B", "D"], ["B", "B", "D"], 1.0, 1.0),  # duplicate letters collapse
    (["C"], [], 0.0, 0.0),  # empty prediction
    ([], [], 1.0, 1.0),  # both empty: Hamming is 1 by definition
    ([], None, 0.0, 1.0),
])
def test_exact_match_and_hamming(gold, pred, em, ham):
    assert exact_match(gold, pred) == em
    assert hamming_score(gold, pred) == pytest.approx(ham)


def test_catalog_entries_are_complete():
    for name, m in CATALOG.items():
        assert m.name == name and m.definition and m.aggregation in ("mean", "corpus", "derived", "macro")
    assert CATALOG["em"].higher_is_better and not CATALOG["invalid"].higher_is_better


HAND_ROWS = [
    {"id": "1", "task": "mcqu", "gold": ["A"], "pred": ["A"]},
    {"id": "2", "task": "mcqu", "gold": ["B"], "pred": None},
    {"id": "3", "task": "mcq", "gold": ["A", "C"], "pred": ["A"]},
    {"id": "4", "task": "mcq", "gold": ["A", "B", "C", "D", "E"], "pred": ["a", "b", "c", "d", "e"]},
    {"id": "5", "task": "mcq", "gold": ["B", "D"], "pred": ["B", "B", "D"]},
    {"id": "6", "task": "mcq", "gold": ["C"], "pred": []},
]


def _get(summary, source, task, metric, mode="external"):
    [e] = [e for e in summary["results"] if (e["source"], e["task"], e["metric"], e["mode"]) ==
           (source, task, metric, mode)]
    return e


def test_score_cli_matches_hand_computed_values(tmp_path, run_cli):
    f = tmp_path / "preds.jsonl"
    f.write_text("".join(json.dumps({**r, "source": "hand"}) + "\n" for r in HAND_ROWS), encoding="utf-8")
    code, out, err = run_cli("score", f, "-o", tmp_path / "s.json", "--bertscore-model", "none")
    assert code == 0, err
    s = json.loads((tmp_path / "s.json").read_text())
    assert _get(s, "hand", "mcqu", "em")["value"] == 0.5
    assert _get(s, "hand", "mcqu", "hamming")["value"] == 0.5
    inv = _get(s, "hand", "mcqu", "invalid")
    assert (inv["value"], inv["count"], inv["n"]) == (0.5, 1, 2)
    assert _get(s, "hand", "mcq", "em")["value"] == 0.5
    assert _get(s, "hand", "mcq", "hamming")["value"] == 0.625
    assert _get(s, "hand", "mcq", "invalid")["count"] == 0
    agg = _get(s, "all", "mcq+mcqu", "em")
    assert (agg["value"], agg["n"]) == (0.5, 6)
    assert _get(s, "hand", "mcq+mcqu", "hamming")["value"] == pytest.approx(3.5 / 6, abs=1e-6)
    for e in s["results"]:
        if e["ci"] is not None:
            assert e["ci"][0] <= e["value"] <= e["ci"][1]
        assert e["definition"] == CATALOG[e["metric"]].definition
    assert "em" in out and "hamming" in out


def test_score_rejects_bad_rows_with_place(tmp_path, run_cli):
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(HAND_ROWS[0]) + "\n" + json.dumps({**HAND_ROWS[2], "pred": "A, C"}) + "\n")
    code, out, err = run_cli("score", f, "--bertscore-model", "none")
    assert code == 2
    assert "bad.jsonl: line 2: field 'pred'" in err and "Traceback" not in err
    f.write_text(json.dumps({"id": "x", "task": "mcq", "pred": ["A"]}) + "\n")
    code, _, err = run_cli("score", f, "--bertscore-model", "none")
    assert code == 2 and "line 1: field 'gold': missing field" in err


def _rows(spec):
    rows = [{"id": i, "task": "mcqu", "source": "s", "mode": "constrained", "variant": v, "gold": g, "pred": p}
            for i, v, g, p in spec]
    return score_rows(rows)


def test_permutation_metrics_hand_worked():
    rows = _rows([
        ("1", "original", ["A"], ["A"]), ("1", "perm-1", ["B"], ["A"]), ("1", "perm-2", ["C"], ["C"]),
        ("2", "original", ["B"], ["A"]), ("2", "perm-1", ["A"], ["B"]), ("2", "perm-2", ["C"], ["A"]),
    ])
    s = summarize(rows, seed=0)
    mean = _get(s, "s", "mcqu", "perm_em_mean", "constrained")
    assert mean["value"] == 0.25 and mean["per_permutation"] == [0.0, 0.5]
    assert _get(s, "s", "mcqu", "perm_em_std", "constrained")["value"] == 0.25
    assert _get(s, "s", "mcqu", "perm_em_drop", "constrained")["value"] == 0.25
    assert _get(s, "s", "mcqu", "em", "constrained")["value"] == 0.5  # original order only


def test_circular_metrics_hand_worked():
    # item 1: gold A shown as A, C, B under rotations 0, 1, 2; wrong under rotation 2.
    # item 2: gold B shown as B, A, C; right everywhere.
    rows = _rows([
        ("1", "original", ["A"], ["A"]), ("1", "rot-1", ["C"], ["C"]), ("1", "rot-2", ["B"], ["A"]),
        ("2", "original", ["B"], ["B"]), ("2", "rot-1", ["A"], ["A"]), ("2", "rot-2", ["C"], ["C"]),
    ])
    s = summarize(rows, seed=0)
    assert _get(s, "s", "mcqu", "circular_em", "constrained")["value"] == 0.5
    bias = _get(s, "s", "mcqu", "selection_bias", "constrained")
    assert bias["recall"] == {"A": 1.0, "B": 0.5, "C": 1.0}
    assert bias["value"] == pytest.approx(0.235702, abs=1e-6)  # population std of (1, 0.5, 1)


def test_summary_is_deterministic_and_seed_dependent():
    rows = score_rows([{"id": str(i), "task": "mcqu", "source": "s", "mode": "m", "variant": "original",
                        "gold": ["A"], "pred": ["A"] if i % 3 else ["B"]} for i in range(40)])
    a, b, c = (summarize(rows, seed=seed, n_boot=30) for seed in (1, 1, 2))
    assert json.dumps(a) == json.dumps(b)
    assert _get(a, "s", "mcqu", "em", "m")["ci"] != _get(c, "s", "mcqu", "em", "m")["ci"]
    assert _get(a, "s", "mcqu", "em", "m")["value"] == _get(c, "s", "mcqu", "em", "m")["value"]
