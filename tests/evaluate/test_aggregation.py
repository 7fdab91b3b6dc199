"""Pooled (micro) and per-test-set mean (macro) Exact Match, both named in every summary."""

import json

import pytest

from medinject.evaluate.summary import headline_line, score_rows, summarize


def _rows():
    # Set "big": 8 items, 6 right; set "small": 2 items, 0 right. Pooled 6/10, macro (0.75 + 0) / 2.
    rows = []
    for i in range(8):
        rows.append({"id": f"b{i}", "source": "big", "task": "mcqu", "mode": "constrained", "variant": "original",
                     "gold": ["A"], "pred": ["A"] if i < 6 else ["B"]})
    for i in range(2):
        rows.append({"id": f"s{i}", "source": "small", "task": "mcq", "mode": "constrained", "variant": "original",
                     "gold": ["A", "B"], "pred": ["A"]})
    return score_rows(rows)


def test_summary_names_pooled_and_macro_em():
    s = summarize(_rows(), n_boot=200)
    head, macro = s["headline"], s["headline_macro"]
    assert (head["metric"], head["pooling"], head["value"], head["n"]) == ("em", "micro", 0.6, 10)
    assert (macro["metric"], macro["pooling"], macro["value"]) == ("em_macro", "macro", 0.375)
    assert macro["sets"] == {"big": 0.75, "small": 0.0} and macro["aggregation"] == "macro"
    assert macro["ci"][0] <= 0.375 <= macro["ci"][1]
    assert headline_line(s) == ("headline: constrained EM 0.6000 pooled over 10 items (micro); 0.3750 as the mean "
                                "of 2 test sets (macro)")
    # Per-source scopes have one set: no macro entry there, and no pooling label.
    per_source = [e for e in s["results"] if e["source"] == "big" and e["metric"].startswith("em")]
    assert [e["metric"] for e in per_source] == ["em"] and "pooling" not in per_source[0]


def test_score_prints_both(tmp_path, run_cli):
    p = tmp_path / "preds.jsonl"
    p.write_text("".join(json.dumps({k: r[k] for k in ("id", "source", "task", "mode", "gold", "pred")}) + "\n"
                         for r in _rows()), encoding="utf-8")
    code, out, err = run_cli("score", p, "-o", tmp_path / "s.json", "--bertscore-model", "none", "--n-boot", 50)
    assert code == 0, err
    assert "pooled over 10 items (micro)" in out and "mean of 2 test sets (macro)" in out
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["headline_macro"]["value"] == pytest.approx(0.375)
