"""The OpenAI-compatible backend against a scripted loopback server that injects faults."""

import pytest
from fakeserver import FAULTS, FakeChatServer, body_key

from medinject.backends import ChatRequest, make_backend
from medinject.errors import MedinjectError


def reqs(n, **kw):
    return [ChatRequest(messages=[{"role": "user", "content": f"question {i}"}], tag=str(i), **kw) for i in range(n)]


def fast_backend(server, tmp_path, **kw):
    opts = dict(cache=tmp_path / "c.sqlite", concurrency=4, timeout=0.5, backoff_base=0.01, max_retries=3)
    opts.update(kw)
    return make_backend("openai", "fake", base_url=server.base_url, **opts)


def test_every_fault_is_retried_until_answered(tmp_path):
    # Each request meets one fault kind on its first try, then succeeds.
    def fault(body, n):
        i = int(body["messages"][0]["content"].split()[-1])
        return FAULTS[i % len(FAULTS)] if n == 1 else None

    with FakeChatServer(fault=fault, hang_seconds=5, retry_after="0") as server:
        be = fast_backend(server, tmp_path)
        seen = []
        out = be.generate(reqs(10), on_result=lambda r: seen.append(r.tag))
    assert all(r.ok for r in out)
    assert [r.text for r in out] == [f"question {i}" for i in range(10)]
    assert sorted(seen, key=int) == [str(i) for i in range(10)]
    assert dict(server.faults_sent) == {f: 2 for f in FAULTS}
    assert be.stats["retries"] == 10 and be.stats["failed"] == 0


def test_retry_after_is_honoured(tmp_path):
    with FakeChatServer(fault=lambda b, n: "429" if n == 1 else None, retry_after="1") as server:
        be = fast_backend(server, tmp_path)
        [r] = be.generate(reqs(1))
    assert r.ok
    [times] = server.times.values()
    assert len(times) == 2 and times[1] - times[0] >= 0.9  # the backoff alone would wait ~0.02 s


def test_persistent_failure_becomes_an_error_response_not_an_exception(tmp_path):
    with FakeChatServer(fault=lambda b, n: "500" if b["messages"][0]["content"].endswith("1") else None) as server:
        be = fast_backend(server, tmp_path, max_retries=2)
        out = be.generate(reqs(3))
    assert [r.ok for r in out] == [True, False, True]
    assert out[1].text is None and "gave up after 3 attempts: http 500" in out[1].error
    assert server.received[body_key(be._body(reqs(3)[1]))] == 3


def test_cache_and_in_batch_duplicates_are_never_sent_twice(tmp_path):
    same = reqs(1)[0]
    with FakeChatServer() as server:
        be = fast_backend(server, tmp_path, concurrency=1)  # one at a time: the copies come after the answer
        first = be.generate([same, same, *reqs(3), same])
        again = fast_backend(server, tmp_path).generate(reqs(3))
    assert all(r.ok for r in first + again)
    assert sum(server.received.values()) == 3  # "question 0" once, then 1 and 2; the rerun hits the cache
    assert all(r.cached for r in again) and again[2].text == "question 2"


def test_structured_output_falls_back_when_the_server_refuses_it(tmp_path):
    schema = {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}
    with FakeChatServer(lambda body: 'Bien sûr : {"a": "oui"}', structured=False) as server:
        be = fast_backend(server, tmp_path)
        [r] = be.generate(reqs(1, json_schema=schema))
    assert r.parsed == {"a": "oui"} and be.structured is False


def test_usage_and_cost_from_configured_prices(tmp_path):
    with FakeChatServer(lambda body: "x" * 400) as server:
        be = fast_backend(server, tmp_path, prices={"fake": {"input": 2.0, "output": 10.0}})
        [r] = be.generate(reqs(1))
    assert r.usage == {"prompt_tokens": len('[{"role": "user", "content": "question 0"}]') // 4,
                       "completion_tokens": 100}
    assert r.cost == pytest.approx((r.usage["prompt_tokens"] * 2.0 + 100 * 10.0) / 1e6)


def test_api_key_sent_in_header_only(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", "sk-test-secret-123")
    with FakeChatServer() as server:
        be = fast_backend(server, tmp_path, api_key_env="MY_LLM_KEY")
        be.generate(reqs(1))
    assert server.auth_headers == {"Bearer sk-test-secret-123"}
    assert "sk-test" not in repr(be)
    assert b"sk-test" not in (tmp_path / "c.sqlite").read_bytes()


def test_missing_key_and_refused_key_are_user_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("ABSENT_KEY", raising=False)
    with pytest.raises(MedinjectError, match="ABSENT_KEY is not set"):
        make_backend("openai", "m", base_url="http://127.0.0.1:9/v1", api_key_env="ABSENT_KEY", cache=False)
    import fakeserver

    class Refusing(fakeserver.FakeChatServer):
        async def _chat(self, reader, writer, raw):
            await self._send(writer, 401, {"error": {"message": "bad key"}})
            return True

    with Refusing() as server, pytest.raises(MedinjectError, match="refused the API key"):
        fast_backend(server, tmp_path).generate(reqs(2))
