"""The judge end to end: through `transformers serve` with the toy model, and against a fault-injecting server."""

import json

import pytest
from fakeserver import FakeChatServer, body_key

from medinject.io import load_records
from medinject.judge import run_judge

pytestmark = pytest.mark.e2e


def predictions(tmp_path, n=4):
    """Two systems' answers to the sample eval set's open-ended items (the reference, and a truncated one)."""
    from medinject.demo import sample_dir

    items = [r for r in load_records(sample_dir() / "eval.jsonl") if r.task.value == "oeq"][:n]
    files = []
    for system, cut in (("base", 3), ("NAT", None)):
        p = tmp_path / f"{system}.jsonl"
        p.write_text("".join(json.dumps({"id": r.id, "task": "oeq", "question": r.question, "reference": r.answer,
                                         "prediction": " ".join(r.answer.split()[:cut])}, ensure_ascii=False) + "\n"
                             for r in items), encoding="utf-8")
        files.append(f"{system}={p}")
    return files


def rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_judge_cli_through_transformers_serve_and_the_toy_model(toy_server, tmp_path, run_cli):
    url, model = toy_server
    files = predictions(tmp_path, n=2)  # the server takes about a second per judge prompt on a busy CPU
    out = tmp_path / "judge"
    args = ["judge", *files, "-o", out, "--model", model, "--base-url", url,
            "--cache", tmp_path / "cache.sqlite", "--modes", "binary", "--max-tokens", "8", "--n-boot", "100"]
    code, stdout, err = run_cli(*args)
    assert code == 0, err
    verdicts, pairs = rows(out / "verdicts.jsonl"), rows(out / "pairwise.jsonl")
    assert len(verdicts) == 4 and len(pairs) == 4  # 2 items x 2 systems; 2 items x 2 orders
    # A random toy model writes no verdict line: every verdict is kept, raw text and reason, none scored 0.
    for r in verdicts + pairs:
        assert r["status"] in ("ok", "unparseable") and isinstance(r["raw"], str), r
        assert (r["status"] == "ok") == (r["reason"] is None)
    summary = json.loads((out / "summary.json").read_text())
    c = summary["counts"]["verdicts"]
    assert c["failed"] == 0 and c["ok"] + c["unparseable"] == 4
    nat = summary["systems"]["NAT"]["binary"]
    assert nat["excluded"]["unparseable"] + nat["mean"]["n"] == 2 and nat["prompt_version"] == "binary-fr-v1"
    assert "unparseable" in stdout and summary["judge"]["systems"] == ["base", "NAT"]
    code, _, err = run_cli(*args)  # a rerun comes from the request cache
    assert code == 0, err
    assert all(r["cached"] for r in rows(out / "verdicts.jsonl"))
    assert [r["raw"] for r in rows(out / "verdicts.jsonl")] == [r["raw"] for r in verdicts]


def judge_reply(body):
    text = body["messages"][-1]["content"]
    if "Réponse A :" in text:
        return "A est plus complète.\nVerdict : A"
    if "entier de 1 à 10" in text:
        return "Correct mais incomplet.\nVerdict : 6"
    return "Même information.\nVerdict : 1"


def test_judge_against_a_fault_injecting_server_loses_no_item(tmp_path):
    faults = ("429", "500", "malformed", "drop", "hang")
    doomed = set()  # one request that fails every time: it must end as 'failed', not vanish

    def fault(body, n):
        key = body_key(body)
        if not doomed and "entier de 1 à 10" in body["messages"][-1]["content"]:
            doomed.add(key)
        if key in doomed:
            return "500"
        return faults[int(key[:8], 16) % len(faults)] if n == 1 else None

    files = {f.split("=")[0]: f.split("=")[1] for f in predictions(tmp_path)}
    with FakeChatServer(judge_reply, fault=fault, retry_after="0", hang_seconds=3) as srv:
        kw = dict(backend_kind="openai", model="judge", base_url=srv.base_url, cache=tmp_path / "cache.sqlite",
                  concurrency=4, timeout=1.0, max_retries=3, backoff_base=0.01, backoff_max=0.05, n_boot=100,
                  progress=False)
        summary = run_judge(files, tmp_path / "out", **kw)
        assert set(srv.faults_sent) == set(faults)
        verdicts, pairs = rows(tmp_path / "out" / "verdicts.jsonl"), rows(tmp_path / "out" / "pairwise.jsonl")
        assert len(verdicts) == 16 and len(pairs) == 8
        failed = [r for r in verdicts + pairs if r["status"] != "ok"]
        assert len(failed) == 1 and failed[0]["status"] == "failed" and "500" in failed[0]["reason"]
        assert summary["counts"]["verdicts"] == {"ok": 15, "unparseable": 0, "failed": 1}
        graded = [s["graded"] for s in summary["systems"].values()]
        assert sorted(g["mean"]["n"] for g in graded) == [3, 4] and {g["mean"]["value"] for g in graded} == {6.0}
        assert summary["pairwise"][0]["consistency"]["value"] == 0.0  # always 'A': both orders disagree
        assert summary["pairwise"][0]["ties"] == 4

        sent = sum(srv.received.values())
        run_judge(files, tmp_path / "out2", **kw)  # answered requests come from the cache; only the failure is retried
        assert sum(srv.received.values()) - sent == 4  # 1 + max_retries attempts
        assert rows(tmp_path / "out2" / "verdicts.jsonl") == [{**r, "cached": r["status"] == "ok"} for r in verdicts]
