"""The OpenAI Batch API, for half the price on large jobs: write the request file, ingest the results.

The results go into the request cache under each request's cache key (used as `custom_id`), so the
stage that wrote the requests, run again, reads every answer from the cache and validates it exactly
as it validates a live answer; nothing is sent twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io import atomic_path, iter_jsonl
from .base import ChatRequest, cost_of, price_for
from .cache import RequestCache
from .openai_api import AnswerError, read_completion
from .redact import redact
from .structured import response_format

ENDPOINT = "/v1/chat/completions"


def batch_line(req: ChatRequest, model: str, *, structured: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": req.messages, "max_tokens": req.max_tokens,
                            "temperature": req.temperature}
    if req.seed is not None:
        body["seed"] = req.seed
    if req.json_schema is not None and structured:
        body["response_format"] = response_format(req.json_schema)
    return {"custom_id": req.cache_key(model), "method": "POST", "url": ENDPOINT, "body": body}


def write_batch_file(requests: Sequence[ChatRequest], model: str, path: str | Path, *,
                     cache: RequestCache | None = None) -> int:
    """Write one request line per distinct request not already answered in `cache`; returns the count."""
    seen: set[str] = set()
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for req in requests:
            line = batch_line(req, model)
            key = line["custom_id"]
            if key in seen or (cache is not None and key in cache):
                continue
            seen.add(key)
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            n += 1
    return n


def ingest_batch_results(path: str | Path, cache: RequestCache, *, prices: dict[str, Any] | None = None,
                         discount: float = 0.5) -> dict[str, Any]:
    """Store every successful answer of a Batch API output file in `cache`; count the rest by reason."""
    summary: dict[str, Any] = {"stored": 0, "failed": {}, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
    for lineno, obj in iter_jsonl(path):
        key = obj.get("custom_id")
        if not isinstance(key, str) or len(key) != 64:
            raise InputError(path, "missing or foreign custom_id (not written by medinject)", line=lineno,
                             field="custom_id")
        resp = obj.get("response") if isinstance(obj.get("response"), dict) else {}
        status = resp.get("status_code")
        body = resp.get("body") or {}
        content, usage, why = None, {}, None
        if not obj.get("error") and status == 200:
            try:
                content, usage = read_completion(body)
            except AnswerError as e:
                why = str(e).partition(":")[0]
        if content is None:
            error = obj.get("error")
            reason = why or (error.get("code") if isinstance(error, dict) else None) or f"http {status}"
            summary["failed"][reason] = summary["failed"].get(reason, 0) + 1
            continue
        content = redact(content) or ""
        model = str(body.get("model") or "")
        cache.put(key, model, content, usage)
        summary["stored"] += 1
        summary["prompt_tokens"] += usage["prompt_tokens"]
        summary["completion_tokens"] += usage["completion_tokens"]
        summary["cost"] += cost_of(usage, price_for(prices, model)) * discount
    return summary
