"""Every JSON artifact names its schema; `report` refuses a mismatched one in one line."""

import json
import logging

import pytest

from medinject.errors import InputError
from medinject.evaluate.summary import score_rows, summarize
from medinject.schemas import VERSIONS, check, schema_id, stamp


def test_stamp_puts_the_schema_first_and_check_accepts_it():
    obj = stamp("judge.summary", {"systems": {}, "schema": "old"})
    assert list(obj) == ["schema", "systems"]
    assert obj["schema"] == f"medinject.judge.summary/{VERSIONS['judge.summary']}"
    assert check(obj, "judge.summary") is obj


@pytest.mark.parametrize("got, words", [
    ("medinject.eval.summary/99", "upgrade medinject"),
    ("medinject.eval.summary/0", "rerun the stage"),
    ("medinject.judge.summary/1", "is not a eval.summary artifact"),
])
def test_check_refuses_other_versions_and_other_artifacts(got, words):
    with pytest.raises(InputError) as e:
        check({"schema": got}, "eval.summary", "x/summary.json")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("x/summary.json: field 'schema': ") and words in msg


def test_an_artifact_without_schema_is_read_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="medinject.schemas"):
        assert check({"results": []}, "eval.summary", "s.json") == {"results": []}
    assert "no schema field" in caplog.text


def _eval_folder(root, schema):
    d = root / "evaluate" / "base"
    d.mkdir(parents=True)
    rows = score_rows([{"id": "q1", "task": "mcqu", "source": "b", "mode": "constrained", "variant": "original",
                        "gold": ["A"], "pred": ["A"]}])
    (d / "summary.json").write_text(json.dumps({"schema": schema, "settings": {}, **summarize(rows, n_boot=10)}))
    (d / "predictions.jsonl").write_text("".join(json.dumps(stamp("eval.prediction", r)) + "\n" for r in rows))
    return d.parent


def test_report_refuses_a_mismatched_summary_in_one_line(tmp_path, run_cli):
    good = _eval_folder(tmp_path / "good", schema_id("eval.summary"))
    code, _, err = run_cli("report", good, "-o", tmp_path / "r1", "--baseline", "base", "--reference", "base")
    assert code == 0, err
    bad = _eval_folder(tmp_path / "bad", "medinject.eval.summary/7")
    code, _, err = run_cli("report", bad, "-o", tmp_path / "r2", "--baseline", "base", "--reference", "base")
    assert code == 2
    assert err.strip().count("\n") == 0 and "schema medinject.eval.summary/7" in err and "summary.json" in err
    assert not (tmp_path / "r2" / "report.html").exists()


def test_stage_writers_stamp_their_artifacts(tmp_path):
    from medinject.train.manifest import write_manifest

    path = write_manifest(tmp_path, {"base_model": "m"})
    assert json.loads(path.read_text())["schema"] == schema_id("train.manifest")
