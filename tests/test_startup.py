"""Start-up cost: `--help` and verbs that draw nothing load none of the heavy scientific libraries."""

import subprocess
import sys

import pytest

from medinject.cli import COMMAND_MODULES, _register, app

HEAVY = ("matplotlib", "numpy", "scipy", "torch", "transformers")

PROBE = """
import contextlib, io, sys
heavy = set(sys.argv.pop(1).split(","))
from medinject.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(code, sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))
"""


def _loaded(*args: str) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE, ",".join(HEAVY), *args], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip().splitlines()[-1]


def _verbs() -> list[str]:
    _register()
    verbs = [c.name or c.callback.__name__ for c in app.registered_commands]
    verbs += [g.name for g in app.registered_groups]
    assert len(COMMAND_MODULES) > 5 and "report" in verbs
    return verbs


def test_import_loads_nothing_heavy():
    code = f"import sys, medinject.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_loads_nothing_heavy():
    assert _loaded("--help") == "0 []"


@pytest.mark.parametrize("verb", _verbs())
def test_verb_help_loads_nothing_heavy(verb):
    assert _loaded(verb, "--help") == "0 []"


def test_verb_that_draws_nothing_loads_nothing_heavy(tmp_path):
    from medinject.demo import sample_dir

    assert _loaded("stats", str(sample_dir() / "native.jsonl")) == "0 []"
    assert _loaded("validate", str(sample_dir() / "eval.jsonl")) == "0 []"


def test_no_global_matplotlib_state_in_src():
    from pathlib import Path

    import medinject

    src = Path(medinject.__file__).parent
    for path in src.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "matplotlib.use(" not in text, path
        assert "pyplot" not in text.replace("no pyplot", ""), path


def test_every_llm_verb_takes_the_same_backend_options():
    import click
    import typer.main

    from medinject.backends.options import SHARED

    _register()
    group = typer.main.get_command(app)
    ctx = click.Context(group)
    wanted = {"--" + name.replace("_", "-") for name, _, _ in SHARED}
    for verb in ("translate", "translate-eval", "synthesize", "judge"):
        opts = {o for p in group.get_command(ctx, verb).params for o in p.opts}
        assert wanted <= opts, (verb, wanted - opts)
    curate = {o for p in group.get_command(ctx, "curate").params for o in p.opts}  # its optional quality judge
    assert {w.replace("--", "--judge-", 1) for w in wanted} <= curate


def test_canonical_json_hash_is_the_request_cache_key():
    import hashlib
    import json

    from medinject.backends.base import ChatRequest
    from medinject.hashing import canonical_json, json_hash

    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    r = ChatRequest(messages=[{"role": "user", "content": "Bonjour"}], max_tokens=7)
    payload = {"messages": r.messages, "max_tokens": 7, "temperature": 0.0, "json_schema": None, "seed": None,
               "model": "m"}
    assert r.cache_key("m") == json_hash(payload)
    assert json_hash(payload) == hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"))
                                                .encode()).hexdigest()


def test_one_override_parser_for_experiments_training_and_curation():
    import re

    import pytest as _pytest

    from medinject.curate.commands import parse_sets
    from medinject.errors import MedinjectError
    from medinject.overrides import parse_overrides
    from medinject.train.config import parse_overrides as train_overrides

    items = ["a.b=5", "a.c=[x, y]", "d=true", "e="]
    want = {"a": {"b": 5, "c": ["x", "y"]}, "d": True, "e": None}
    assert parse_overrides(items) == train_overrides(items) == parse_sets(items) == want
    for bad in ("nokey", "=1", "a..b=1", "a=[unclosed"):
        with _pytest.raises(MedinjectError, match=re.escape(repr(bad))):
            parse_overrides([bad])
