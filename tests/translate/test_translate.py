"""Translation jobs against a scripted loopback server: every item ends accepted or rejected with a reason."""

import json

from fakeserver import FAULTS, FakeChatServer, french_json_reply

from medinject.backends import BackendSpec
from medinject.io import iter_jsonl, load_records
from medinject.translate import run_translate


def _source(body) -> dict:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return json.loads(user[user.index("{"):])


def test_faults_retries_and_rejections_account_for_every_item(medqa_en, tmp_path):
    src = medqa_en(30)
    records = load_records(src)
    english = {r.question for r in records[:3]}  # these always come back in English
    fixed_on_retry = {r.question for r in records[3:5]}  # English first, French when asked again
    dead = {r.question for r in records[5:7]}  # the server always fails these

    index = {r.question: i for i, r in enumerate(records)}

    def reply(body):
        q = _source(body)["question"]
        if q in english or (q in fixed_on_retry and len(body["messages"]) == 2):
            return json.dumps(_source(body))  # untranslated
        return french_json_reply(body)

    def fault(body, n):
        q = _source(body)["question"]
        if q in dead:
            return "500"
        i = index[q]
        return FAULTS[i % len(FAULTS)] if n == 1 and i >= 7 and i % 2 else None

    with FakeChatServer(reply, fault=fault, retry_after="0", hang_seconds=5) as server:
        spec = BackendSpec(model="fake", base_url=server.base_url, cache=str(tmp_path / "c.sqlite"), concurrency=6,
                           options={"timeout": 0.5, "backoff_base": 0.01, "max_retries": 2})
        summary = run_translate(src, tmp_path / "fr.jsonl", spec, progress=False)

    out = load_records(tmp_path / "fr.jsonl")
    rejected = [row for _, row in iter_jsonl(tmp_path / "fr.rejected.jsonl")]
    assert sorted([r.parent_id for r in out] + [r["id"] for r in rejected]) == sorted(r.id for r in records)
    assert summary["rejected_by_reason"] == {"not_french": 3, "request_failed": 2}
    assert summary["accepted"] == 25 and summary["retried"] == 5
    assert set(server.faults_sent) == set(FAULTS)
    by_id = {r.id: r for r in records}
    for r in out:
        src_rec = by_id[r.parent_id]
        assert r.origin.value == "translated" and r.lang == "fr" and r.answer == src_rec.answer
        assert list(r.options) == list(src_rec.options)
        assert r.meta["model"] == "fake" and r.meta["prompt_version"].startswith("translate-record")
        assert r.meta["usage"]["completion_tokens"] > 0
    not_french = [row for row in rejected if row["reason"] == "not_french"]
    assert all(row["raw"] and row["attempts"] == 2 and row["input"]["question"] in english for row in not_french)
    assert json.loads((tmp_path / "fr.summary.json").read_text())["rejected"] == 5
    assert not (tmp_path / ".fr.jsonl.partial").exists()


def test_cli_summary_counts_reasons_and_never_writes_the_key(medqa_en, tmp_path, run_cli, monkeypatch):
    secret = "sk-medinject-test-4f9a2c"
    monkeypatch.setenv("TEST_LLM_KEY", secret)
    src = medqa_en(6)
    half = {r.question for r in load_records(src)[:3]}

    def reply(body):
        if _source(body)["question"] in half:
            return "Je ne peux pas traduire ce texte."
        return french_json_reply(body)

    with FakeChatServer(reply) as server:
        code, out, err = run_cli("translate", src, "-o", tmp_path / "out" / "fr.jsonl", "--model", "fake",
                                 "--base-url", server.base_url, "--api-key-env", "TEST_LLM_KEY",
                                 "--cache", tmp_path / "out" / "cache.sqlite")
    assert code == 0, err
    assert "3 accepted, 3 rejected of 6 items" in out and "rejected, invalid_json: 3" in out
    assert server.auth_headers == {f"Bearer {secret}"}
    assert secret not in out + err
    for f in (tmp_path / "out").rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f
