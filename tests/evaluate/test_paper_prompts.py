"""Prompt styles: `paper` sends each item's own messages through the chat template, byte for byte."""

import json

import pytest

from medinject.evaluate.mcqa import render_prompts
from medinject.ingest.medinjection import read_medinjection
from medinject.prompts import authors_user_text, prompt_messages
from medinject.records import Record

# SmolLM2-Instruct's published ChatML template: it adds its own system turn when the messages have none.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _items():
    def it(user, answer, classes, extra=()):
        return {"messages": [*extra, {"role": "user", "content": user}, {"role": "assistant", "content": answer}],
                "classes": classes, "answer": answer}

    return [
        it("Quel traitement ?\nChoix de réponses :\n(A) Amoxicilline\n(B) Aspirine", "A", ["A", "B"]),
        it("Signes ?\nA. Fièvre  \nB. Toux\nC. Rash\n\nRépondez par les lettres.", "A, C", ["A", "B", "C"]),
        it("Options illisibles ici", "B", ["A", "B"]),
        it("Et celle-ci ?\n(A) x\n(B) y", "B", ["A", "B"],
           extra=[{"role": "user", "content": "Bonjour"}, {"role": "assistant", "content": "Bonjour !"}]),
    ]


@pytest.fixture
def component(tmp_path):
    folder = tmp_path / "Native" / "Test" / "mcq"
    folder.mkdir(parents=True)
    (folder / "set.json").write_text(json.dumps(_items(), ensure_ascii=False), encoding="utf-8")
    return list(read_medinjection(tmp_path / "Native"))


@pytest.fixture(scope="module")
def tokenizers(toy_model):
    from transformers import AutoTokenizer

    toy = AutoTokenizer.from_pretrained(toy_model)
    smol = AutoTokenizer.from_pretrained(toy_model)
    smol.chat_template = SMOLLM2_TEMPLATE
    return {"toy": toy, "smollm2": smol}


@pytest.mark.parametrize("name", ["toy", "smollm2"])
def test_paper_prompt_is_the_template_of_the_source_messages(component, tokenizers, name):
    tok = tokenizers[name]
    stats = {}
    texts, ids = render_prompts(tok, component, "paper", stats)
    for r, text, tokens in zip(component, texts, ids, strict=True):
        msgs = [m for m in r.meta["messages"] if m["role"] != "assistant"]
        expected = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        assert text == expected
        assert tokens == list(tok.apply_chat_template(msgs, add_generation_prompt=True, return_dict=False))
    assert stats == {"verbatim": 4, "system_folded": 0}
    assert "Fièvre  \nB. Toux" in texts[1]  # the source text, not our cleaned copy
    assert ("You are a helpful AI assistant named SmolLM" in texts[0]) == (name == "smollm2")


def test_authors_rendering_without_source_messages(tokenizers):
    r = Record(id="r", task="mcq", question="Lesquels ?", options={"A": "a", "B": "b", "C": "c"}, answer=["A"],
               origin="native", source="s")
    assert authors_user_text(r) == "Lesquels ?\nChoix de réponses :\n(A) a\n(B) b\n(C) c"
    msgs, kind = prompt_messages(r, "paper")
    assert kind == "authors" and msgs == [{"role": "user", "content": authors_user_text(r)}]
    fr, kind = prompt_messages(r, "medinject-fr")
    assert kind == "medinject-fr" and [m["role"] for m in fr] == ["system", "user"] and "A. a" in fr[1]["content"]


def test_unparsed_options_always_use_the_verbatim_prompt(component):
    bad = next(r for r in component if r.meta["options_parsed"] is False)
    for style in ("paper", "authors", "medinject-fr"):
        msgs, kind = prompt_messages(bad, style)
        assert kind == "verbatim" and msgs == [{"role": "user", "content": "Options illisibles ici"}]
    parsed = component[0]
    assert prompt_messages(parsed, "authors")[1] == "authors"
    assert prompt_messages(parsed, "medinject-fr")[1] == "medinject-fr"


def test_paper_eval_end_to_end(component, toy_model, tmp_path, run_cli):
    from medinject.io import write_records

    data = tmp_path / "d.jsonl"
    write_records(data, component)
    out = tmp_path / "run"
    code, stdout, err = run_cli("eval", "--model", toy_model, "--data", data, "-o", out, "--mode", "paper",
                                "--permute", 1, "--no-progress")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    s = summary["settings"]
    assert (s["prompt_style"], s["per_item"], s["prompts"]) == ("paper", True, {
        "authors": 3, "system_folded": 0, "verbatim": 4})  # 3 permuted copies, rendered from their fields
    assert s["variants_skipped_unparsed_options"] == 1
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(toy_model)
    by_id = {r.id: r for r in component}
    for row in map(json.loads, (out / "predictions.jsonl").read_text().splitlines()):
        if row["variant"] == "original":
            msgs = [m for m in by_id[row["id"]].meta["messages"] if m["role"] != "assistant"]
            assert row["prompt"] == tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        else:
            assert "Choix de réponses :\n(A) " in row["prompt"]
    assert "pooled over 4 items (micro)" in stdout and "mean of 1 test sets (macro)" in stdout


def _model_copy(toy_model, dest, template):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(toy_model)
    tok.chat_template = template
    AutoModelForCausalLM.from_pretrained(toy_model).save_pretrained(dest)
    tok.save_pretrained(dest)
    if template is None:
        (dest / "chat_template.jinja").unlink(missing_ok=True)
    return dest


NO_SYSTEM = ("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
             "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] | trim + "
             "'<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<|im_start|>model\n'}}{% endif %}")


def _records_file(tmp_path):
    from medinject.io import write_records

    p = tmp_path / "q.jsonl"
    write_records(p, [Record(id=f"q{i}", task="mcqu", question=f"Question {i} ?", options={"A": "x", "B": "y"},
                             answer=["A"], origin="native", source="s") for i in range(3)])
    return p


def test_template_refusing_system_gets_it_folded_and_recorded(toy_model, tmp_path, run_cli):
    model = _model_copy(toy_model, tmp_path / "m", NO_SYSTEM)
    out = tmp_path / "run"
    code, _, err = run_cli("eval", "--model", model, "--data", _records_file(tmp_path), "-o", out, "--no-progress",
                           "--modes", "constrained")
    assert code == 0, err
    s = json.loads((out / "summary.json").read_text())["settings"]
    assert s["prompts"] == {"medinject-fr": 3, "system_folded": 3}
    row = json.loads((out / "predictions.jsonl").read_text().splitlines()[0])
    assert row["prompt"].startswith("<|im_start|>user\nVous êtes un assistant médical")


def test_shared_case_chat_template_no_system(toy_model, tmp_path, run_cli):
    """../shared/cases/chat-template-no-system: its template file given with --chat-template."""
    from tests.conftest import SHARED

    case = SHARED.parent / "cases" / "chat-template-no-system"
    if not case.is_dir():
        pytest.skip("shared cases not present")
    out = tmp_path / "run"
    code, _, err = run_cli("eval", "--model", toy_model, "--data", case / "q.jsonl", "-o", out, "--no-progress",
                           "--chat-template", case / "chat_template.jinja", "--modes", "constrained")
    assert code == 0, err
    s = json.loads((out / "summary.json").read_text())["settings"]
    assert s["prompts"]["system_folded"] == s["prompts"]["medinject-fr"] > 0
    assert s["chat_template"].endswith("chat_template.jinja")


def test_no_template_missing_folder_and_offline_hub_are_one_line(toy_model, tmp_path, run_cli, monkeypatch):
    data = _records_file(tmp_path)
    bare = _model_copy(toy_model, tmp_path / "bare", None)
    cases = [(bare, "--chat-template FILE"), (tmp_path / "nope" / "model", "does not exist"),
             ("./not-here", "does not exist"), ("medinject-test/no-such-model", "HF_HUB_OFFLINE=1")]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for model, words in cases:
        code, _, err = run_cli("eval", "--model", model, "--data", data, "-o", tmp_path / "x", "--no-progress")
        errors = [line for line in err.splitlines() if line.startswith("error")]
        assert code == 2 and len(errors) == 1 and words in errors[0], err
        assert "Traceback" not in err and not (tmp_path / "x").exists()


def test_local_backend_folds_a_refused_system_turn(toy_model, tmp_path):
    from medinject.backends.base import ChatRequest
    from medinject.backends.transformers_local import TransformersBackend

    tpl = tmp_path / "no_system.jinja"
    tpl.write_text(NO_SYSTEM, encoding="utf-8")
    backend = TransformersBackend(str(toy_model), cache=False, device="cpu", chat_template=str(tpl))
    msgs = [{"role": "system", "content": "Sois bref."}, {"role": "user", "content": "Bonjour ?"}]
    assert backend._prompt(ChatRequest(messages=msgs)) == "<|im_start|>user\nSois bref.\n\nBonjour ?<|im_end|>\n" \
                                                          "<|im_start|>model\n"
    out = backend.generate([ChatRequest(messages=msgs, max_tokens=2)])
    assert len(out) == 1 and backend.stats["system_folded"] == 2
