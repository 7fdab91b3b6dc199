"""`medinject validate` lists every problem; `medinject stats` counts and measures."""

import json

import pytest

from medinject.records import Passage, Record
from medinject.stats import file_stats, length_summary
from medinject.validate import validate_file

GOOD = {"id": "r1", "task": "mcqu", "question": "Q ?", "options": {"A": "a", "B": "b"}, "answer": ["A"],
        "origin": "native", "source": "t"}


def write_lines(path, lines):
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return path


def test_validate_lists_every_problem_first_twenty_shown(tmp_path, run_cli):
    lines = [GOOD]
    lines += [{**GOOD, "id": f"b{i}", "answer": ["Z"]} for i in range(22)]
    lines += ["{not json", {**GOOD, "origin": "alien", "id": "o"}, GOOD]  # the last one repeats id r1
    path = write_lines(tmp_path / "r.jsonl", lines)
    report = validate_file(path)
    assert report.kind == "records" and report.rows == 26 and report.bad == 25 and len(report.problems) == 25
    assert report.problems[-1].endswith("field 'id': duplicate id, first at line 1")
    assert any("line 24: malformed JSON" in p for p in report.problems)
    code, _, stderr = run_cli("validate", path)
    lines = stderr.splitlines()
    assert code == 2 and len(lines) == 21
    assert lines[0] == f"{path}: line 2: record b0: field 'answer': letter(s) Z not among options AB"
    assert lines[-1] == f"{path}: 25 problem(s) in 25 of 26 rows (5 more not shown)"
    assert "Traceback" not in stderr


def test_validate_passes_good_records_parquet_and_passages(tmp_path, run_cli):
    from medinject.io import write_passages, write_records

    write_records(tmp_path / "r.parquet", [Record(**GOOD), Record(**{**GOOD, "id": "r2"})])
    write_passages(tmp_path / "p.jsonl", [Passage(id="p1", text="Un cas clinique.", source="e3c")])
    code, stdout, _ = run_cli("validate", tmp_path / "r.parquet", tmp_path / "p.jsonl")
    assert code == 0
    assert "r.parquet: 2 records, all valid" in stdout and "p.jsonl: 1 passages, all valid" in stdout
    # passages forced to be read as records do not pass
    assert not validate_file(tmp_path / "p.jsonl", kind="records").ok


def test_length_summary_values():
    s = length_summary([10, 20, 30, 40, 50])
    assert (s["n"], s["mean"], s["p50"], s["p25"], s["max"]) == (5, 30.0, 30.0, 20.0, 50)
    assert length_summary([]) == {"n": 0}


def test_stats_counts_and_lengths_over_several_files(tmp_path, run_cli):
    a = write_lines(tmp_path / "a.jsonl", [
        GOOD, {**GOOD, "id": "r2", "origin": "translated", "lang": "fr", "context": "x" * 10},
        {**GOOD, "id": "r3", "task": "oeq", "options": {}, "answer": "abcd", "split": "test"},
    ])
    b = write_lines(tmp_path / "b.jsonl", [{**GOOD, "id": "r4", "task": "mcq", "answer": ["A", "B"], "source": "u",
                                            "lang": "en"}])
    stats = file_stats([a, b])
    assert stats["files"] == {str(a): 3, str(b): 1} and stats["n"] == 4
    assert stats["counts"]["origin"] == {"native": 3, "translated": 1}
    assert stats["counts"]["task"] == {"mcqu": 2, "oeq": 1, "mcq": 1}
    assert stats["counts"]["source"] == {"t": 3, "u": 1}
    assert stats["counts"]["split"] == {"train": 3, "test": 1} and stats["counts"]["lang"] == {"fr": 3, "en": 1}
    # answers of choice records are measured as the text of their correct options ("a ; b" = 5 chars)
    assert stats["lengths"]["answer"]["max"] == 5 and stats["lengths"]["context"] == length_summary([10])
    out = tmp_path / "s.json"
    code, stdout, _ = run_cli("stats", a, b, "--json", "-o", out)
    assert code == 0 and json.loads(stdout) == json.loads(out.read_text()) == json.loads(json.dumps(stats))
    code, stdout, _ = run_cli("stats", a, b)
    assert code == 0 and "4 records in 2 file(s)" in stdout and "translated" in stdout and "p95" in stdout


def test_stats_refuses_records_and_passages_together(tmp_path):
    a = write_lines(tmp_path / "a.jsonl", [GOOD])
    p = write_lines(tmp_path / "p.jsonl", [{"id": "p", "text": "t", "source": "s"}])
    from medinject.errors import InputError

    with pytest.raises(InputError, match="give files of one kind"):
        file_stats([a, p])
    assert file_stats([p])["lengths"]["text"]["max"] == 1
