"""LLM backends shared by every stage that calls a model.

`make_backend` is the one place that turns a kind and a model into a backend; stages take a
`BackendSpec` (plain data, fit for configs and the experiment runner) and call `spec.build()`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MedinjectError
from .base import Backend, ChatRequest, ChatResponse
from .cache import RequestCache, default_cache_path, open_cache

KINDS = ("openai", "transformers", "vllm")

__all__ = ["KINDS", "Backend", "BackendSpec", "ChatRequest", "ChatResponse", "RequestCache", "default_cache_path",
           "make_backend", "open_cache"]


def make_backend(kind: str, model: str, *, base_url: str | None = None, api_key_env: str | None = None,
                 cache: RequestCache | str | Path | bool | None = True, concurrency: int = 8,
                 prices: dict[str, Any] | None = None, **opts: Any) -> Backend:
    """A backend of `kind` (openai, transformers or vllm). `cache=True` uses the shared default cache file."""
    if kind == "openai":
        from .openai_api import OpenAIBackend

        return OpenAIBackend(model, base_url=base_url, api_key_env=api_key_env, cache=cache,
                             concurrency=concurrency, prices=prices, **opts)
    if base_url is not None:
        raise MedinjectError(f"--base-url applies to the openai backend only, not {kind!r}")
    if kind == "transformers":
        from .transformers_local import TransformersBackend

        return TransformersBackend(model, cache=cache, **opts)
    if kind == "vllm":
        from .vllm_local import VLLMBackend

        return VLLMBackend(model, cache=cache, **opts)
    raise MedinjectError(f"unknown backend {kind!r}; known backends: {', '.join(KINDS)}")


@dataclass
class BackendSpec:
    """Everything needed to build a backend, as plain values (the API key itself is never here)."""

    kind: str = "openai"
    model: str = ""
    base_url: str | None = None
    api_key_env: str | None = None
    cache: str | None = None  # path; None = the default shared cache; "off" disables it
    concurrency: int = 8
    prices: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # timeout, max_retries, batch_size, device...
    # Set by the command line (backends.options.llm_options): the prices file read and the cache file written.
    files: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def build(self) -> Backend:
        if not self.model:
            raise MedinjectError("a model name is required (--model)")
        cache: Any = True if self.cache is None else (False if self.cache == "off" else self.cache)
        return make_backend(self.kind, self.model, base_url=self.base_url, api_key_env=self.api_key_env,
                            cache=cache, concurrency=self.concurrency, prices=self.prices, **self.options)

    def describe(self) -> dict[str, Any]:
        """What a manifest may record: no key, only the name of its variable."""
        d = asdict(self)
        d.pop("prices", None)
        d.pop("files", None)
        return d

    @classmethod
    def coerce(cls, spec: BackendSpec | dict[str, Any]) -> BackendSpec:
        return spec if isinstance(spec, cls) else cls(**spec)
