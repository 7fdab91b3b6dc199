"""Every metric the report shows comes with its 95% interval; CSV numbers share one format; no scope twice."""

from __future__ import annotations

import csv
import json
import re

import pytest

from medinject.evaluate.summary import score_rows, summarize
from medinject.report import build_report

from .test_report import CONFIGS, _rows, stage_outputs  # noqa: F401  (the shared fixture)

METRIC_TABLES = ("aggregate_em", "main_table", "main_table_wide", "answer_order_bias", "open_ended", "judge",
                 "agreement", "inter_annotator")
# Columns that are not estimates: identifiers, counts, paired-test results, and the spread over K orderings.
NOT_ESTIMATES = re.compile(r"^(configuration|benchmark|task|n|test sets|score|measure|annotators|items rated twice|"
                           r"significant \(p<0.05\)|.*significant|[Δp] vs .*|.* (parsed|unparseable|failed)|"
                           r"std over K)$")


def _header(path) -> list[str]:
    with open(path, newline="") as f:
        return next(csv.reader(f))


def _interval(cols: list[str], col: str) -> bool:
    pairs = [(f"{col} CI low", f"{col} CI high")]
    if col.startswith("judge "):
        mode = col.removeprefix("judge ")
        pairs.append((f"{mode} 95% CI low", f"{mode} 95% CI high"))
    if col == "value":
        pairs.append(("CI low", "CI high"))
    return any(lo in cols and hi in cols for lo, hi in pairs)


def test_each_metric_table_has_interval_columns(stage_outputs):  # noqa: F811
    _, out, _ = stage_outputs
    for name in METRIC_TABLES:
        cols = _header(out / f"{name}.csv")
        metrics = [c for c in cols if not NOT_ESTIMATES.match(c) and not re.search(r"CI (low|high)$", c)]
        assert metrics, name
        missing = [c for c in metrics if not _interval(cols, c)]
        assert not missing, f"{name}: no interval for {missing}"
    html = (out / "report.html").read_text()
    assert html.count("<div class='scroll'><table>") == html.count("<table>")  # wide tables scroll


def test_csv_numbers_share_one_format(stage_outputs):  # noqa: F811
    _, out, _ = stage_outputs
    number = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
    one_format = re.compile(r"^-?\d+(\.\d{6})?$")
    seen = 0
    for path in out.glob("*.csv"):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                for v in row.values():
                    if number.match(v or ""):
                        seen += 1
                        assert one_format.match(v), (path.name, v)
    assert seen > 100


def _single_benchmark(tmp_path, judge_summary):
    evals = {}
    for k, (name, skill) in enumerate(CONFIGS.items()):
        d = tmp_path / "evaluate" / name
        d.mkdir(parents=True)
        rows = [dict(r, source="only-set") for r in _rows(skill, k)]
        rows = score_rows(rows)
        (d / "summary.json").write_text(json.dumps({"settings": {"model": "m"}, **summarize(rows, seed=0, n_boot=50)}))
        (d / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        evals[name] = str(d)
    judge = tmp_path / "judge"
    judge.mkdir()
    (judge / "summary.json").write_text(json.dumps(judge_summary))
    return build_report({"evaluations": evals, "judge": str(judge)}, tmp_path / "report", n_boot=50)


def test_one_benchmark_is_not_shown_twice_and_nothing_parsed_is_said(tmp_path):
    nothing = {"mean": {"value": None, "ci": [None, None], "n": 0}, "excluded": {"unparseable": 6, "failed": 0}}
    _single_benchmark(tmp_path, {"systems": {c: {"binary": nothing} for c in CONFIGS}})
    out = tmp_path / "report"
    with open(out / "main_table.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["benchmark"] for r in rows} == {"only-set"}
    assert len(rows) == len(CONFIGS) * 3  # mcq, mcqu and both, once each
    assert not any(c.startswith("mcq") for c in _header(out / "main_table_wide.csv"))  # no bare "all" scope
    with open(out / "judge.csv", newline="") as f:
        judge = list(csv.DictReader(f))
    assert {(r["binary parsed"], r["binary unparseable"]) for r in judge} == {("0", "6")}
    assert "No verdict could be parsed (18 unparseable)" in (out / "report.md").read_text()


@pytest.mark.parametrize("png", ["permutation_drop.png"])
def test_answer_order_plot_is_drawn(stage_outputs, png):  # noqa: F811
    _, out, _ = stage_outputs
    assert (out / png).read_bytes()[:4] == b"\x89PNG"
