"""Optional quality pre-screening: an LLM judge scores translated and synthetic records from 1 to 5.

The judge goes through the shared backends (`Backend.generate`), so caching, retries and concurrency
are theirs. The score and the judge's raw answer go into `meta["quality"]`; a record the judge could
not score is kept and counted, never silently dropped or silently passed as good.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ..backends.base import Backend, ChatRequest, ChatResponse
from ..prompts import QUALITY_FR, QUALITY_PROMPT_VERSION, assistant_text, user_text
from ..records import Record

SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}, "raison": {"type": "string"}},
    "required": ["score"],
}
_SCORE = re.compile(r"\"?(?:score|note)\"?\s*[:=]\s*\"?([1-5])\b|^\s*([1-5])\b", re.IGNORECASE)


def quality_request(record: Record) -> ChatRequest:
    answer = assistant_text(record)
    if record.is_choice:
        answer += f" ({record.answer_text})"
    messages = [{"role": "system", "content": QUALITY_FR["system"]},
                {"role": "user", "content": QUALITY_FR["user"].format(item=user_text(record), answer=answer)}]
    return ChatRequest(messages=messages, max_tokens=128, temperature=0.0, json_schema=SCHEMA, tag=record.id)


def parse_score(response: ChatResponse) -> tuple[int | None, str | None]:
    """(score, None) or (None, why not)."""
    if not response.ok:
        return None, response.error or "no answer"
    parsed: Any = response.parsed
    if parsed is None:
        try:
            parsed = json.loads(response.text)
        except (TypeError, ValueError):
            parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("score"), int | float | str):
        try:
            score = int(float(parsed["score"]))
        except ValueError:
            score = 0
        if 1 <= score <= 5:
            return score, None
    m = _SCORE.search(response.text or "")
    if m:
        return int(m.group(1) or m.group(2)), None
    return None, "no score from 1 to 5 in the judge's answer"


def score_records(records: Sequence[Record], backend: Backend) -> list[dict[str, Any]]:
    """One `meta["quality"]` entry per record: score (or None), error, judge model, prompt version, raw text."""
    responses = backend.generate([quality_request(r) for r in records])
    out = []
    for response in responses:
        score, error = parse_score(response)
        entry: dict[str, Any] = {"score": score, "model": getattr(backend, "model", None),
                                 "prompt_version": QUALITY_PROMPT_VERSION, "raw": response.text}
        if error:
            entry["error"] = error
        out.append(entry)
    return out
