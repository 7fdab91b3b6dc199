"""Stage summaries reach TensorBoard with their numbers, config and data hashes; W&B without its extra is one line."""

import json

import pytest

from medinject.evaluate.summary import score_rows, summarize
from medinject.schemas import stamp
from medinject.tracking import data_hashes, metrics_of


def _events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    scalars = {t: acc.Scalars(t)[0].value for t in acc.Tags()["scalars"]}
    texts = {t.removesuffix("/text_summary"): acc.Tensors(t)[0].tensor_proto.string_val[0].decode()
             for t in acc.Tags()["tensors"]}
    return scalars, texts


def _eval_summary(tmp_path):
    data = tmp_path / "eval.jsonl"
    data.write_text("x\n")
    rows = score_rows([{"id": f"q{i}", "task": "mcqu", "source": "bench", "mode": "constrained",
                        "variant": "original", "gold": ["A"], "pred": ["A"] if i < 3 else ["B"]} for i in range(4)])
    return stamp("eval.summary", {"settings": {"model": "toy", "seed": 0,
                                               "data": [{"path": str(data), "sha256": "ab" * 32, "records": 4}]},
                                  **summarize(rows, n_boot=20)})


def test_eval_metrics_are_tagged_by_scope():
    m = metrics_of({"results": [{"source": "b", "task": "mcqu", "mode": "constrained", "metric": "em",
                                 "value": 0.75, "ci": [0.5, 1.0]}], "counts": {"input": 10, "kept": 8}})
    assert m == {"eval/b/mcqu/constrained/em": 0.75, "eval/b/mcqu/constrained/em/ci_low": 0.5,
                 "eval/b/mcqu/constrained/em/ci_high": 1.0, "counts/input": 10.0, "counts/kept": 8.0}


def test_track_sends_an_eval_summary_to_tensorboard_with_config_and_hashes(tmp_path, run_cli):
    pytest.importorskip("tensorboard")
    summary = _eval_summary(tmp_path)
    path = tmp_path / "base" / "summary.json"
    path.parent.mkdir()
    path.write_text(json.dumps(summary))
    code, out, err = run_cli("track", path, "--log-dir", tmp_path / "runs")
    assert code == 0, err
    scalars, texts = _events(tmp_path / "runs" / "base-summary")
    assert scalars["eval/all/mcqu/constrained/em"] == pytest.approx(0.75)
    assert json.loads(texts["config"].strip("`\njson"))["settings"]["model"] == "toy"
    assert "ab" * 32 in texts["data_sha256"] and texts["kind"] == "medinject.eval.summary/1"


def test_data_hashes_come_from_the_summary_and_the_inputs(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text("{}\n")
    h = data_hashes({"inputs": [{"path": "a.jsonl", "sha256": "1" * 64}]}, [f])
    assert h["a.jsonl"] == "1" * 64 and len(h[str(f)]) == 64


def test_wandb_without_its_extra_is_one_line(tmp_path, run_cli):
    try:
        import wandb  # noqa: F401
        pytest.skip("wandb is installed")
    except ImportError:
        pass
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(_eval_summary(tmp_path)))
    code, _, err = run_cli("track", path, "--report-to", "wandb", "--log-dir", tmp_path / "runs")
    assert code == 2 and "medinject[wandb]" in err and err.count("\n") == 1


def test_curate_reports_to_tensorboard(tmp_path, run_cli):
    pytest.importorskip("tensorboard")
    from importlib import resources

    sample = resources.files("medinject") / "data" / "sample" / "native.jsonl"
    code, _, err = run_cli("curate", str(sample), "-o", tmp_path / "cur", "--no-language", "--no-progress",
                           "--report-to", "tensorboard")
    assert code == 0, err
    scalars, texts = _events(tmp_path / "cur" / "runs" / "curate-cur")
    report = json.loads((tmp_path / "cur" / "report.json").read_text())
    assert scalars["counts/kept"] == report["counts"]["kept"] and str(sample) in texts["data_sha256"]


def test_wandb_runs_get_metrics_config_and_hashes(tmp_path, monkeypatch):
    """With a stand-in `wandb` module (unit test only): what medinject hands to wandb.init and the run."""
    import sys
    import types

    from medinject.tracking import report_run

    calls = {}

    class Run:
        url, dir = "https://wandb.example/run/1", str(tmp_path)

        def __init__(self):
            self.summary = {}

        def log(self, metrics):
            calls["log"] = metrics

        def finish(self):
            calls["finished"] = True

    def init(**kw):
        calls["init"] = kw
        calls["run"] = Run()
        return calls["run"]

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init))
    summary = _eval_summary(tmp_path)
    assert report_run(summary, "wandb", log_dir=tmp_path / "w", name="eval-base") == ["https://wandb.example/run/1"]
    init_kw = calls["init"]
    assert init_kw["name"] == "eval-base" and init_kw["job_type"] == "medinject.eval.summary/1"
    assert init_kw["config"]["settings"]["model"] == "toy" and "ab" * 32 in init_kw["config"]["data_sha256"].values()
    assert calls["run"].summary["eval/all/mcqu/constrained/em"] == pytest.approx(0.75) and calls["finished"]
