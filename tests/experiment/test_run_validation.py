"""`medinject run` checks the whole experiment file before the first stage: sources, formats, mix weights and
the values of every stage's settings; each problem is one line naming the YAML line, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_checks import one_error_line

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


@pytest.fixture
def experiment(tmp_path):
    """The demo experiment copied beside a local source file, with its work directory under tmp_path."""
    text = DEMO.read_text().replace("workdir: runs/demo", f"workdir: {tmp_path / 'w'}")
    text = text.replace('path: "package:sample/english.jsonl"', "path: english.jsonl")
    src = DEMO.resolve().parents[1] / "sample" / "english.jsonl"  # configs/demo.yaml -> data/experiments/
    (tmp_path / "english.jsonl").write_bytes(src.read_bytes())
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def _line_of(path: Path, needle: str) -> str:
    """'line N' of the first line holding `needle` (the error names the YAML line of the bad field)."""
    return f"line {next(i for i, x in enumerate(path.read_text().splitlines(), 1) if needle in x)}"


def _refused(run_cli, path, *args, expect=(), dry=True):
    code, out, err = run_cli("run", path, *args, *(["--dry-run"] if dry else []))
    line = one_error_line(code, out, err, *expect, prefix=f"error: {path}")
    assert not (path.parent / "w").exists()  # nothing ran, nothing was written
    return line


def test_the_experiment_as_given_is_valid(run_cli, experiment):
    code, out, err = run_cli("run", experiment, "--dry-run")
    assert code == 0, err
    assert out.splitlines()[-1] == "28 nodes: 28 to run, 0 cached, 0 not selected"


@pytest.mark.parametrize("dry", [True, False])
def test_a_missing_source_file(run_cli, experiment, dry):
    experiment.with_name("english.jsonl").unlink()
    line = _refused(run_cli, experiment, dry=dry, expect=[_line_of(experiment, "path: english.jsonl"),
                                                          "field 'sources.3.path'", "english.jsonl",
                                                          "file not found"])
    assert str(experiment.with_name("english.jsonl")) in line


def test_a_missing_shipped_file_and_a_missing_expert_file(run_cli, experiment):
    _refused(run_cli, experiment, "sources.0.path=package:sample/absent.jsonl",
             expect=["field 'sources.0.path'", "package:sample/absent.jsonl: file not found"])
    _refused(run_cli, experiment, "judge.experts=ratings-absent.csv",
             expect=["field 'judge.experts'", "file not found"])


def test_a_hub_id_is_not_a_missing_file(run_cli, experiment):
    code, out, err = run_cli("run", experiment, "--dry-run", "sources.0.path=MedInjection-FR/Native",
                             "sources.0.format=medinjection")
    assert code == 0, err


@pytest.mark.parametrize("dry", [True, False])
def test_an_unknown_format(run_cli, experiment, dry):
    text = experiment.read_text().replace("path: english.jsonl, format: records", "path: english.jsonl, "
                                          "format: record")
    experiment.write_text(text)
    _refused(run_cli, experiment, dry=dry, expect=[_line_of(experiment, "format: record}"),
                                                   "field 'sources.3.format'", "'records'", "'generic'"])


@pytest.mark.parametrize("dry", [True, False])
def test_a_negative_mix_weight(run_cli, experiment, dry):
    text = experiment.read_text().replace("  shrink: true\n", "  shrink: true\n  options:\n    weights:\n"
                                          "      MORE-NAT: {native: 3, translated: -1}\n")
    text = text.replace("configs: [NAT, TRAD,", "configs: [MORE-NAT, NAT, TRAD,")
    experiment.write_text(text)
    _refused(run_cli, experiment, dry=dry, expect=["field 'mix.options.weights'", "negative weight for translated"])


@pytest.mark.parametrize(("override", "expect"), [
    ("evaluate.options.n_boot=0", ["field 'evaluate.options.n_boot'", "must be >= 1"]),
    ("evaluate.options.dtype=half", ["field 'evaluate.options.dtype'", "'half' is not one of"]),
    ("evaluate.options.device=gpu", ["field 'evaluate.options.device'", "unknown device 'gpu'"]),
    ("evaluate.options.modes=[]", ["field 'evaluate.options.modes'", "empty list"]),
    ("evaluate.batch_size=0", ["field 'evaluate.batch_size'"]),
    ("judge.options.max_tokens=0", ["field 'judge.options.max_tokens'", "must be >= 1"]),
    ("judge.options.max_tokens=many", ["field 'judge.options.max_tokens'", "valid integer"]),
    ("translate.0.options.max_tokens=0", ["field 'translate.0.options.max_tokens'"]),
    ("synthesize.0.options.per_passage=0", ["field 'synthesize.0.options.per_passage'"]),
    ("backends.local.concurrency=0", ["field 'backends.local.concurrency'"]),
    ("backends.local.options.timeout=0", ["field 'backends.local.options.timeout'", "must be > 0"]),
    ("backends.local.options.max_retries=-1", ["field 'backends.local.options.max_retries'", "must be >= 0"]),
    ("train.overrides.num_train_epochs=0", ["field 'train.overrides.num_train_epochs'", "must be > 0"]),
    ("train.overrides.adapter.r=0", ["field 'train.overrides.adapter.r'", "must be >= 1"]),
    ("train.overrides.learning_rate=nan", ["field 'train.overrides.learning_rate'", "must be a finite number"]),
    ("train.overrides.learning_rate=.inf", ["field 'train.overrides.learning_rate'", "must be a finite number"]),
    ("backends.local.options.timeout=.inf", ["field 'backends.local.options.timeout'", "must be a finite number"]),
    ("judge.options.temperature=.nan", ["field 'judge.options.temperature'", "must be a finite number"]),
    ("report.n_boot=0", ["field 'report.n_boot'"]),
])
def test_stage_values_are_checked_before_anything_runs(run_cli, experiment, override, expect):
    _refused(run_cli, experiment, override, expect=[*expect, "(set on the command line)"])
