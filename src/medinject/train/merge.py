"""Fold a trained adapter into its base weights: a plain model folder that any transformers loader reads."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import InputError

DTYPES = ("auto", "float32", "bfloat16", "float16")


def adapter_base(adapter_dir: Path) -> str:
    cfg_file = adapter_dir / "adapter_config.json"
    try:
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(adapter_dir, "not a PEFT adapter folder (no adapter_config.json)") from None
    except ValueError as e:
        raise InputError(cfg_file, f"malformed JSON ({e})") from None
    base = cfg.get("base_model_name_or_path")
    if not base:
        raise InputError(cfg_file, "no base model recorded; pass --base", field="base_model_name_or_path")
    return base


def adapter_vocab_rows(adapter_dir: str | Path) -> int | None:
    """Rows of the embedding matrix an adapter saved with itself (a run that added a pad token), else None."""
    weights = Path(adapter_dir) / "adapter_model.safetensors"
    if not weights.exists():
        return None
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as f:
        for key in f.keys():
            if key.endswith("embed_tokens.weight"):
                return int(f.get_slice(key).get_shape()[0])
    return None


def attach_adapter(model, adapter_dir: str | Path):
    """`PeftModel.from_pretrained(model, adapter_dir)`, first resizing the base embeddings when the adapter was
    trained with an added token (the paper recipe's pad token) and saved its embeddings."""
    from peft import PeftModel

    rows = adapter_vocab_rows(adapter_dir)
    if rows is not None and rows != model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(rows)
    return PeftModel.from_pretrained(model, str(adapter_dir))


def merge_adapter(adapter_dir: str | Path, out: str | Path, *, base: str | None = None,
                  dtype: str = "auto") -> Path:
    """Write base model + adapter, merged, to `out` (with the adapter's tokenizer). Refuses a non-empty `out`."""
    import torch

    try:
        import peft  # noqa: F401
    except ImportError:
        raise InputError(None, "merging needs peft: pip install 'medinject[train]'") from None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter_dir, out = Path(adapter_dir), Path(out)
    if dtype not in DTYPES:
        raise InputError(None, f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}", field="dtype")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(out, "exists and is not empty; choose another output folder")
    base = base or adapter_base(adapter_dir)
    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch_dtype)
    except (OSError, ValueError) as e:
        raise InputError(None, f"cannot load the base model {base!r} ({str(e).splitlines()[0]})",
                         field="base") from None
    from ..libwarnings import quiet_library_deprecations

    with quiet_library_deprecations():
        model = attach_adapter(model, adapter_dir).merge_and_unload()
    tokenizer_src = adapter_dir if (adapter_dir / "tokenizer_config.json").exists() else base
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_src))
    # Build beside the target and rename, so a failure never leaves a half-written model.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
