"""A server's odd but valid answers never kill a job, and a key it echoes is never written."""

from __future__ import annotations

import json

import pytest
from fakeserver import FakeChatServer, french_json_reply

from medinject.backends import BackendSpec
from medinject.backends.openai_api import AnswerError, content_text, read_completion
from medinject.backends.redact import MARK, redact
from medinject.io import iter_jsonl, load_records

SHAPES = ["parts", "string_message", "usage_text", "usage_missing", "usage_list", "empty_choices", "null_choices",
          "refusal", "completions_layout", "plain"]
# Shapes that carry no text: their items are rejected with this reason.
NO_TEXT = {"empty_choices": "no_choices", "null_choices": "no_choices", "refusal": "refused"}


def odd(shape: str, text: str) -> tuple[int, dict]:
    usage = {"prompt_tokens": 10, "completion_tokens": 5}
    message = {"role": "assistant", "content": text}
    body: dict = {"id": "x", "object": "chat.completion", "model": "fake", "usage": usage}
    if shape == "parts":
        half = len(text) // 2
        message["content"] = [{"type": "text", "text": text[:half]}, {"type": "image_url", "image_url": {"url": "x"}},
                              {"type": "text", "text": text[half:]}]
    elif shape == "string_message":
        message = text
    elif shape == "usage_text":
        body["usage"] = {"prompt_tokens": "ten", "completion_tokens": None, "total_tokens": {"x": 1}}
    elif shape == "usage_missing":
        del body["usage"]
    elif shape == "usage_list":
        body["usage"] = [1, 2]
    elif shape == "refusal":
        message = {"role": "assistant", "content": None, "refusal": "Je ne peux pas répondre."}
    if shape == "empty_choices":
        body["choices"] = []
    elif shape == "null_choices":
        body["choices"] = None
    elif shape == "completions_layout":
        body["choices"] = [{"index": 0, "text": text, "finish_reason": "stop"}]
    else:
        body["choices"] = [{"index": 0, "finish_reason": "stop", "message": message}]
    return 200, body


def test_read_completion_reads_every_shape_or_names_why_not():
    for shape in SHAPES:
        status, body = odd(shape, "Bonjour")
        if shape in NO_TEXT:
            with pytest.raises(AnswerError, match=NO_TEXT[shape]):
                read_completion(body)
            continue
        text, usage = read_completion(body)
        assert text == "Bonjour", shape
        assert set(usage) == {"prompt_tokens", "completion_tokens"} and all(isinstance(v, int) for v in usage.values())
    assert read_completion(odd("usage_text", "x")[1])[1] == {"prompt_tokens": 0, "completion_tokens": 0}
    assert read_completion({"choices": [{"message": {"content": "a"}}], "usage": {"prompt_tokens": "12",
                                                                                  "completion_tokens": 3.0}})[1] == {
        "prompt_tokens": 12, "completion_tokens": 3}
    assert content_text([{"type": "text", "text": {"value": "v"}}, "w"]) == "vw"
    with pytest.raises(AnswerError, match="unreadable_answer"):
        read_completion([1, 2])


def _shape_of(records):
    return {r.question: SHAPES[i % len(SHAPES)] for i, r in enumerate(records)}


def _source_question(body) -> str:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return json.loads(user[user.index("{"):])["question"]


def test_translate_accounts_for_every_item_whatever_the_shape_and_reruns_from_the_cache(medqa_en, tmp_path):
    src = medqa_en(20)
    records = load_records(src)
    shape_of = _shape_of(records)

    def respond(body, headers, text):
        return odd(shape_of[_source_question(body)], text)

    from medinject.translate import run_translate

    with FakeChatServer(french_json_reply, respond=respond) as server:
        spec = BackendSpec(model="fake", base_url=server.base_url, cache=str(tmp_path / "c.sqlite"), concurrency=4,
                           options={"timeout": 5, "backoff_base": 0.01, "max_retries": 1})
        first = run_translate(src, tmp_path / "fr.jsonl", spec, progress=False)
        sent = sum(server.received.values())
        again = run_translate(src, tmp_path / "fr2.jsonl", spec, progress=False)
    out = load_records(tmp_path / "fr.jsonl")
    rejected = [row for _, row in iter_jsonl(tmp_path / "fr.rejected.jsonl")]
    assert sorted([r.parent_id for r in out] + [r["id"] for r in rejected]) == sorted(r.id for r in records)
    n_no_text = sum(1 for r in records if shape_of[r.question] in NO_TEXT)
    assert first["accepted"] == len(records) - n_no_text
    assert first["rejected_by_reason"] == {"request_failed": n_no_text}
    assert sorted(row["detail"].split(":")[0] for row in rejected) == sorted(
        NO_TEXT[shape_of[r.question]] for r in records if shape_of[r.question] in NO_TEXT)
    # The rerun reads every accepted answer from the cache and gives the same records.
    assert again["accepted"] == first["accepted"] and again["rejected_by_reason"] == first["rejected_by_reason"]
    assert sum(server.received.values()) - sent == n_no_text  # only the answers without text are asked again
    assert (tmp_path / "fr2.jsonl").read_bytes() == (tmp_path / "fr.jsonl").read_bytes()


def test_judge_accounts_for_every_item_whatever_the_shape(tmp_path):
    from medinject.judge import run_judge

    preds = [{"id": f"o{i}", "question": f"Question {i} ?", "reference": "La réponse de référence.",
              "prediction": f"Une réponse candidate numéro {i}."} for i in range(len(SHAPES) * 2)]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in preds))
    order = {p["question"]: i for i, p in enumerate(preds)}

    def reply(body):
        text = body["messages"][-1]["content"]
        return "Raisonnement.\nVerdict : 7" if "1 à 10" in text else "Raisonnement.\nVerdict : 1"

    def respond(body, headers, text):
        i = next(order[q] for q in order if q in body["messages"][-1]["content"])
        return odd(SHAPES[i % len(SHAPES)], text)

    with FakeChatServer(reply, respond=respond) as server:
        summary = run_judge({"sys": tmp_path / "p.jsonl"}, tmp_path / "out", model="fake", base_url=server.base_url,
                            cache=str(tmp_path / "c.sqlite"), modes=("binary", "graded"), pairwise="none",
                            n_boot=20, progress=False, max_retries=0)
        again = run_judge({"sys": tmp_path / "p.jsonl"}, tmp_path / "out2", model="fake", base_url=server.base_url,
                          cache=str(tmp_path / "c.sqlite"), modes=("binary", "graded"), pairwise="none",
                          n_boot=20, progress=False, max_retries=0)
    rows = [json.loads(line) for line in (tmp_path / "out" / "verdicts.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * len(preds)  # one verdict per answer and mode, none lost
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 2 * 2 * len(NO_TEXT)
    assert all(r["reason"].split(":")[0] in set(NO_TEXT.values()) for r in failed)
    assert all(r["status"] == "ok" for r in rows if r not in failed)
    assert summary["counts"]["verdicts"] == again["counts"]["verdicts"] == {
        "ok": len(rows) - len(failed), "unparseable": 0, "failed": len(failed)}


# ------------------------------------------------------------------------------------------ keys ----

KEY = "sk-test-5f1d0c9e8b7a6f5e4d3c2b1a0"


def test_redact_by_value_and_by_shape():
    text = f"invalid key {KEY}; Authorization: Bearer abcdefghijklmnop; api_key=zzzzzzzzzz; mysecretvalue"
    out = redact(text, ["mysecretvalue"])
    assert KEY not in out and "abcdefghijklmnop" not in out and "zzzzzzzzzz" not in out and "mysecretvalue" not in out
    assert out.count(MARK) == 4 and out.startswith("invalid key ")
    assert redact("Le patient a reçu 5 mg.", [KEY]) == "Le patient a reçu 5 mg."


def test_a_key_echoed_by_the_server_is_in_no_written_file(medqa_en, tmp_path, monkeypatch, run_cli):
    monkeypatch.setenv("MY_KEY", KEY)
    src = medqa_en(6)
    records = load_records(src)
    bad = {records[0].question, records[1].question}

    def respond(body, headers, text):
        q = _source_question(body)
        auth = headers.get("authorization", "")
        if q in bad:
            return 400, {"error": {"message": f"bad request for key {auth.removeprefix('Bearer ')} ({auth})"}}
        if q == records[2].question:  # a model repeating its key inside an answer that fails the checks
            return 200, {"choices": [{"message": {"content": f"{{\"question\": \"{KEY}\"}}"}}]}
        return None

    with FakeChatServer(french_json_reply, respond=respond) as server:
        code, out, err = run_cli("translate", src, "-o", tmp_path / "fr.jsonl", "--model", "fake", "--base-url",
                                 server.base_url, "--api-key-env", "MY_KEY", "--cache", tmp_path / "c.sqlite",
                                 "--no-progress", "--max-retries", "0")
        assert server.auth_headers == {f"Bearer {KEY}"}  # the key was sent, so the server could echo it
    assert code == 0, err
    assert KEY not in out + err
    rejected = [row for _, row in iter_jsonl(tmp_path / "fr.rejected.jsonl")]
    failed = [r for r in rejected if r["reason"] == "request_failed"]
    assert len(failed) == 2 and all(r["detail"].startswith("http 400: ") and MARK in r["detail"] for r in failed)
    assert any(MARK in (r["raw"] or "") for r in rejected if r["reason"] != "request_failed")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".sqlite") for p in written)
    for p in written:
        assert KEY.encode() not in p.read_bytes(), p
        assert b"sk-test" not in p.read_bytes(), p


def test_synthesize_accounts_for_every_item_whatever_the_shape(shared_data, tmp_path):
    import itertools

    from medinject.ingest import ingest
    from medinject.io import write_passages
    from medinject.synthesize import run_synthesize

    passages = list(itertools.islice(ingest(shared_data / "e3c_fr_clinical_cases" / "e3c_fr_layer1_layer2.jsonl",
                                            "e3c"), 6))
    write_passages(tmp_path / "p.jsonl", passages)
    mcq = {"question": "Quel diagnostic faut-il évoquer en premier chez ce patient ?",
           "options": {"A": "Une pneumopathie", "B": "Une embolie pulmonaire", "C": "Un infarctus du myocarde",
                       "D": "Une péricardite", "E": "Une dissection aortique"}, "answer": ["B", "D"]}

    def respond(body, headers, text):
        i = next(i for i, p in enumerate(passages) if p.text in body["messages"][1]["content"])
        return odd(SHAPES[i % len(SHAPES)], text)

    with FakeChatServer(lambda body: json.dumps(mcq, ensure_ascii=False), respond=respond) as server:
        spec = BackendSpec(model="fake", base_url=server.base_url, cache=str(tmp_path / "c.sqlite"),
                           options={"max_retries": 0})
        summary = run_synthesize(tmp_path / "p.jsonl", tmp_path / "s.jsonl", spec, kinds=["mcq"], progress=False)
    assert summary["accepted"] + summary["rejected"] == len(passages)
    failed = [r for _, r in iter_jsonl(tmp_path / "s.rejected.jsonl") if r["reason"] == "request_failed"]
    assert [r["detail"].split(":")[0] for r in failed] == ["no_choices"]  # the sixth shape: empty choices
