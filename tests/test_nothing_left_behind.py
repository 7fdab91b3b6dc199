"""A refused input leaves nothing at or beside the output path; a killed writer's temporary files go at the
next run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BAD_REC = {"id": "a", "task": "mcqu", "question": "Q", "options": {"A": "x"}, "answer": ["Z"], "origin": "native",
           "source": "s"}
URL = ["--model", "m", "--base-url", "http://127.0.0.1:9/v1"]

CASES = {
    "annotate import": ["annotate", "import", "{d}/bad.csv", "--db", "{o}/sub/r.sqlite"],
    "ingest": ["ingest", "{d}/bad.jsonl", "-f", "medinjection", "-o", "{o}/sub/x.jsonl"],
    "curate, bad eval file": ["curate", "{d}/bad.jsonl", "--eval", "{d}/badeval.jsonl", "-o", "{o}/cur"],
    "translate with a cache": ["translate", "{d}/bad.jsonl", "-o", "{o}/fr.jsonl", "--cache", "{o}/c/c.sqlite", *URL],
    "synthesize": ["synthesize", "{d}/bad.jsonl", "-o", "{o}/s.jsonl", "--cache", "{o}/c.sqlite", *URL],
    "judge": ["judge", "{d}/badpred.jsonl", "-o", "{o}/j", "--cache", "{o}/c.sqlite", *URL],
    "mix": ["mix", "--pool", "{d}/bad.jsonl", "--size", "1", "-o", "{o}/m"],
    "stats": ["stats", "{d}/bad.jsonl", "-o", "{o}/sub/s.json"],
    "agreement": ["agreement", "{d}/bad.csv", "{d}/badpred.jsonl", "-o", "{o}/a"],
    "score": ["score", "{d}/badpred.jsonl", "-o", "{o}/sub/s.json"],
}


def _inputs(d: Path) -> None:
    (d / "bad.jsonl").write_text(json.dumps(BAD_REC) + "\n")
    (d / "badeval.jsonl").write_text('{"id": "e"}\n')
    (d / "bad.csv").write_text("annotator,item_id,system,score\nx,o1,p,abc\n")
    (d / "badpred.jsonl").write_text('{"id": "o1", "question": "Q", "prediction": "P"}\n')


@pytest.mark.parametrize("verb", sorted(CASES))
def test_a_refused_input_leaves_nothing_behind(tmp_path, run_cli, verb, monkeypatch):
    d, o = tmp_path / "in", tmp_path / "out"
    d.mkdir()
    _inputs(d)
    monkeypatch.setenv("MEDINJECT_CACHE", str(tmp_path / "default-cache" / "requests.sqlite"))
    code, _, err = run_cli(*[a.format(d=d, o=o) for a in CASES[verb]])
    assert code == 2 and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["in", "bad.jsonl", "badeval.jsonl", "bad.csv",
                                                                  "badpred.jsonl"])


def test_what_the_run_did_not_create_or_that_holds_data_is_kept(tmp_path):
    from medinject.io import discard_new_outputs, refuse_overwrite

    (tmp_path / "old").mkdir()
    refuse_overwrite([], [tmp_path / "old", tmp_path / "new" / "db.sqlite", tmp_path / "kept.jsonl"])
    (tmp_path / "new").mkdir()
    import sqlite3

    db = sqlite3.connect(tmp_path / "new" / "db.sqlite")
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    db.commit()
    db.close()
    (tmp_path / "kept.jsonl").write_text("{}\n")
    discard_new_outputs()
    assert (tmp_path / "old").is_dir() and (tmp_path / "new" / "db.sqlite").exists()
    assert (tmp_path / "kept.jsonl").exists()


KILLED_WRITER = """
import os, sys
from medinject.io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_text("half")
    print(tmp, flush=True)
    os.kill(os.getpid(), 9)
"""


def test_a_killed_writer_s_temporary_file_goes_at_the_next_write(tmp_path):
    from medinject.io import write_text

    target = tmp_path / "out.jsonl"
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == -9
    stale = Path(proc.stdout.strip())
    assert stale.exists() and stale.parent == tmp_path and not target.exists()
    write_text(target, "whole\n")
    assert target.read_text() == "whole\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_a_killed_curation_s_spool_goes_at_the_next_run(tmp_path):
    from medinject.curate import run_curate

    rec = {"id": "r1", "task": "oeq", "question": "Une question assez longue ?", "answer": "Une réponse.",
           "origin": "native", "source": "s"}
    (tmp_path / "in.jsonl").write_text(json.dumps(rec, ensure_ascii=False) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "from medinject.io import _writer_tag; print(_writer_tag())"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    stale = out / f".spool.{dead.stdout.strip()}.abc123.jsonl"
    elsewhere = out / ".spool.1@another_node.abc123.jsonl"  # another machine's writer: not ours to judge
    elsewhere.write_text("another machine\n")
    stale.write_text("left by a killed run\n")
    run_curate([tmp_path / "in.jsonl"], out, progress=False, check_language=False)
    assert not stale.exists() and elsewhere.exists()
    assert [p for p in out.iterdir() if p.name.startswith(".")] == [elsewhere]
