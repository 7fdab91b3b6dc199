"""Values are checked where they are typed: each command line below is valid but for one value, which must be
refused with one line naming it, exit 2, no traceback, and nothing written (the output would be under out/)."""

from __future__ import annotations

import json

import pytest
from cli_checks import one_error_line

RECORD = {"id": "r1", "task": "mcqu", "question": "Q ?", "options": {"A": "a", "B": "b"}, "answer": ["A"],
          "origin": "native", "source": "t"}
PASSAGE = {"id": "p1", "text": "Un patient de 60 ans consulte pour une douleur thoracique.", "source": "t"}
PRED = {"id": "r1", "task": "mcqu", "gold": ["A"], "pred": ["A"]}

TRANSLATE = "translate {in}/r.jsonl -o {out}/fr.jsonl --model m --base-url http://127.0.0.1:9/v1"
SYNTH = "synthesize {in}/p.jsonl -o {out}/s.jsonl --model m --base-url http://127.0.0.1:9/v1"
EVAL = "eval -m {in}/model -d {in}/r.jsonl -o {out}/e"
JUDGE = "judge {in}/pred.jsonl -o {out}/j --model m --base-url http://127.0.0.1:9/v1"
TRAIN = "train model={in}/model data={in}/r.jsonl output_dir={out}/t max_steps=1"

# name: (command line with {in} and {out}, what the error line must hold)
CASES = {
    "--limit 0": (TRANSLATE + " --limit 0", ["'--limit'", "greater than or equal to 1"]),
    "--limit -3 (synthesize)": (SYNTH + " --limit -3", ["'--limit'"]),
    "--max-tokens 0": (TRANSLATE + " --max-tokens 0", ["'--max-tokens'"]),
    "--concurrency 0": (TRANSLATE + " --concurrency 0", ["'--concurrency'"]),
    "--timeout 0": (TRANSLATE + " --timeout 0", ["'--timeout'", "must be > 0"]),
    "--timeout -5": (SYNTH + " --timeout -5", ["'--timeout'", "must be > 0"]),
    "--max-retries -1": (TRANSLATE + " --max-retries -1", ["'--max-retries'"]),
    "--batch-size 0 (backend)": (TRANSLATE + " --batch-size 0", ["'--batch-size'"]),
    "--base-url not a URL": ("translate {in}/r.jsonl -o {out}/fr.jsonl --model m --base-url localhost:8000",
                             ["'--base-url'", "not an http(s) URL"]),
    "--base-url bad port": (JUDGE.replace(":9/", ":123456/"), ["'--base-url'", "bad port"]),
    "--per-passage 0": (SYNTH + " --per-passage 0", ["'--per-passage'"]),
    "--n-boot 0 (eval)": (EVAL + " --n-boot 0", ["'--n-boot'"]),
    "--n-boot 0 (score)": ("score {in}/pred.jsonl -o {out}/s.json --n-boot 0", ["'--n-boot'"]),
    "--n-boot -1 (judge)": (JUDGE + " --n-boot -1", ["'--n-boot'"]),
    "--batch-size 0 (eval)": (EVAL + " --batch-size 0", ["'--batch-size'"]),
    "--limit 0 (eval)": (EVAL + " --limit 0", ["'--limit'"]),
    "--max-new-tokens 0": (EVAL + " --max-new-tokens 0", ["'--max-new-tokens'"]),
    "unknown device": (EVAL + " --device gpu", ["'--device'", "unknown device 'gpu'"]),
    "unknown dtype": (EVAL + " --dtype fp16", ["'--dtype'", "'auto', 'float32', 'bfloat16', 'float16'"]),
    "empty --modes (eval)": (EVAL + " --modes ,", ["'--modes'", "empty list"]),
    "unknown decoding mode": (EVAL + " --modes constrained,beam", ["'--modes'", "'beam' is not one of"]),
    "empty --modes (judge)": (JUDGE + " --modes=", ["'--modes'", "empty list"]),
    "--concurrency 0 (judge)": (JUDGE + " --concurrency 0", ["'--concurrency'"]),
    "empty --configs": ("mix -o {out}/m --native {in}/r.jsonl --size 1 --configs=", ["'--configs'", "empty list"]),
    "repeated mix name": ("mix -o {out}/m --native {in}/r.jsonl --size 1 --configs NAT,NAT",
                          ["'--configs'", "listed twice"]),
    "--size 0 (mix)": ("mix -o {out}/m --native {in}/r.jsonl --size 0", ["'--size'"]),
    "port above 65535": ("annotate serve {in}/pred.jsonl --annotators {in}/a.yaml --db {out}/r.sqlite "
                         "--port 65536", ["'--port'", "65535"]),
    "negative port": ("annotate serve {in}/pred.jsonl --annotators {in}/a.yaml --db {out}/r.sqlite --port -1",
                      ["'--port'"]),
    "duplicate annotator": ("annotate tokens ann1 ann2 ann1 -o {out}/a.yaml", ["'names'", "'ann1' is given twice"]),
    "empty annotator name": ("annotate tokens ann1 '' -o {out}/a.yaml", ["'names'", "empty name"]),
    "--threshold above 1": ("curate {in}/r.jsonl -o {out}/c --threshold 1.5", ["'--threshold'", "between 0 and 1"]),
    "--workers 0": ("curate {in}/r.jsonl -o {out}/c --workers 0", ["'--workers'"]),
    "epochs 0": (TRAIN.replace("max_steps=1", "num_train_epochs=0"), ["num_train_epochs", "must be > 0"]),
    "train batch size 0": (TRAIN + " per_device_train_batch_size=0", ["per_device_train_batch_size", ">= 1"]),
    "LoRA rank 0": (TRAIN + " adapter.r=0", ["adapter.r", "must be >= 1"]),
    "learning rate negative": (TRAIN + " learning_rate=-0.1", ["learning_rate", "must be > 0"]),
    # NaN compares False with every bound, and an infinite learning rate trains to an adapter of NaN weights.
    "learning rate inf": (TRAIN + " learning_rate=inf", ["learning_rate", "must be a finite number"]),
    "learning rate nan": (TRAIN + " learning_rate=nan", ["learning_rate", "must be a finite number"]),
    "epochs nan": (TRAIN.replace("max_steps=1", "num_train_epochs=nan"), ["num_train_epochs", "finite"]),
    "weight decay nan": (TRAIN + " weight_decay=nan", ["weight_decay", "must be a finite number"]),
    "max grad norm -inf": (TRAIN + " max_grad_norm=-inf", ["max_grad_norm", "must be a finite number"]),
    "LoRA dropout nan": (TRAIN + " adapter.lora_dropout=nan", ["adapter.lora_dropout", "finite"]),
    "--timeout inf": (TRANSLATE + " --timeout inf", ["'--timeout'", "must be a finite number"]),
    "--timeout nan": (JUDGE + " --timeout nan", ["'--timeout'", "must be a finite number"]),
    "unknown train dtype": (TRAIN + " dtype=half", ["dtype"]),
    "unknown merge dtype": ("merge {in}/model -o {out}/merged --dtype half", ["'--dtype'"]),
}


def _setup(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    (src / "r.jsonl").write_text(json.dumps(RECORD) + "\n")
    (src / "p.jsonl").write_text(json.dumps(PASSAGE, ensure_ascii=False) + "\n")
    (src / "pred.jsonl").write_text(json.dumps(PRED) + "\n")
    (src / "a.yaml").write_text("- {name: ann1, token: abcdefghijklmnop}\n")
    (src / "model").mkdir()
    return src, out


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_value_is_one_line_exit_2_and_nothing_written(tmp_path, run_cli, monkeypatch, name):
    import shlex

    src, out = _setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    line, expect = CASES[name]
    argv = [a.replace("{in}", str(src)).replace("{out}", str(out)) for a in shlex.split(line)]
    code, stdout, stderr = run_cli(*argv)
    one_error_line(code, stdout, stderr, *expect)
    assert list(out.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]


def test_good_values_at_the_edge_of_the_ranges_pass_the_parser(tmp_path, run_cli):
    """The lowest allowed values are not refused (the command then fails later, for want of a server)."""
    from medinject import cli_values as v

    assert v.value_problem("limit", 1) is None and v.value_problem("max_retries", 0) is None
    assert v.value_problem("permute", 0) is None and v.value_problem("timeout", 0.001) is None
    assert v.value_problem("device", "cuda:1") is None and v.value_problem("device", "auto") is None
    assert v.value_problem("timeout", 0) == "must be > 0, got 0"
    assert v.value_problem("modes", []) is not None and v.value_problem("modes", ["greedy"]) is None
    assert v.device("auto") is None  # auto is the default: cuda when available
