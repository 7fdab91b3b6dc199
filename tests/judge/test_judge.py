import json

import pytest

from medinject.backends.base import ChatResponse
from medinject.errors import InputError, MedinjectError
from medinject.judge.judge import judge_answers, pair_plan, run_judge, summarize


def test_pairwise_position_swap_and_length_control_on_known_values(make_answers, kit):
    # d = kit.words(a) - kit.words(b): -10 once, 0 twice, +10 five times. The judge picks the longer answer,
    # and the first one shown when both are as long: those two items flip with the order, so they are ties.
    answers = make_answers({"a": [5, 10, 10, 20, 20, 20, 20, 20], "b": [15, 10, 10, 10, 10, 10, 10, 10]})
    verdicts, pairs = judge_answers(answers, kit.ScriptedJudge(kit.length_judge), modes=(), progress=False)
    assert verdicts == [] and len(pairs) == 16
    p = summarize(verdicts, pairs, n_boot=200)["pairwise"][0]
    assert (p["system_a"], p["system_b"], p["n_compared"]) == ("a", "b", 8)
    assert (p["wins_a"], p["wins_b"], p["ties"]) == (5, 1, 2)
    assert p["win_rate_a"]["value"] == pytest.approx(0.75)
    assert p["consistency"]["value"] == pytest.approx(0.75)
    assert p["first_position_rate"] == {"value": pytest.approx(10 / 16), "n": 16}
    # Verdicts lie exactly on y = 0.5 + 0.05 d: the length-controlled win rate is 0.5, not the raw 0.75.
    lc = p["length_controlled_win_rate_a"]
    assert lc["value"] == pytest.approx(0.5) and lc["slope_per_word"] == pytest.approx(0.05)
    lo, hi = p["win_rate_a"]["ci"]
    assert lo < 0.75 < hi


def test_both_orders_are_asked_and_mapped_back_to_systems(make_answers, kit):
    answers = make_answers({"a": [20], "b": [10]})
    judge = kit.ScriptedJudge(kit.length_judge)
    _, pairs = judge_answers(answers, judge, modes=(), progress=False)
    assert [(r["order"], r["shown_first"], r["verdict"], r["winner"]) for r in pairs] == [
        ("ab", "a", "A", "a"), ("ba", "b", "B", "a")]
    first, second = judge.requests
    assert kit.shown(first)["Réponse A"] == kit.words(20) and kit.shown(first)["Réponse B"] == kit.words(10)
    assert kit.shown(second)["Réponse A"] == kit.words(10) and kit.shown(second)["Réponse B"] == kit.words(20)


def test_graded_length_controlled_score_and_length_correlation(make_answers, kit):
    # Score = 5 + d/10 exactly, with d = answer - reference words in {0, 10, 20, 30}: raw mean 6.5, 5 at d = 0.
    answers = make_answers({"s": [10, 20, 30, 40, 40, 30, 20, 10]})
    verdicts, _ = judge_answers(answers, kit.ScriptedJudge(kit.length_judge), modes=("graded",), progress=False)
    assert [v["score"] for v in verdicts] == [5, 6, 7, 8, 8, 7, 6, 5]
    s = summarize(verdicts, [], n_boot=200)["systems"]["s"]["graded"]
    assert s["mean"]["value"] == pytest.approx(6.5)
    assert s["length_controlled"]["value"] == pytest.approx(5.0)
    assert s["length_controlled"]["slope_per_word"] == pytest.approx(0.1)
    assert s["length_correlation"]["pearson"]["value"] == pytest.approx(1.0)
    assert s["prompt_version"] == "graded-fr-v1"


def test_unparseable_and_failed_verdicts_are_counted_and_excluded_never_zero(make_answers, kit):
    answers = make_answers({"s": [10, 10, 10, 10]})

    def script(req):
        if "Question 1 ?" in req.messages[-1]["content"]:
            return "Je pense que la réponse est plutôt bonne."
        if "Question 2 ?" in req.messages[-1]["content"]:
            return ChatResponse(text=None, error="HTTP 500 after 6 retries")
        return "Verdict : 1"

    verdicts, _ = judge_answers(answers, kit.ScriptedJudge(script), modes=("binary",), progress=False)
    by_id = {v["id"]: v for v in verdicts}
    assert by_id["q1"]["status"] == "unparseable" and by_id["q1"]["score"] is None
    assert by_id["q1"]["raw"] == "Je pense que la réponse est plutôt bonne."
    assert by_id["q1"]["reason"] == "no 'Verdict:' line"
    assert by_id["q2"]["status"] == "failed" and "HTTP 500" in by_id["q2"]["reason"]
    s = summarize(verdicts, [], n_boot=100)
    binary = s["systems"]["s"]["binary"]
    assert binary["mean"] == {"value": 1.0, "ci": [1.0, 1.0], "n": 2}
    assert binary["excluded"] == {"unparseable": 1, "failed": 1}
    assert s["counts"]["verdicts"] == {"ok": 2, "unparseable": 1, "failed": 1}


def test_pair_plan_first_all_none(make_answers):
    answers = make_answers({"base": [1, 1], "x": [1], "y": [1, 1]})
    assert pair_plan(answers, "first") == [("q1", "base", "x"), ("q1", "base", "y"), ("q2", "base", "y")]
    assert len(pair_plan(answers, "all")) == 4 and pair_plan(answers, "none") == []
    with pytest.raises(MedinjectError, match="--pairwise"):
        pair_plan(answers, "some")


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_run_judge_reads_both_layouts_and_writes_verdicts_and_summary(tmp_path, kit):
    # The evaluator's layout: one line per item and mode, multiple-choice lines skipped, question in the prompt.
    # The evaluator stores the chat-template text as `prompt`: the judge must see the question alone.
    prompt = ("<|im_start|>system\nVous êtes un assistant.<|im_end|>\n<|im_start|>user\nRépondez à la question "
              "médicale suivante de manière précise et concise.\n\nQuestion : Dose ?<|im_end|>\n"
              "<|im_start|>assistant\n")
    (tmp_path / "base").mkdir()
    ev = _write(tmp_path / "base" / "predictions.jsonl", [
        {"id": "m1", "task": "mcq", "gold": ["A"], "pred": ["A"]},
        {"id": "o1", "task": "oeq", "prompt": prompt, "reference": kit.words(10), "prediction": kit.words(10)},
        {"id": "o2", "task": "oeq", "question": "Cause ?", "reference": kit.words(10), "prediction": kit.words(20)},
    ])
    simple = _write(tmp_path / "nat.jsonl", [
        {"id": "o1", "question": "Dose ?", "reference": kit.words(10), "prediction": kit.words(30)},
        {"id": "o2", "question": "Cause ?", "reference": kit.words(10), "prediction": kit.words(10)},
    ])
    out = tmp_path / "judged"
    judge = kit.ScriptedJudge(kit.length_judge)
    summary = run_judge({"base": ev, "NAT": simple}, out, backend=judge, n_boot=50, progress=False)
    asked = [r.messages[-1]["content"] for r in judge.requests if "Dose ?" in r.messages[-1]["content"]]
    assert len(asked) == 6 and not any("<|im" in a or "Répondez" in a for a in asked)
    assert set(summary["systems"]) == {"base", "NAT"}
    assert summary["systems"]["NAT"]["graded"]["mean"]["value"] == pytest.approx(6.0)
    assert summary["pairwise"][0]["system_a"] == "base" and summary["pairwise"][0]["n_compared"] == 2
    rows = [json.loads(line) for line in (out / "verdicts.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(r["raw"].strip() and r["judge_model"] == "scripted-judge" for r in rows)
    assert {r["id"] for r in rows} == {"o1", "o2"}
    assert (out / "summary.md").read_text().startswith("| system |")
    assert len((out / "pairwise.jsonl").read_text().splitlines()) == 4
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["judge"]["model"] == "scripted-judge" and on_disk["bootstrap"]["n_boot"] == 50


def test_bad_prediction_files_name_line_and_field(tmp_path, run_cli, kit):
    bad = _write(tmp_path / "p.jsonl", [{"id": "o1", "question": "Q", "reference": "R", "prediction": "P"},
                                        {"id": "o2", "question": "Q", "prediction": "P"}])
    with pytest.raises(InputError, match="line 2: record o2: field 'reference'"):
        run_judge([bad], tmp_path / "out", backend=kit.ScriptedJudge(kit.length_judge), progress=False)
    assert not (tmp_path / "out").exists()
    code, _, err = run_cli("judge", bad, "-o", tmp_path / "out", "--model", "m", "--base-url", "http://127.0.0.1:9")
    assert code == 2 and "line 2" in err and "reference" in err and "Traceback" not in err
    code, _, err = run_cli("judge", bad, bad, "--systems", "a", "-o", tmp_path / "out", "--model", "m")
    assert code == 2 and "--systems names 1 system(s) for 2 file(s)" in err


def test_paper_judge_asks_one_greedy_token_with_the_first_user_message(tmp_path, kit):
    user = "Quelle est la dose ?\nContexte : adulte"
    prompt = f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    (tmp_path / "base").mkdir()
    ev = _write(tmp_path / "base" / "predictions.jsonl", [
        {"id": "o1", "task": "oeq", "prompt": prompt, "reference": "1 g", "prediction": "un gramme"},
        {"id": "o2", "task": "oeq", "question": "Cause ?", "reference": "virus", "prediction": "bactérie"},
        {"id": "o3", "task": "oeq", "question": "Signe ?", "reference": "fièvre", "prediction": "fièvre"},
    ])
    replies = {"un gramme": "1", "bactérie": "0", "fièvre": "10"}
    judge = kit.ScriptedJudge(lambda r: replies[r.messages[-1]["content"].split("Candidate_answer: ")[1]
                                                .split("\n")[0]])
    summary = run_judge({"base": ev}, tmp_path / "out", backend=judge, modes=["paper"], max_tokens=512,
                        temperature=0.7, n_boot=20, progress=False)
    assert all(r.max_tokens == 1 and r.temperature == 0.0 for r in judge.requests)
    first = judge.requests[0].messages
    assert first[1]["content"] == f"Question: {user}\nCandidate_answer: un gramme\nGround_truth: 1 g"
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "out" / "verdicts.jsonl").read_text().splitlines())}
    assert (rows["o1"]["score"], rows["o2"]["score"], rows["o3"]["score"]) == (1, 0, None)
    assert rows["o3"]["status"] == "unparseable" and rows["o3"]["raw"] == "10"
    s = summary["systems"]["base"]["paper"]
    assert s["mean"]["value"] == pytest.approx(0.5) and s["excluded"]["unparseable"] == 1
    assert summary["judge"]["prompts"]["paper"] == {"version": "paper-en-v1", "lang": "en",
                                                    "parser": "first_standalone_binary", "max_tokens": 1,
                                                    "temperature": 0.0}


def test_a_constrained_judge_parses_every_verdict_of_a_random_local_model(make_answers, toy_model):
    # A random-weight model never writes a `Verdict:` line; held to the scale by the backend, it always answers.
    from medinject.backends import make_backend

    answers = make_answers({"base": [3, 8], "x": [5, 2]})
    be = make_backend("transformers", str(toy_model), cache=False, device="cpu")
    free, free_pairs = judge_answers(answers, be, modes=("binary",), pairwise="first", max_tokens=6, progress=False)
    assert {v["status"] for v in free + free_pairs} == {"unparseable"}
    verdicts, pairs = judge_answers(answers, be, modes=("binary", "graded"), pairwise="first", max_tokens=6,
                                    verdict="constrained", progress=False)
    assert len(verdicts) == 8 and len(pairs) == 4
    assert all(v["status"] == "ok" for v in verdicts + pairs)
    assert {v["score"] for v in verdicts if v["mode"] == "binary"} <= {0, 1}
    assert {v["score"] for v in verdicts if v["mode"] == "graded"} <= set(range(1, 11))
    assert {p["verdict"] for p in pairs} <= {"A", "B", "tie"}
    with pytest.raises(MedinjectError, match="verdict must be one of"):
        judge_answers(answers, be, modes=("binary",), verdict="forced", progress=False)
