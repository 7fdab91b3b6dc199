"""A pool line repeated twice is one record: it can never appear twice in a mix."""

from __future__ import annotations

import json

import pytest

from medinject.errors import MedinjectError
from medinject.io import load_records
from medinject.mix import run_mix

GOOD = {"task": "mcqu", "question": "Q ?", "options": {"A": "x", "B": "y"}, "answer": ["A"], "origin": "native",
        "source": "s"}


def _pool(tmp_path, n: int, repeat: list[int]) -> list[str]:
    lines = [json.dumps({**GOOD, "id": f"r{i}", "question": f"Question {i} ?"}) for i in range(n)]
    lines += [lines[i] for i in repeat]
    (tmp_path / "p.jsonl").write_text("\n".join(lines) + "\n")
    return lines


def test_a_repeated_line_is_drawn_once(tmp_path):
    _pool(tmp_path, 4, repeat=[0, 2, 0])
    with pytest.raises(MedinjectError, match="lacks 1 mcqu records \\(4 available"):
        run_mix({"native": [tmp_path / "p.jsonl"]}, 5, 0, tmp_path / "o", configs=["NAT"], plot=False)
    summary = run_mix({"native": [tmp_path / "p.jsonl"]}, 4, 0, tmp_path / "o", configs=["NAT"], plot=False)
    ids = [r.id for r in load_records(tmp_path / "o" / "NAT" / "train.jsonl")]
    assert sorted(ids) == ["r0", "r1", "r2", "r3"]
    assert summary["configs"]["NAT"]["inputs"][0]["lines_repeated"] == 3


def test_the_same_record_in_two_pool_files_is_one_record(tmp_path, run_cli):
    lines = _pool(tmp_path, 3, repeat=[])
    (tmp_path / "q.jsonl").write_text(lines[1] + "\n")
    code, _, err = run_cli("mix", "--native", tmp_path / "p.jsonl", "--native", tmp_path / "q.jsonl", "--size", "3",
                           "--configs", "NAT", "-o", tmp_path / "o")
    assert code == 0, err
    ids = [r.id for r in load_records(tmp_path / "o" / "NAT" / "train.jsonl")]
    assert sorted(ids) == ["r0", "r1", "r2"]


def test_one_id_for_two_different_records_is_an_error_naming_both_places(tmp_path):
    _pool(tmp_path, 3, repeat=[])
    with open(tmp_path / "p.jsonl", "a") as f:
        f.write(json.dumps({**GOOD, "id": "r1", "question": "Autre question ?"}) + "\n")
    with pytest.raises(MedinjectError) as e:
        run_mix({"native": [tmp_path / "p.jsonl"]}, 3, 0, tmp_path / "o", configs=["NAT"], plot=False)
    assert "line 4" in str(e.value) and "'r1'" in str(e.value) and "line 2" in str(e.value)
    assert not (tmp_path / "o").exists()
