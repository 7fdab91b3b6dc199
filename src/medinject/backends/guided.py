"""Schema-guided JSON for local models: the backend writes the JSON syntax, the model writes only the values.

An API server honours `response_format`; a local model has nothing of the kind, and a small one (SmolLM2-135M,
measured: 20 of 24 translations and 15 of 16 syntheses were not JSON at all) rarely closes a brace. For the
schemas our stages send (objects of named string fields, nested objects with named keys, arrays of strings)
the skeleton is known in advance: the decoder appends `{"question": "` to the prompt, lets the model write until
it closes the string, escapes what it wrote, appends `", "options": {"A": "` and so on. The output is then valid
JSON with exactly the schema's keys by construction, and what is left to check is the content.

Each value is one batched `generate` call over the rows still alive; a row whose value runs out of tokens is
dropped with a `truncated` error naming the field. A string with an `enum` (a judge's verdict) is picked among
its values by a `Choose` call, which only lets the model write tokens that stay inside one of them; without
one, the value is generated and checked. Schemas outside this subset fall back to free generation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Bumped whenever the decoder writes differently for the same request: cached guided answers are keyed by it.
VERSION = 2

# A generator: (texts to continue, max new tokens, stop test on the text generated so far) ->
# per row, (generated text, tokens used, whether the model ended its turn).
Generate = Callable[[list[str], int, Callable[[str], int | None]], list[tuple[str, int, bool]]]
# A constrained choice: (texts to continue, the allowed continuations) -> per row, (the index of the one the
# model wrote, tokens used).
Choose = Callable[[list[str], list[str]], list[tuple[int, int]]]


@dataclass
class Row:
    text: str = ""  # the JSON written so far
    used: int = 0  # new tokens spent
    error: str | None = None


def supported(schema: dict[str, Any] | None) -> bool:
    """Whether `schema` is in the subset the guided decoder writes: named objects, strings, string arrays."""
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    if kind == "string":
        enum = schema.get("enum")
        return enum is None or (bool(enum) and all(isinstance(v, str) and v for v in enum))
    if kind == "array":
        return (schema.get("items") or {}).get("type") == "string"
    if kind == "object":
        props = schema.get("properties") or {}
        required = schema.get("required") or []
        return bool(props) and set(required) <= set(props) and all(supported(s) for s in props.values())
    return False


def string_end(text: str) -> int | None:
    """Where the first unescaped double quote (the end of a JSON string) or line break is in `text`."""
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in '"\n':
            return i
    return None


def _decode_string(raw: str) -> str:
    """What the model wrote inside the quotes, as a Python string (its escapes read when they are valid)."""
    try:
        return json.loads(f'"{raw}"')
    except json.JSONDecodeError:
        return raw.replace("\\", "")


def _value(rows: list[Row], schema: dict[str, Any], where: str, prompts: list[str], budget: int,
           gen: Generate, choose: Choose | None = None) -> None:
    kind = schema["type"]
    if kind == "object":
        props = schema["properties"]
        keys = list(schema.get("required") or props)
        _append(rows, "{")
        for n, key in enumerate(keys):
            _append(rows, (", " if n else "") + json.dumps(key, ensure_ascii=False) + ": ")
            _value(rows, props[key], f"{where}/{key}" if where else key, prompts, budget, gen, choose)
        _append(rows, "}")
        return
    if kind == "array":
        _array(rows, schema, where, prompts, budget, gen, choose)
        return
    _append(rows, '"')
    alive = _alive(rows)
    if not alive:
        return
    if "enum" in schema and choose is not None:
        # Each value as written in JSON with its closing quote: the model weighs "1" against "10" at the
        # quote, where a JSON string ends, rather than against an end of turn it would not write there.
        spelled = [json.dumps(v, ensure_ascii=False)[1:] for v in schema["enum"]]
        for i, (k, used) in zip(alive, choose([prompts[i] + rows[i].text for i in alive], spelled), strict=True):
            rows[i].used += used
            rows[i].text += spelled[k]
        return
    room = _room(rows, alive, budget)
    if "maxLength" in schema:  # a token writes at least one character: a short field needs few
        room = min(room, schema["maxLength"] + 1)
    outs = gen([prompts[i] + rows[i].text for i in alive], room, string_end)
    for i, (text, used, ended) in zip(alive, outs, strict=True):
        row = rows[i]
        row.used += used
        cut = string_end(text)
        if cut is None and ended:  # the model ended its turn inside the value: that is where the value ends
            cut = len(text)
        if cut is None or row.used > budget or len(text[:cut]) > schema.get("maxLength", len(text)):
            row.error = f"truncated: max_tokens reached inside {where or 'the value'}"
            continue
        if "enum" in schema and _decode_string(text[:cut]) not in schema["enum"]:
            row.error = f"not_allowed: {where or 'the value'} is none of {', '.join(schema['enum'])}"
            continue
        row.text += json.dumps(_decode_string(text[:cut]), ensure_ascii=False)[1:]  # the closing quote included


def _array(rows: list[Row], schema: dict[str, Any], where: str, prompts: list[str], budget: int,
           gen: Generate, choose: Choose | None) -> None:
    """Strings one at a time; after each, the model's next character says whether another one follows."""
    _append(rows, "[")
    open_rows = _alive(rows)
    most = schema.get("maxItems", 8)
    for n in range(most):
        for i in open_rows:
            rows[i].text += ", " if n else ""
        sub = [rows[i] for i in open_rows]
        _value(sub, schema["items"], f"{where}/{n}", [prompts[i] for i in open_rows], budget, gen, choose)
        open_rows = [i for i in open_rows if rows[i].error is None]
        if not open_rows or n + 1 == most:
            break
        outs = gen([prompts[i] + rows[i].text for i in open_rows], 2, _first_char)
        more = []
        for i, (text, used, _) in zip(open_rows, outs, strict=True):
            rows[i].used += used
            if text.lstrip().startswith(",") or n + 1 < schema.get("minItems", 0):
                more.append(i)
        for i in set(open_rows) - set(more):
            rows[i].text += "]"
        open_rows = more
    for i in open_rows:
        rows[i].text += "]"


def _first_char(text: str) -> int | None:
    return 0 if text.strip() else None


def _alive(rows: list[Row]) -> list[int]:
    return [i for i, r in enumerate(rows) if r.error is None]


def _room(rows: list[Row], alive: list[int], budget: int) -> int:
    return max(budget - min(rows[i].used for i in alive), 1)


def _append(rows: list[Row], s: str) -> None:
    for r in rows:
        if r.error is None:
            r.text += s


def guided_json(prompts: list[str], schema: dict[str, Any], max_tokens: int, gen: Generate,
                choose: Choose | None = None) -> list[Row]:
    """One JSON value per prompt, shaped by `schema` (see `supported`), within `max_tokens` new tokens each."""
    rows = [Row() for _ in prompts]
    _value(rows, schema, "", prompts, max_tokens, gen, choose)
    return rows
