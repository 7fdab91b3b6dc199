"""Experiment files: validated before anything runs, errors name the line; shipped configs load."""

from __future__ import annotations

from pathlib import Path

import pytest

from medinject.errors import InputError
from medinject.experiment.config import load_experiment
from medinject.experiment.yamlload import load_yaml

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
name: t
sources:
  - name: fr
    path: fr.jsonl
    format: records
  - name: en
    path: en.jsonl
    format: records
  - name: test
    path: test.jsonl
    format: records
backends:
  local: {model: toy:tiny, serve: true}
translate:
  - {name: en-fr, input: en, backend: local}
mix:
  size: 10
train:
  model: toy:tiny
evaluate:
  sets: [test]
  permute: 2
"""


def write(tmp_path, text):
    p = tmp_path / "exp.yaml"
    p.write_text(text)
    return p


def test_good_file_loads_with_defaults(tmp_path):
    exp = load_experiment(write(tmp_path, GOOD))
    assert exp.mix.configs == ["NAT", "TRAD", "SYN", "NAT-TRAD", "NAT-SYN", "TRAD-SYN", "ALL"]
    assert exp.curate_inputs() == ["fr", "en-fr"]  # `en` feeds translation, `test` is an evaluation set
    assert exp.eval_model == "toy:tiny"
    assert exp.base_dir == tmp_path


@pytest.mark.parametrize("old,new,line,field,msg", [
    ("  permute: 2", "  permute: two", 22, "evaluate.permute", "valid integer"),
    ("  permute: 2", "  permute: -1", 22, "evaluate.permute", "greater than or equal"),
    ("  size: 10", "  size: 10\n  colour: red", 18, "mix.colour", "Extra inputs"),
    ("    format: records\n  - name: en", "    format: records\n    limt: 5\n  - name: en", 6, "sources.0.limt",
     "Extra"),
    ("{name: en-fr, input: en,", "{name: en-fr, input: nope,", 15, "translate.0.input", "unknown record source"),
    ("backend: local}", "backend: remote}", 15, "translate.0.backend", "unknown backend"),
    ("  sets: [test]", "  sets: [test, missing]", 21, "evaluate.sets.1", "unknown evaluation source"),
    ("  - name: en\n", "  - name: fr\n", 6, "sources.1.name", "used twice"),
    ("  - name: en\n", "  - name: 'bad name'\n", 6, "sources.1.name", "not a valid name"),
    ("mix:\n  size: 10\n", "mix:\n  size: 10\n  configs: [NAT, FOO]\n", 18, "mix.configs.1", "unknown mix"),
    ("train:\n  model: toy:tiny\n", "train: {}\n", 18, "train.model", "Field required"),
])
def test_errors_name_line_and_field(tmp_path, old, new, line, field, msg):
    assert old in GOOD
    with pytest.raises(InputError) as e:
        load_experiment(write(tmp_path, GOOD.replace(old, new, 1)))
    assert e.value.line == line, str(e.value)
    assert e.value.field == field
    assert msg in str(e.value) and f"line {line}" in str(e.value)


def test_missing_section_names_the_top_level(tmp_path):
    with pytest.raises(InputError, match=r"line 1: field 'mix': Field required"):
        load_experiment(write(tmp_path, GOOD.replace("mix:\n  size: 10\n", "")))


def test_yaml_syntax_error_and_duplicate_key_name_the_line(tmp_path):
    with pytest.raises(InputError, match=r"line 5: invalid YAML"):
        load_experiment(write(tmp_path, GOOD.replace("    path: fr.jsonl", "    path: [fr.jsonl")))
    with pytest.raises(InputError, match=r"line 18: invalid YAML: duplicate key 'mix'"):
        load_experiment(write(tmp_path, GOOD.replace("train:", "mix: {size: 3}\ntrain:")))
    with pytest.raises(InputError, match="file not found"):
        load_experiment(tmp_path / "nope.yaml")


def test_overrides_apply_and_bad_ones_say_command_line(tmp_path):
    over = ["evaluate.permute=5", "mix.configs=[NAT, ALL]", "train.overrides.lr=1.0e-3"]
    exp = load_experiment(write(tmp_path, GOOD), over)
    assert exp.evaluate.permute == 5 and exp.mix.configs == ["NAT", "ALL"]
    assert exp.train.overrides == {"lr": 1e-3}
    with pytest.raises(InputError, match=r"field 'evaluate.permute'.*set on the command line"):
        load_experiment(write(tmp_path, GOOD), ["evaluate.permute=x"])
    with pytest.raises(InputError, match="key.sub=value"):
        load_experiment(write(tmp_path, GOOD), ["evaluate.permute"])


def test_line_dicts_keep_key_lines(tmp_path):
    data = load_yaml(write(tmp_path, GOOD))
    assert data.key_lines["mix"] == 16 and data["mix"].key_lines["size"] == 17
    assert data["sources"].item_lines == [3, 6, 9]


@pytest.mark.parametrize("name", ["paper.yaml", "demo.yaml"])
def test_shipped_experiment_configs_load(name):
    exp = load_experiment(REPO / "configs" / name)
    assert exp.mix.configs == ["NAT", "TRAD", "SYN", "NAT-TRAD", "NAT-SYN", "TRAD-SYN", "ALL"]


def test_a_new_prompt_version_invalidates_the_llm_jobs_made_with_the_old_one(tmp_path):
    """Finished translation and synthesis nodes are keyed by their prompts' versions, so editing a kind file
    or choosing another translation prompt reruns the job instead of reusing stale records."""
    import yaml as _yaml

    from medinject.experiment.config import load_experiment
    from medinject.experiment.graph import build_nodes

    kinds = tmp_path / "kinds"
    kinds.mkdir()
    kind = {"name": "mine", "version": "v1", "task": "oeq", "system": "s", "user": "Texte : {passage}"}
    (kinds / "mine.yaml").write_text(_yaml.safe_dump(kind))
    exp = load_experiment(REPO / "configs" / "cpu-study.yaml")
    exp.synthesize[0].options.update(kinds=["mine"], kinds_dir=str(kinds))

    def settings():
        nodes = {n.name: n for n in build_nodes(exp)}
        return nodes["synthesize/e3c-syn"].settings["kinds"], nodes["translate/mmlu-fr"].settings["prompt"]

    assert settings() == ({"mine": "v1"}, "translate-record-fewshot-fr-v1")
    (kinds / "mine.yaml").write_text(_yaml.safe_dump({**kind, "version": "v2"}))
    exp.translate[1].options.pop("prompt_file")
    assert settings() == ({"mine": "v2"}, "translate-record-fr-v1")
