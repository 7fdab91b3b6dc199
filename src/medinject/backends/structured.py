"""JSON out of model text: extraction, schema validation, and the OpenAI `response_format` body.

Servers that honour `response_format` return bare JSON; the others (and every local model) return text
that may wrap the object in prose or a code fence. Every backend runs its output through `finish`, so a
caller sees one behaviour: `parsed` holds a schema-valid object, or `error` says why not and `text`
keeps the raw output.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from .base import ChatRequest, ChatResponse

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_json(text: str) -> Any:
    """The first JSON object or array in `text`; raises ValueError when there is none."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for chunk in candidates:
        chunk = chunk.strip()
        for i, ch in enumerate(chunk):
            if ch not in "{[":
                continue
            try:
                obj, _ = decoder.raw_decode(chunk, i)
            except json.JSONDecodeError:
                continue
            return obj
    raise ValueError("no JSON object in the output")


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_json))


def schema_problem(obj: Any, schema: dict[str, Any]) -> str | None:
    """A one-line description of the first way `obj` breaks `schema`, or None when it conforms."""
    errors = sorted(_validator(json.dumps(schema, sort_keys=True)).iter_errors(obj), key=lambda e: list(e.path))
    if not errors:
        return None
    err = errors[0]
    where = "/".join(str(p) for p in err.path) or "(root)"
    return f"{where}: {err.message[:200]}"


def finish(request: ChatRequest, resp: ChatResponse) -> ChatResponse:
    """Parse and validate the output when the request asked for JSON; set `error` if it does not conform."""
    if request.json_schema is None or resp.text is None or resp.error:
        return resp
    try:
        obj = extract_json(resp.text)
    except ValueError as e:
        resp.error = f"invalid_json: {e}"
        return resp
    problem = schema_problem(obj, request.json_schema)
    if problem:
        resp.error = f"schema: {problem}"
        return resp
    resp.parsed = obj
    return resp


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's structured-output request field. Not strict: strict mode forbids keywords we rely on."""
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": False}}
