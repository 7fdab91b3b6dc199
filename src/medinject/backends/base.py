"""The one small protocol every LLM caller uses: translation, synthesis, judging and evaluation.

Callers build `ChatRequest`s and hand a batch to `Backend.generate`; caching, retries, concurrency and
cost accounting live behind it, once. A request that finally fails comes back as a `ChatResponse` with
`error` set, never as an exception, so a caller can always account for every item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

from ..hashing import json_hash


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, str]]
    max_tokens: int = 512
    temperature: float = 0.0
    json_schema: dict[str, Any] | None = None  # structured output when the backend supports it
    seed: int | None = None
    tag: str = ""  # caller's label (item id); not part of the cache key

    def cache_key(self, model: str) -> str:
        # Field by field rather than asdict(): asdict deep-copies the messages, a cost paid per request.
        payload = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "tag"}
        payload["model"] = model
        return json_hash(payload)


@dataclass
class ChatResponse:
    text: str | None
    parsed: Any = None  # the JSON object when a json_schema was asked for and the output validated
    usage: dict[str, int] = field(default_factory=dict)  # prompt_tokens, completion_tokens
    cost: float = 0.0
    error: str | None = None  # why the request finally failed (after retries)
    cached: bool = False
    tag: str = ""  # the request's tag, so an `on_result` callback knows which item finished

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


Progress = Callable[[ChatResponse], None]


@runtime_checkable
class Backend(Protocol):
    name: str
    model: str

    def generate(self, requests: Sequence[ChatRequest], *, on_result: Progress | None = None
                 ) -> list[ChatResponse]:
        """One response per request, in order; `on_result` is called as each one completes."""
        ...

    def close(self) -> None: ...


def token_count(value: Any) -> int:
    """A usage field as a count: missing, negative, non-finite or non-numeric values count 0."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return 0
    if isinstance(value, int | float) and value == value and abs(value) != float("inf"):
        return max(0, int(value))
    return 0


def price_for(prices: dict[str, Any] | None, model: str) -> tuple[float, float]:
    """(input, output) price per million tokens for `model`: `{model: {input: X, output: Y}}` or `[X, Y]`."""
    if not prices or model not in prices:
        return (0.0, 0.0)
    p = prices[model]
    if isinstance(p, dict):
        return (float(p.get("input", 0.0)), float(p.get("output", 0.0)))
    return (float(p[0]), float(p[1]))


def cost_of(usage: dict[str, int], price: tuple[float, float]) -> float:
    return (usage.get("prompt_tokens", 0) * price[0] + usage.get("completion_tokens", 0) * price[1]) / 1e6
