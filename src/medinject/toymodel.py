"""A randomly initialised Qwen3-architecture model with a real tokenizer, built offline.

Tests and benchmarks need a causal LM that loads through `from_pretrained` exactly like a hub model,
without any download. The weights are random: its scores mean nothing.
"""

from __future__ import annotations

import string
from importlib import resources
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Qwen-style ChatML; the {% generation %} markers let TRL compute assistant-only loss masks.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

SIZES = {
    # ~1M parameters: unit and end-to-end tests.
    "tiny": dict(vocab=2048, hidden_size=128, intermediate_size=320, num_hidden_layers=4,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=32),
    # ~20M parameters: benchmarks.
    "small": dict(vocab=8192, hidden_size=512, intermediate_size=1536, num_hidden_layers=6,
                  num_attention_heads=8, num_key_value_heads=2, head_dim=64),
}


# The evaluator scores answer letters as single tokens, both bare ("A") and after a space (" A"):
# repeating them makes BPE learn every " X" merge whatever the corpus.
LETTER_LINES = [" " + " ".join(string.ascii_uppercase), ", ".join(string.ascii_uppercase)] * 4


def training_texts() -> list[str]:
    """French text shipped in the package: the corpus plus the sample records' fields."""
    root = resources.files("medinject") / "data"
    texts = [line for line in (root / "corpus_fr.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    texts.extend(LETTER_LINES)
    sample = root / "sample"
    if sample.is_dir():
        for f in sorted(sample.iterdir(), key=lambda p: p.name):
            if f.name.endswith(".jsonl"):
                texts.extend(f.read_text(encoding="utf-8").splitlines())
    return texts


def build_tokenizer(vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2,
    )
    tok.train_from_iterator(training_texts(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"], chat_template=CHAT_TEMPLATE,
        padding_side="left", model_max_length=4096,
    )


def toy_config(size: str = "tiny"):
    """(Qwen3Config, tokenizer) of a toy size; the vocabulary is whatever BPE learns from the shipped text."""
    if size not in SIZES:
        from .errors import MedinjectError

        raise MedinjectError(f"unknown toy-model size {size!r}; choose one of {', '.join(SIZES)}")
    from transformers import Qwen3Config

    spec = dict(SIZES[size])
    tokenizer = build_tokenizer(spec.pop("vocab"))
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    config = Qwen3Config(
        vocab_size=len(tokenizer), max_position_embeddings=4096, tie_word_embeddings=False,
        bos_token_id=pad, eos_token_id=eos, pad_token_id=pad, **spec,
    )
    return config, tokenizer


def build_toy_model(out: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    from .io import atomic_folder, require_new_folder

    require_new_folder(out)
    config, tokenizer = toy_config(size)
    import torch
    from transformers import GenerationConfig, Qwen3ForCausalLM

    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    # Untied output layer: with random tied embeddings every prompt decodes to the same newline token,
    # which leaves nothing for the evaluator, judge or report to show.
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[eos, pad], pad_token_id=pad, bos_token_id=pad, do_sample=False,
    )
    with atomic_folder(out) as tmp:  # never into a folder that holds anything, never half a model
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(out)
