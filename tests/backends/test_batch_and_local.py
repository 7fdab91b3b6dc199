import json

from fakeserver import FakeChatServer, french_json_reply

from medinject.backends import ChatRequest, RequestCache, make_backend
from medinject.backends.batch_api import ingest_batch_results, write_batch_file
from medinject.io import iter_jsonl, load_records
from medinject.translate import RecordTranslator, run_translate


def test_batch_file_round_trip_through_the_cache(medqa_en, tmp_path):
    src = medqa_en(4)
    records = load_records(src)
    tr = RecordTranslator("gpt-4o")
    reqs = [tr.request(r) for r in records]
    cache = RequestCache(tmp_path / "c.sqlite")
    assert write_batch_file(reqs + reqs[:1], "gpt-4o", tmp_path / "batch.jsonl", cache=cache) == 4
    lines = [row for _, row in iter_jsonl(tmp_path / "batch.jsonl")]
    assert lines[0]["url"] == "/v1/chat/completions" and lines[0]["body"]["model"] == "gpt-4o"
    assert lines[0]["body"]["response_format"]["type"] == "json_schema"
    # What the Batch API returns: three answers and one failure.
    results = []
    for i, line in enumerate(lines):
        if i == 3:
            results.append({"custom_id": line["custom_id"], "response": None, "error": {"code": "server_error"}})
            continue
        body = {"model": "gpt-4o", "usage": {"prompt_tokens": 100, "completion_tokens": 50},
                "choices": [{"message": {"role": "assistant", "content": french_json_reply(line["body"])}}]}
        results.append({"custom_id": line["custom_id"], "response": {"status_code": 200, "body": body}})
    (tmp_path / "out.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    s = ingest_batch_results(tmp_path / "out.jsonl", cache, prices={"gpt-4o": {"input": 2.5, "output": 10}})
    assert s["stored"] == 3 and s["failed"] == {"server_error": 1}
    assert abs(s["cost"] - 3 * (100 * 2.5 + 50 * 10) / 1e6 / 2) < 1e-12
    assert write_batch_file(reqs, "gpt-4o", tmp_path / "batch2.jsonl", cache=cache) == 1  # only the failed one left
    # The live run validates the cached answers and asks the server only for the failed one.
    with FakeChatServer(french_json_reply) as server:
        spec = {"model": "gpt-4o", "base_url": server.base_url, "cache": str(tmp_path / "c.sqlite")}
        summary = run_translate(src, tmp_path / "fr.jsonl", spec, progress=False)
    assert summary["accepted"] == 4 and summary["cached_responses"] == 3
    assert sum(server.received.values()) == 1


def test_transformers_backend_batches_and_caches(toy_model, tmp_path):
    be = make_backend("transformers", str(toy_model), cache=tmp_path / "c.sqlite", batch_size=2, device="cpu")
    reqs = [ChatRequest(messages=[{"role": "user", "content": "Bonjour " * (i + 1)}], max_tokens=4, tag=str(i))
            for i in range(3)]
    tags = []
    out = be.generate(reqs, on_result=lambda r: tags.append(r.tag))
    assert sorted(tags) == ["0", "1", "2"] and be.stats["sent"] == 3
    assert all(r.text is not None and 1 <= r.usage["completion_tokens"] <= 4 for r in out)
    assert [r.usage["prompt_tokens"] for r in out] == sorted(r.usage["prompt_tokens"] for r in out)
    again = be.generate(reqs)
    assert be.stats["sent"] == 3 and all(r.cached for r in again)
    assert [r.text for r in again] == [r.text for r in out]


def test_a_reused_prompt_cache_continues_each_row_as_reading_it_whole_would(toy_model):
    from medinject.backends.transformers_local import _PromptCache

    be = make_backend("transformers", str(toy_model), cache=False, device="cpu")
    prompts = ["Patient de 40 ans, fièvre et toux depuis trois jours.", "Question courte", "Douleur thoracique."]
    # Rows out of order, one prompt twice, continuations of different lengths: padding sits between each
    # prompt and its continuation, and must change nothing.
    texts = [prompts[2] + '{"question": "Quel', prompts[0] + '{"q": "', prompts[0] + "x", prompts[1] + "{"]
    like = ChatRequest(messages=[{"role": "user", "content": "q"}], max_tokens=8)
    whole = be._generate(texts, 8, like)
    reused = be._generate(texts, 8, like, prompts=_PromptCache(be.lm, be._encode, prompts))
    assert reused == whole
    assert len({text for text, *_ in whole}) > 1  # the rows differ: a misaligned cache would show


def test_write_batch_from_the_cli_and_backend_errors(medqa_en, tmp_path, run_cli):
    src = medqa_en(5)
    code, out, err = run_cli("translate", src, "-o", tmp_path / "fr.jsonl", "--model", "gpt-4o", "--write-batch",
                             tmp_path / "batch.jsonl", "--cache", tmp_path / "c.sqlite")
    assert code == 0, err
    assert "5 requests written" in out and len((tmp_path / "batch.jsonl").read_text().splitlines()) == 5
    assert not (tmp_path / "fr.jsonl").exists()

    import pytest

    from medinject.errors import MedinjectError

    with pytest.raises(MedinjectError, match="'vllm' extra"):
        make_backend("vllm", "some/model", cache=False)
    with pytest.raises(MedinjectError, match="unknown backend 'tgi'"):
        make_backend("tgi", "m")
    code, _, err = run_cli("translate", src, "-o", tmp_path / "x.jsonl", "--backend", "transformers", "--model",
                           tmp_path / "missing", "--cache", "off")
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
