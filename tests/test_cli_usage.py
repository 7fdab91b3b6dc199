"""Usage errors: every verb and sub-verb, found from the app itself, answers a missing argument, an unknown
option, an option without its value and a bad value with one line naming the option, exit 2, no traceback,
nothing written. Also: an unknown verb, bare `medinject`, `--version`, and choices listed in `--help`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
import typer
from cli_checks import one_error_line

from medinject import __version__, cli
from medinject import cli_values as v


def leaf_commands() -> dict[str, object]:
    """'annotate serve' -> its command object, for every registered verb and sub-verb."""
    cli._register()
    out: dict[str, object] = {}

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            out[" ".join(path)] = cmd

    walk(typer.main.get_command(cli.app), [])
    return out


COMMANDS = leaf_commands()


def _callback_name(param) -> str | None:
    cb = getattr(param, "callback", None)
    inner = getattr(cb, "__wrapped__", cb)
    return getattr(inner, "__qualname__", None)


def bad_values(param) -> list[str]:
    """Values the parser must refuse for this parameter (none for a free-form path or text)."""
    desc = param.type_descriptor
    if getattr(param, "is_flag", False) or desc.annotation is bool:
        return []
    cb = _callback_name(param)
    if cb is not None:
        if cb.startswith("comma_list"):
            return ["", " , "]
        return {"url": ["not-a-url", "ftp://x", "http://h:99999/v1"], "positive": ["0", "-1"],
                "device": ["gpu0"], "names": [""],
                "fraction": ["0", "1", "1.5"]}.get(cb, [])
    if desc.is_choice:
        return ["not-a-choice"]
    base = desc.annotation
    if base in (int, float):
        info = desc.parameter_info
        out = ["abc"]
        if info.min is not None:
            out.append(str(info.min - 1))
        if info.max is not None:
            out.append(str(info.max + 1))
        return out
    return []


def _walk_cases():
    for name, cmd in COMMANDS.items():
        for p in cmd.params:
            if p.name == "help":
                continue
            for bad in bad_values(p):
                yield pytest.param(name, p, bad, id=f"{name}:{p.opts[0] if p.opts else p.name}={bad!r}")





@pytest.fixture
def in_empty_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert list(tmp_path.iterdir()) == []  # nothing written by a refused command line


def test_the_walk_finds_every_verb_and_sub_verb():
    for name in ("ingest", "translate", "curate", "mix", "train", "eval", "judge", "run", "demo", "annotate serve",
                 "annotate tokens"):
        assert name in COMMANDS
    assert len(COMMANDS) >= 25


@pytest.mark.parametrize("name", list(COMMANDS))
def test_unknown_option(run_cli, in_empty_dir, name):
    code, out, err = run_cli(*name.split(), "--no-such-option")
    one_error_line(code, out, err, "--no-such-option", f"medinject {name} --help")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_missing_argument_or_option(run_cli, in_empty_dir, name):
    required = [p for p in COMMANDS[name].params if p.required]
    if not required:
        pytest.skip(f"{name} has no required argument")  # e.g. `demo`: without arguments it runs
    code, out, err = run_cli(*name.split())
    line = one_error_line(code, out, err, "Missing")
    assert any((p.opts and p.opts[0] in line) or p.name in line for p in required)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_option_without_its_value(run_cli, in_empty_dir, name):
    takes_value = [p for p in COMMANDS[name].params if p.opts and p.opts[0].startswith("-") and p.name != "help"
                   and not getattr(p, "is_flag", False) and p.type_descriptor.annotation is not bool]
    assert takes_value, f"{name} has no option taking a value"
    opt = takes_value[0].opts[0]
    code, out, err = run_cli(*name.split(), opt)
    one_error_line(code, out, err, f"'{opt}'", "requires an argument")


@pytest.mark.parametrize(("name", "param", "bad"), list(_walk_cases()))
def test_bad_value(run_cli, in_empty_dir, name, param, bad):
    if param.opts:
        args = [param.opts[0], bad]
        named = f"'{param.opts[0]}'"
    else:  # an argument: it comes first, before any missing option is reported
        args = [bad]
        named = f"'{param.name}'"
    code, out, err = run_cli(*name.split(), *args)
    one_error_line(code, out, err, "Invalid value for", named)


def test_every_verb_has_a_checked_value_or_option():
    """The walk above is not empty for the verbs with typed options."""
    checked = {c.values[0] for c in _walk_cases()}
    for name in ("ingest", "export", "toy-model", "translate", "synthesize", "curate", "mix", "eval", "score",
                 "compare", "judge", "agreement", "report", "annotate serve", "annotate tokens", "merge"):
        assert name in checked, name


def test_unknown_verb_and_sub_verb(run_cli, in_empty_dir):
    code, out, err = run_cli("ingset")
    one_error_line(code, out, err, "No such command 'ingset'", "Did you mean 'ingest'")
    code, out, err = run_cli("annotate", "serv")
    one_error_line(code, out, err, "No such command 'serv'")


def test_bare_medinject_and_bare_group_print_help(run_cli):
    code, out, err = run_cli()
    assert code == 0 and "Usage: medinject" in out and "ingest" in out and err == ""
    code, out, err = run_cli("annotate")
    assert code == 0 and "serve" in out and "tokens" in out


def test_version(run_cli):
    code, out, err = run_cli("--version")
    assert code == 0 and out.strip() == f"medinject {__version__}"


def test_choices_are_listed_in_help(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one row per option, whatever the terminal
    for name, cmd in COMMANDS.items():
        choices = [p for p in cmd.params if p.type_descriptor.is_choice]
        if not choices:
            continue
        code, out, _ = run_cli(*name.split(), "--help")
        assert code == 0
        for p in choices:
            listed = "|".join(str(getattr(c, "value", c)) for c in p.type_descriptor.choices)
            assert listed in out, (name, p.opts, listed)


def test_bad_choice_lists_the_valid_values(run_cli):
    code, out, err = run_cli("eval", "-m", "m", "-d", "x.jsonl", "-o", "o", "--engine", "vlm")
    one_error_line(code, out, err, "'--engine'", "'vlm' is not one of 'transformers', 'vllm'")
    code, out, err = run_cli("ingest", "x", "--origin", "machine")
    one_error_line(code, out, err, "'--origin'", "'native', 'translated', 'synthetic'")


def test_the_real_console_script_on_usage_errors(tmp_path):
    exe = Path(sys.executable).with_name("medinject")
    env = {**os.environ, "NO_COLOR": "1"}
    bad = subprocess.run([str(exe), "ingest", "--format"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "'--format'" in bad.stderr
    assert "Traceback" not in bad.stderr
    bare = subprocess.run([str(exe)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert bare.returncode == 0 and "Usage: medinject" in bare.stdout
    module = subprocess.run([sys.executable, "-m", "medinject.cli", "ingset"], capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    assert module.returncode == 2 and "No such command" in module.stderr
    assert list(tmp_path.iterdir()) == []


# The closed sets the command line lists are spelled out in cli_values (so `--help` imports nothing heavy);
# each must equal the registry it mirrors.
def test_choice_sets_match_their_registries():
    from medinject.backends import KINDS
    from medinject.evaluate.mcqa import MODES as DECODING
    from medinject.evaluate.metrics import CHOICE_ITEM_METRICS, OPEN_ITEM_METRICS
    from medinject.experiment.config import BackendSpec, EvaluateSpec, JudgeSpec, SourceFormat
    from medinject.export import FOLDER_LAYOUTS, LAYOUTS
    from medinject.ingest import FORMATS
    from medinject.judge.judge import PAIRWISE
    from medinject.judge.verdicts import MODES as JUDGE
    from medinject.toymodel import SIZES
    from medinject.train.config import TrainConfig
    from medinject.validate import Kind

    assert set(get_args(v.IngestFormat)) == {*FORMATS, "generic"}
    assert set(get_args(SourceFormat)) == {*get_args(v.IngestFormat), "records", "passages"}
    assert set(get_args(v.ExportLayout)) == {*LAYOUTS, *FOLDER_LAYOUTS}
    assert set(get_args(v.ToySize)) == set(SIZES)
    assert set(get_args(v.BackendKind)) == set(KINDS) == set(get_args(BackendSpec.model_fields["kind"].annotation))
    assert set(get_args(v.Dtype)) == set(get_args(TrainConfig.model_fields["dtype"].annotation))
    assert set(get_args(v.EvalMode)) == set(get_args(EvaluateSpec.model_fields["mode"].annotation))
    assert set(get_args(v.JudgeLang)) == set(get_args(JudgeSpec.model_fields["lang"].annotation))
    assert set(get_args(v.CompareMetric)) == {*CHOICE_ITEM_METRICS, *OPEN_ITEM_METRICS}
    assert set(get_args(v.Pairwise)) == set(PAIRWISE)
    # the paper judge rates on the binary scale
    assert set(v.JUDGE_MODES) == set(JUDGE) and set(get_args(v.Scale)) == set(JUDGE) - {"paper"}
    assert set(v.DECODING_MODES) == set(DECODING)
    assert set(get_args(v.FileKind)) == set(get_args(Kind))
