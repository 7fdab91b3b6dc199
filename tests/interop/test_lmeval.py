"""The lm-eval task folder loads in lm-eval's own TaskManager and runs there; its samples files score in medinject."""

import json

import pytest

from medinject.interop.lmeval import export_lmeval, read_samples
from medinject.prompts import FR, to_messages, user_text
from medinject.records import Record

pytest.importorskip("lm_eval")
from lm_eval.api.model import LM  # noqa: E402


def rec(i, task="mcqu", answer=("B",), source="bench", **kw):
    return Record(id=f"q{i}", task=task, question=f"Question {i} ?", options={"A": "a", "B": "b", "C": "c", "D": "d"},
                  answer=list(answer), origin="native", source=source, **kw)


RECORDS = [rec(1), rec(2, answer=("D",), context="Patient de 60 ans."), rec(3, task="mcq", answer=("A", "C")),
           rec(4, task="mcq", answer=("B",)), rec(5, task="mcq", answer=("A", "B", "D")),
           Record(id="o1", task="oeq", question="Pourquoi ?", answer="Parce que.", origin="native", source="bench")]


@pytest.fixture
def task_folder(tmp_path):
    out = tmp_path / "tasks"
    counts = export_lmeval(RECORDS, out)
    assert counts == {"medinject_bench_mcqu": 2, "medinject_bench_mcq": 3}  # open-ended left out
    return out


def _load(folder):
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(folder), include_defaults=False)
    return tm, tm.load(["medinject"])["tasks"]


def test_exported_tasks_load_with_lm_evals_task_manager_and_use_our_prompt(task_folder):
    tm, loaded = _load(task_folder)
    assert {"medinject", "medinject_bench_mcqu", "medinject_bench_mcq"} <= set(tm.all_tasks)
    tasks = {t.config.task: t for t in loaded.values()}
    mcqu, mcq = tasks["medinject_bench_mcqu"], tasks["medinject_bench_mcq"]
    assert mcqu.OUTPUT_TYPE == "multiple_choice" and mcq.OUTPUT_TYPE == "generate_until"
    docs = list(mcqu.test_docs())
    assert mcqu.doc_to_text(docs[1]) == user_text(RECORDS[1]) and "Contexte :" in mcqu.doc_to_text(docs[1])
    assert mcqu.doc_to_choice(docs[0]) == ["A", "B", "C", "D"] and mcqu.doc_to_target(docs[1]) == 3
    assert mcqu.config.description == FR["system"] and mcqu.config.target_delimiter == ""
    assert [d["id"] for d in mcq.test_docs()] == ["q3", "q4", "q5"]


class CannedLM(LM):
    """Answers from a table keyed by the chat lm-eval sends: the letter to favour, or the text to generate."""

    def __init__(self, favour, texts):
        super().__init__()
        self.favour, self.texts = favour, texts

    @property
    def tokenizer_name(self):
        return "canned"

    def apply_chat_template(self, chat_history, add_generation_prompt=True):
        return json.dumps(chat_history, ensure_ascii=False)

    def loglikelihood(self, requests):
        return [(0.0 if cont == self.favour[ctx] else -5.0, cont == self.favour[ctx])
                for ctx, cont in (r.args for r in requests)]

    def generate_until(self, requests):
        return [self.texts[r.args[0]] for r in requests]

    def loglikelihood_rolling(self, requests):
        raise NotImplementedError


def test_a_run_in_lm_eval_sends_our_messages_and_its_samples_score_as_lm_eval_did(task_folder, tmp_path, caplog):
    from lm_eval.evaluator import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(task_folder), include_defaults=False)

    def chat(r):  # with --apply_chat_template lm-eval must send exactly the evaluator's messages
        return json.dumps(to_messages(r, with_answer=False), ensure_ascii=False)

    favour = {chat(RECORDS[0]): "B", chat(RECORDS[1]): "A"}  # right, wrong
    texts = {chat(RECORDS[2]): "A, C", chat(RECORDS[3]): "B, Z", chat(RECORDS[4]): "a ,b"}  # right, invalid, partial
    try:
        res = simple_evaluate(model=CannedLM(favour, texts), tasks=["medinject"], task_manager=tm, log_samples=True,
                              apply_chat_template=True)
    except KeyError as e:  # lm-eval sent another prompt than ours: show it
        pytest.fail(f"unexpected prompt: {e!s:.400}")
    assert res["results"]["medinject_bench_mcqu"]["acc,none"] == 0.5
    assert res["results"]["medinject_bench_mcq"]["em,strict"] == pytest.approx(1 / 3)
    assert res["results"]["medinject_bench_mcq"]["hamming,strict"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    tracker = EvaluationTracker(output_path=str(tmp_path / "out"))  # what `lm_eval --log_samples` does
    samples_by_task = res.pop("samples")
    tracker.save_results_aggregated(results=res, samples=samples_by_task)
    for name, samples in samples_by_task.items():
        tracker.save_results_samples(task_name=name, samples=samples)
    files = sorted((tmp_path / "out").rglob("samples_*.jsonl"))
    assert len(files) == 2, caplog.text
    rows = {r["id"]: r for r in read_samples(tmp_path / "out")}  # the run's folder: every task
    assert len(rows) == 5
    assert rows["q1"]["pred"] == ["B"] and rows["q2"]["pred"] == ["A"] and rows["q4"]["pred"] is None
    assert rows["q5"]["pred"] == ["A", "B"] and rows["q3"]["mode"] == "lm-eval-generate"


def _sample(doc_id, doc, target, filtered, filt="none", resps=None):
    # lm-eval logs `resps` one level deeper than `filtered_resps` (a list of answers per request).
    resps = resps or [[r] for r in filtered] if isinstance(filtered[0], list) else [filtered]
    return {"doc_id": doc_id, "doc": doc, "target": target, "arguments": {}, "resps": resps,
            "filtered_resps": filtered, "filter": filt, "metrics": ["acc"], "doc_hash": "x", "prompt_hash": "y",
            "target_hash": "z", "acc": 0.0}


def test_handwritten_samples_file_scores_to_hand_computed_em(tmp_path, run_cli):
    # A generic lm-eval multiple-choice task (no medinject fields): gold is the choice at `target`.
    lines = [
        _sample(0, {"question": "q0"}, "2", [["-3.1", "False"], ["-2.0", "False"], ["-0.4", "True"]]),  # C = C
        _sample(1, {"question": "q1"}, "0", [["-0.1", "True"], ["-2.0", "False"], ["-9.0", "False"]]),  # A = A
        _sample(2, {"question": "q2"}, "1", [["-0.2", "True"], ["-2.0", "False"], ["-0.3", "False"]]),  # A != B
        _sample(3, {"question": "q3"}, "0", [["-1.0", "False"], ["-0.5", "True"], ["-0.7", "False"]]),  # B != A
    ]
    path = tmp_path / "samples_medqa_fr_2026-01-01T00-00-00.000000.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    code, out, err = run_cli("score", path, "-o", tmp_path / "s.json", "--bertscore-model", "none")
    assert code == 0, err
    summary = json.loads((tmp_path / "s.json").read_text())
    em = {(e["source"], e["task"]): e["value"] for e in summary["results"]
          if e["metric"] == "em" and e["mode"] == "lm-eval-loglikelihood"}
    assert em[("medqa_fr", "mcqu")] == 0.5 and em[("all", "mcqu")] == 0.5


def test_samples_of_our_generation_task_score_em_and_hamming(tmp_path, run_cli):
    doc = {"id": "q3", "source": "bench", "task": "mcq", "choices": ["A", "B", "C", "D"], "gold": ["A", "C"]}
    lines = [_sample(0, doc, "A, C", ["A, C"], "strict"), _sample(1, {**doc, "id": "q4"}, "A, C", ["A"], "strict"),
             _sample(2, {**doc, "id": "q5"}, "A, C", ["[invalid]"], "strict")]
    path = tmp_path / "samples_medinject_bench_mcq_2026-01-01T00-00-00.000000.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    code, _, err = run_cli("score", path, "-o", tmp_path / "s.json", "--bertscore-model", "none")
    assert code == 0, err
    res = {(e["source"], e["metric"]): e["value"] for e in json.loads((tmp_path / "s.json").read_text())["results"]
           if e["task"] == "mcq"}
    assert res[("bench", "em")] == pytest.approx(1 / 3)
    assert res[("bench", "hamming")] == pytest.approx((1 + 0.5 + 0) / 3)


def test_a_broken_samples_line_is_one_line_error(tmp_path, run_cli):
    path = tmp_path / "samples_x_2026-01-01T00-00-00.jsonl"
    path.write_text(json.dumps(_sample(0, {"q": 1}, "7", [["-1", "True"], ["-2", "False"]])) + "\n")
    code, _, err = run_cli("score", path, "--bertscore-model", "none")
    assert code == 2 and "line 1" in err and "target" in err and err.count("\n") == 1
