"""Fine-tuning end to end on the tiny toy model: learning, outputs, determinism, kill/resume, merge, errors."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medinject.io import load_records, sha256_file, write_records
from medinject.records import Origin

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models train faster on one thread, and the subprocess in the resume test must reduce in the same order."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(shared_data, tmp_path_factory):
    from medinject.ingest import get_importer

    d = tmp_path_factory.mktemp("train_data")
    read = get_importer("frenchmedmcqa")
    # the shortest questions keep the runs cheap
    train = sorted(read(shared_data / "frenchmedmcqa" / "train.json", origin="native"),
                   key=lambda r: len(r.question) + sum(map(len, r.options.values())))[:8]
    dev = [r for r in read(shared_data / "frenchmedmcqa" / "dev.json", origin="native", split="dev")][:4]
    # a second provenance, so the manifest has something to count
    train[:3] = [r.model_copy(update={"origin": Origin.SYNTHETIC, "source": "toy-synth"}) for r in train[:3]]
    write_records(d / "train.jsonl", train)
    write_records(d / "dev.jsonl", dev)
    return d


def settings(toy_model, data, out, **kw):
    # 8 records, 2 x 2 per step: 2 steps per epoch, 5 epochs; a high rate so a tiny model visibly learns.
    s = dict(model=str(toy_model), data=str(data / "train.jsonl"), eval_data=str(data / "dev.jsonl"),
             output_dir=str(out), max_steps=10, per_device_train_batch_size=2, gradient_accumulation_steps=2,
             learning_rate=1e-2, warmup_steps=0, max_length=512, logging_steps=1, save_steps=2,
             save_total_limit=None, adapter={"r": 8, "lora_alpha": 16})
    s.update(kw)
    return s


@pytest.fixture(scope="module")
def run_a(toy_model, data, tmp_path_factory):
    from medinject.train import train

    return train(settings(toy_model, data, tmp_path_factory.mktemp("a") / "run"))


def losses(out: Path) -> list[float]:
    return [p[1] for p in json.loads((out / "manifest.json").read_text())["loss_curves"]["train"]]


def adapter_tensors(out: Path):
    from safetensors.torch import load_file

    return load_file(out / "adapter_model.safetensors")


def test_loss_falls_and_outputs_are_complete(run_a, data, toy_model):
    out = run_a
    curve = losses(out)
    assert len(curve) == 10 and sum(curve[-3:]) / 3 < 0.8 * curve[0]
    assert json.loads((out / "manifest.json").read_text())["data"]["train"]["encoded"] == 8
    for f in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json",
              "README.md", "manifest.json", "loss.png"):
        assert (out / f).is_file(), f
    m = json.loads((out / "manifest.json").read_text())
    assert m["config"]["model"] == str(toy_model) and m["config"]["adapter"]["use_dora"] is True
    assert m["data"]["train"]["files"][0]["sha256"] == sha256_file(data / "train.jsonl")
    assert m["data"]["train"]["counts"]["origin"] == {"native": 5, "synthetic": 3}
    assert m["data"]["train"]["counts"]["source"] == {"frenchmedmcqa": 5, "toy-synth": 3}
    assert sum(m["data"]["train"]["counts"]["task"].values()) == 8
    evals = m["loss_curves"]["eval"]
    assert len(evals) == 5 and m["results"]["global_step"] == 10  # one eval per epoch
    assert m["results"]["eval_loss"] == evals[-1][1] < evals[0][1]
    # 5 whole epochs over 8 records: the non-padding tokens are exactly five times the data's
    assert m["results"]["tokens_seen"] == 5 * m["data"]["train"]["tokens"]
    assert m["results"]["train_loss"] == pytest.approx(curve[-1])
    assert {"torch", "transformers", "trl", "peft"} <= set(m["versions"]) and m["wall_time_s"] > 0
    assert "git" in m and m["effective_batch"] == 4
    card = (out / "README.md").read_text()
    assert "base_model: " + str(toy_model) in card and "native 5, synthetic 3" in card and "DoRA" in card


def test_adapter_loads_with_peft(run_a, toy_model):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg = json.loads((run_a / "adapter_config.json").read_text())
    assert cfg["use_dora"] and cfg["r"] == 8 and cfg["base_model_name_or_path"] == str(toy_model)
    base = AutoModelForCausalLM.from_pretrained(toy_model)
    ids = torch.tensor([[1, 50, 60, 70, 2]])
    with torch.no_grad():
        before = base(ids).logits
        tuned = PeftModel.from_pretrained(base, str(run_a))(ids).logits
    assert not torch.allclose(before, tuned, atol=1e-3)


def test_resume_after_kill_matches_uninterrupted(run_a, toy_model, data, tmp_path):
    """A second process with the same config logs the same losses (determinism); killed and resumed, it ends
    with the same adapter as the uninterrupted run."""
    from medinject.train import train
    from medinject.train.recipe import last_checkpoint

    out = tmp_path / "c"
    s = settings(toy_model, data, out)
    args = [f"{k}={json.dumps(v)}" for k, v in s.items()]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "medinject.cli", "train", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while last_checkpoint(out) is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    ckpt = last_checkpoint(out)
    assert ckpt is not None and not (out / "manifest.json").exists()
    assert int(ckpt.name.split("-")[1]) < 10
    before = json.loads((ckpt / "trainer_state.json").read_text())["log_history"]
    n = int(ckpt.name.split("-")[1])
    assert [h["loss"] for h in before if "loss" in h] == pytest.approx(losses(run_a)[:n], abs=1e-6)
    # without --resume the interrupted run is protected
    from medinject.errors import InputError

    with pytest.raises(InputError, match="--resume"):
        train(s)
    train({**s, "resume": True})
    m = json.loads((out / "manifest.json").read_text())
    assert m["resumed_from"] == str(ckpt) and m["results"]["global_step"] == 10
    assert m["results"]["tokens_seen"] == json.loads((run_a / "manifest.json").read_text())["results"]["tokens_seen"]
    a, c = adapter_tensors(run_a), adapter_tensors(out)
    assert a.keys() == c.keys()
    for k in a:
        assert (a[k] - c[k]).abs().max().item() < 1e-5, k
    assert losses(out) == pytest.approx(losses(run_a), abs=1e-5)


def test_merge_gives_base_plus_adapter_logits(run_a, toy_model, tmp_path, run_cli):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    code, out, err = run_cli("merge", run_a, "-o", tmp_path / "merged")
    assert code == 0, err
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(toy_model), str(run_a))
    ids = torch.tensor([[1, 85, 411, 276, 79, 201, 53, 411, 2, 201, 1, 367, 85, 431]])
    with torch.no_grad():
        a, b = merged(ids).logits, peft_model(ids).logits
    assert (a - b).abs().max().item() < 1e-4
    assert (tmp_path / "merged" / "tokenizer.json").exists()
    code, _, err = run_cli("merge", run_a, "-o", tmp_path / "merged")
    assert code == 2 and "not empty" in err


def test_paper_config_runs_on_cpu_with_small_overrides(toy_model, data, tmp_path, run_cli):
    out = tmp_path / "paper"
    code, _, err = run_cli("train", "--config", REPO / "configs" / "train" / "paper.yaml", f"model={toy_model}",
                           f"data={data / 'train.jsonl'}", f"output_dir={out}", "max_steps=5",
                           "per_device_train_batch_size=2", "global_batch_size=2", "max_length=512")
    assert code == 0, err
    assert (out / "adapter_model.safetensors").exists() and (out / "manifest.json").exists()
    m = json.loads((out / "manifest.json").read_text())
    assert m["results"]["global_step"] == 5
    assert m["recipe"]["name"] == "paper" and m["recipe"]["pad_token"] == "[PAD]"
    assert m["recipe"]["padding_side"] == "right" and m["recipe"]["train_sampling_strategy"] == "group_by_length"
    assert m["recipe"]["embeddings_resized"] == {"rows_before": 2048, "rows_after": 2049}
    assert m["batch"] == {"sequences_per_step": 2, "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1,
                          "world_size": 1, "accumulation": "derived from global_batch_size", "global_batch_size": 2}
    # loss on every token: the label tokens are all the tokens
    assert m["data"]["train"]["label_tokens"] == m["data"]["train"]["tokens"]
    # the adapter, saved with its resized embeddings, loads onto the base model for evaluation and merging
    from medinject.evaluate.decoding import load_model

    lm, _ = load_model(str(toy_model), str(out), device="cpu")
    assert lm.get_input_embeddings().weight.shape[0] == 2049
    code, _, err = run_cli("merge", out, "-o", tmp_path / "merged")
    assert code == 0, err
    # a finished run is never overwritten
    code, _, err = run_cli("train", f"model={toy_model}", f"data={data / 'train.jsonl'}", f"output_dir={out}")
    assert code == 2 and "finished" in err and err.strip().count("\n") == 0


REFUSING_TEMPLATE = ("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
                     "{% endif %}{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] | trim "
                     "+ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
                     "{% endif %}")


def test_a_template_refusing_the_system_turn_trains_with_it_folded(toy_model, data, tmp_path, run_cli):
    template = tmp_path / "no_system.jinja"
    template.write_text(REFUSING_TEMPLATE)
    out = tmp_path / "folded"
    code, _, err = run_cli("train", f"model={toy_model}", f"data={data / 'train.jsonl'}", f"output_dir={out}",
                           f"chat_template={template}", "max_steps=1", "per_device_train_batch_size=2",
                           "global_batch_size=2", "max_length=512")
    assert code == 0, err
    m = json.loads((out / "manifest.json").read_text())
    assert m["data"]["train"]["system_folded"] == m["data"]["train"]["encoded"] == 8


def test_user_errors_exit_2(toy_model, data, tmp_path, run_cli):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    bare = tmp_path / "bare"
    shutil.copytree(toy_model, bare)
    (bare / "chat_template.jinja").unlink(missing_ok=True)
    tc = json.loads((bare / "tokenizer_config.json").read_text())
    tc.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(tc))
    common = [f"output_dir={tmp_path / 'o'}", "max_steps=1"]
    cases = [
        ([f"model={toy_model}", f"data={tmp_path / 'missing.jsonl'}"], "file not found"),
        ([f"model={toy_model}", f"data={empty}"], "empty file"),
        ([f"model={toy_model}", f"data={data / 'train.jsonl'}", "adapter.target_modules=[q_proj, w_gate]"],
         "no module named w_gate"),
        ([f"model={bare}", f"data={data / 'train.jsonl'}"], "no chat template; give one with chat_template=FILE"),
        ([f"model={toy_model}", f"data={data / 'train.jsonl'}", "adapter.lora_dropout=lots"], "adapter.lora_dropout"),
    ]
    for args, words in cases:
        code, _, err = run_cli("train", *args, *common)
        assert code == 2, (args, err)
        assert words in err and err.strip().count("\n") == 0 and "Traceback" not in err, err
    assert not (tmp_path / "o" / "manifest.json").exists()
    assert load_records(data / "train.jsonl")  # inputs untouched


def test_medinject_eval_loads_the_adapter(run_a, toy_model, data, tmp_path, run_cli):
    code, _, err = run_cli("eval", "--model", toy_model, "--adapter", run_a, "--data", data / "dev.jsonl",
                           "-o", tmp_path / "ev", "--limit", "2", "--n-boot", "10", "--bertscore-model", "none",
                           "--no-progress")
    assert code == 0, err
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["settings"]["adapter"] == str(run_a)


def test_same_command_under_a_distributed_launcher(toy_model, data, tmp_path):
    """Two data-parallel processes (gloo on CPU): one adapter, one manifest, the batch counted over both ranks."""
    out = tmp_path / "ddp"
    args = [f"model={toy_model}", f"data={data / 'train.jsonl'}", f"output_dir={out}", "max_steps=2",
            "per_device_train_batch_size=2", "global_batch_size=4", "max_length=512", "use_cpu=true",
            "ddp_backend=gloo", "save_steps=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = Path(sys.executable).with_name("torchrun")
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "medinject.cli", "train",
                           *args], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = json.loads((out / "manifest.json").read_text())
    assert m["world_size"] == 2 and m["effective_batch"] == 4
    assert m["batch"]["gradient_accumulation_steps"] == 1  # 4 sequences per step = 2 per device x 2 processes
    # two steps of 2 sequences on each of 2 ranks: the 8 records, each seen once, counted over both ranks
    assert m["results"]["global_step"] == 2 and m["results"]["epochs"] == pytest.approx(1.0)
    assert m["results"]["tokens_seen"] == m["data"]["train"]["tokens"]
    assert (out / "adapter_model.safetensors").exists() and (out / "checkpoint-2").is_dir()
