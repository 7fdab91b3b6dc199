"""Where a local model comes from: a folder that must exist, or a hub id that must be reachable or cached.

transformers answers a mistyped folder with a message about hub ids, and an unreachable hub with half a
minute of retries; both become one line here, before anything is loaded.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from ..errors import InputError, MedinjectError

HUB_PROBE_TIMEOUT_S = 3.0


def _offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on")
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _looks_local(ref: str) -> bool:
    """A reference that can only mean a folder: absolute, relative with ./ or ../, ~, or more than org/name."""
    return (ref.startswith(("/", "./", "../", "~", ".\\")) or ref.endswith(("/", "\\")) or ref.count("/") > 1
            or "\\" in ref or ref in (".", ".."))


def _cached(ref: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    hit = try_to_load_from_cache(ref, "config.json")
    return isinstance(hit, str)


def _hub_reachable() -> bool:
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def check_model_ref(ref: str) -> None:
    """One-line error, at once, for a folder that does not exist or a hub id that cannot be fetched."""
    if Path(ref).expanduser().exists():
        return
    if _looks_local(ref):
        raise MedinjectError(f"model folder {ref!r} does not exist")
    if _cached(ref):
        return
    if _offline():
        raise MedinjectError(f"model {ref!r} is no local folder and not in the hub cache, and the hub is off "
                             "(HF_HUB_OFFLINE=1): give a model folder or download it first")
    if not _hub_reachable():
        raise MedinjectError(f"model {ref!r} is no local folder and not in the hub cache, and the hub cannot be "
                             "reached (no network?): give a model folder or download it first")


def model_load_error(ref: str, exc: BaseException) -> MedinjectError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return MedinjectError(f"cannot load model {ref!r}: {first}")


def read_chat_template(path: str | Path) -> str:
    """The text of a Jinja chat template file (`--chat-template FILE`)."""
    from ..io import read_text

    path = Path(path)
    text = read_text(path, "chat template file")
    if not text.strip():
        raise InputError(path, "chat template file is empty")
    return text


def cache_arg(model) -> str:
    """The name of a causal LM's key/value cache argument: `cache` in recent transformers, `past_key_values` in
    earlier 5.x releases."""
    import inspect

    key = getattr(model, "_medinject_cache_arg", None)
    if key is None:
        key = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        model._medinject_cache_arg = key
    return key


def returned_cache(out):
    """The key/value cache a forward pass returned, under either name."""
    new = getattr(out, "cache", None)
    return new if new is not None else out.past_key_values
