import json
import multiprocessing as mp

import pytest

from medinject.backends import ChatRequest, ChatResponse, RequestCache
from medinject.backends.structured import extract_json, finish, schema_problem

SCHEMA = {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}, "additionalProperties": False}


def test_extract_json_from_fences_and_prose():
    assert extract_json('Voici :\n```json\n{"a": "x"}\n```') == {"a": "x"}
    assert extract_json('La réponse est {"a": "x", "b": [1, 2]} voilà.') == {"a": "x", "b": [1, 2]}
    assert extract_json('{broken {"a": "y"}') == {"a": "y"}
    with pytest.raises(ValueError):
        extract_json("pas de JSON ici")


def test_schema_problem_names_the_field():
    assert schema_problem({"a": "x"}, SCHEMA) is None
    assert "a" in schema_problem({"a": 3}, SCHEMA)
    assert "b" in schema_problem({"a": "x", "b": "y"}, SCHEMA)


def test_finish_sets_parsed_or_error():
    req = ChatRequest(messages=[{"role": "user", "content": "q"}], json_schema=SCHEMA)
    ok = finish(req, ChatResponse(text='{"a": "x"}'))
    assert ok.ok and ok.parsed == {"a": "x"}
    bad = finish(req, ChatResponse(text="rien"))
    assert bad.error.startswith("invalid_json") and bad.text == "rien" and not bad.ok
    wrong = finish(req, ChatResponse(text='{"a": 1}'))
    assert wrong.error.startswith("schema")


def test_cache_key_ignores_tag_but_not_params():
    m = [{"role": "user", "content": "q"}]
    assert ChatRequest(m, tag="x").cache_key("m") == ChatRequest(m, tag="y").cache_key("m")
    assert ChatRequest(m).cache_key("m") != ChatRequest(m).cache_key("other")
    assert ChatRequest(m).cache_key("m") != ChatRequest(m, temperature=0.5).cache_key("m")


def _writer(path: str, start: int) -> None:
    cache = RequestCache(path)
    for i in range(start, start + 200):
        cache.put(f"k{i}", "m", json.dumps({"i": i}), {"prompt_tokens": i, "completion_tokens": 1})
    cache.close()


def test_cache_survives_concurrent_writer_processes(tmp_path):
    path = str(tmp_path / "c.sqlite")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, s)) for s in (0, 200, 400)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = RequestCache(path)
    assert len(cache) == 600
    hit = cache.get("k450")
    assert hit.cached and json.loads(hit.text) == {"i": 450} and hit.usage["prompt_tokens"] == 450
    assert cache.get("absent") is None
