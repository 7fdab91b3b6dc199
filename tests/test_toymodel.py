"""The toy model loads like a hub model, offline, with a chat template and single-token answer letters."""

import os
import string

import pytest

from medinject.toymodel import toy_config


def test_cli_builds_a_model_that_loads_offline_and_generates(tmp_path, run_cli):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    code, stdout, _ = run_cli("toy-model", tmp_path / "m")
    assert code == 0 and "toy model (tiny)" in stdout
    # Readable like any file the user writes: transformers saves its weights owner-only (0600).
    umask = os.umask(0)
    os.umask(umask)
    assert {f.name: f.stat().st_mode & 0o777 for f in (tmp_path / "m").iterdir()}["model.safetensors"] == \
        0o666 & ~umask
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    tok = AutoTokenizer.from_pretrained(tmp_path / "m")
    assert model.config.model_type == "qwen3"
    msgs = [{"role": "system", "content": "Vous êtes médecin."}, {"role": "user", "content": "Fièvre ?"}]
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\nVous êtes médecin.<|im_end|>\n<|im_start|>user\nFièvre ?<|im_end|>\n"
                    "<|im_start|>assistant\n")
    ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert ids["input_ids"].shape[1] < out.shape[1] <= ids["input_ids"].shape[1] + 3


def test_generation_markers_give_an_assistant_mask(toy_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(toy_model)
    msgs = [{"role": "user", "content": "Question : A ou B ?"}, {"role": "assistant", "content": "A, C"}]
    enc = tok.apply_chat_template(msgs, return_dict=True, return_assistant_tokens_mask=True)
    masked = [t for t, m in zip(enc["input_ids"], enc["assistant_masks"], strict=True) if m]
    assert tok.decode(masked) == "A, C<|im_end|>"


def test_answer_letters_are_distinct_single_tokens(toy_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(toy_model)
    bare = [tok.encode(c, add_special_tokens=False) for c in string.ascii_uppercase]
    spaced = [tok.encode(" " + c, add_special_tokens=False) for c in string.ascii_uppercase]
    assert all(len(x) == 1 for x in bare + spaced)
    assert len({x[0] for x in bare + spaced}) == 52


@pytest.mark.parametrize("size, low, high", [("tiny", 0.8e6, 1.3e6), ("small", 17e6, 24e6)])
def test_parameter_counts(size, low, high):
    import torch
    from transformers import Qwen3ForCausalLM

    config, _ = toy_config(size)
    with torch.device("meta"):
        model = Qwen3ForCausalLM(config)
    n = sum(p.numel() for p in model.parameters())
    assert low <= n <= high, f"{size}: {n:,} parameters"
