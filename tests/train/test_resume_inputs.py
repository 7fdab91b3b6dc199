"""`train --resume` and resumable LLM jobs refuse data that changed since the interrupted run, naming the file."""

import json

import pytest

from medinject.errors import InputError
from medinject.io import sha256_file
from medinject.train.config import load_config
from medinject.train.recipe import INPUT_HASHES, RESOLVED_CONFIG, _check_output_dir, _comparable

REC = {"id": "r1", "task": "oeq", "question": "Q ?", "answer": "R.", "origin": "native", "source": "s"}


def _interrupted(tmp_path):
    data = tmp_path / "mix.jsonl"
    data.write_text(json.dumps(REC) + "\n")
    out = tmp_path / "adapter"
    cfg = load_config(None, ["model=m", f"data={data}", f"output_dir={out}", "resume=true"])
    (out / "checkpoint-2").mkdir(parents=True)
    (out / "checkpoint-2" / "trainer_state.json").write_text("{}")
    (out / RESOLVED_CONFIG).write_text(json.dumps({**_comparable(cfg), INPUT_HASHES: {str(data): sha256_file(data)}}))
    return cfg, data, out


def test_resume_on_the_same_data_goes_on(tmp_path):
    cfg, _, out = _interrupted(tmp_path)
    assert _check_output_dir(cfg) == out / "checkpoint-2"


def test_resume_on_changed_or_missing_data_is_refused_naming_the_file(tmp_path, run_cli):
    cfg, data, out = _interrupted(tmp_path)
    data.write_text(json.dumps({**REC, "answer": "Autre."}) + "\n")
    with pytest.raises(InputError, match="changed since the interrupted run") as e:
        _check_output_dir(cfg)
    assert str(data) in str(e.value)
    code, _, err = run_cli("train", "model=m", f"data={data}", f"output_dir={out}", "--resume")
    assert code == 2 and str(data) in err and len(err.strip().splitlines()) == 1
    data.unlink()
    with pytest.raises(InputError, match="missing"):
        _check_output_dir(cfg)


def test_a_resumable_job_refuses_a_changed_input(tmp_path):
    from medinject.backends.jobs import _Journal

    src = tmp_path / "en.jsonl"
    src.write_text("a\n")
    folder = tmp_path / ".fr.jsonl.partial"
    fp = {"model": "m", "input": str(src), "input_sha256": sha256_file(src)}
    _Journal(folder, fp, print).close()
    _Journal(folder, fp, print).close()  # the same input resumes
    src.write_text("b\n")
    with pytest.raises(InputError, match="changed since the interrupted run") as e:
        _Journal(folder, {**fp, "input_sha256": sha256_file(src)}, print)
    assert str(e.value).startswith(str(src))
    assert folder.exists()  # the journal is kept: restoring the file resumes it
    # Other settings changed (a new model): the journal is set aside and the job starts over, as before.
    _Journal(folder, {**fp, "model": "n", "input_sha256": sha256_file(src)}, print).close()
