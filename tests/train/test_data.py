import pytest

from medinject.errors import MedinjectError
from medinject.prompts import to_messages
from medinject.records import Record
from medinject.train.data import IGNORE, chat_messages, encode, encode_record, ensure_chat_template


def rec(**kw) -> Record:
    base = dict(id="r1", task="mcq", question="Quels antibiotiques sont des bêta-lactamines ?",
                options={"A": "Amoxicilline", "B": "Vancomycine", "C": "Céfotaxime", "D": "Gentamicine"},
                answer=["C", "A"], origin="native", source="test")
    return Record(**{**base, **kw})


@pytest.fixture(scope="module")
def tok(toy_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(toy_model)


def prompt_ids(tok, r):
    return tok.apply_chat_template(to_messages(r)[:-1], tokenize=True, add_generation_prompt=True)["input_ids"]


@pytest.mark.parametrize("record", [
    rec(),
    rec(task="mcqu", answer=["B"], context="Patient de 54 ans, allergique à la pénicilline."),
    rec(task="oeq", options={}, answer="Une inhibition de la synthèse de la paroi bactérienne."),
], ids=["mcq", "mcqu-context", "oeq"])
def test_answer_mask_is_exactly_answer_and_end_of_turn(tok, record):
    row = encode_record(record, tok)
    ids, labels = row["input_ids"], row["labels"]
    assert len(ids) == len(labels)
    kept = [i for i, t in enumerate(labels) if t != IGNORE]
    # one contiguous span, starting right after the generation prompt, labels equal to the inputs
    n_prompt = len(prompt_ids(tok, record))
    assert kept == list(range(n_prompt, n_prompt + len(kept)))
    assert [ids[i] for i in kept] == [labels[i] for i in kept]
    expected = {"mcq": "A, C", "mcqu": "B", "oeq": record.answer}[record.task.value]
    assert tok.decode([ids[i] for i in kept]) == expected + "<|im_end|>"
    # nothing of the prompt, and nothing after the end-of-turn token (the template's trailing newline)
    assert all(t == IGNORE for t in labels[:n_prompt])
    assert tok.decode(ids[kept[-1] + 1:]) == "\n"


def test_loss_on_all_covers_the_whole_chat(tok):
    row = encode_record(rec(), tok, loss_on="all")
    assert row["labels"] == row["input_ids"]
    assert tok.decode(row["input_ids"]).startswith("<|im_start|>system\n")


def test_paper_prompt_is_the_authors_rendering_without_system_turn():
    msgs = chat_messages(rec(), "paper")
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    assert msgs[0]["content"] == ("Quels antibiotiques sont des bêta-lactamines ?\nChoix de réponses :\n"
                                  "(A) Amoxicilline\n(B) Vancomycine\n(C) Céfotaxime\n(D) Gentamicine")
    assert msgs[1]["content"] == "A, C"
    # a record that kept its source messages is trained on them as given
    given = [{"role": "user", "content": "Question brute\n(A) x\n(B) y"}, {"role": "assistant", "content": "B"}]
    r = rec(task="mcqu", answer=["B"], meta={"messages": given})
    assert chat_messages(r, "paper") == given
    assert chat_messages(r, "medinject")[0]["role"] == "system"


def test_paper_recipe_loss_covers_every_non_padding_token_of_the_rendered_chat(tok):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    records = [rec(), rec(id="r2", task="mcqu", answer=["D"], context="Patient de 54 ans."),
               rec(id="r3", task="oeq", options={}, answer="Une inhibition de la paroi bactérienne.")]
    enc = encode(records, tok, loss_on="all", over_long="truncate", prompt="paper", max_length=2048)
    for r, row in zip(records, enc.rows, strict=True):
        text = tok.apply_chat_template(chat_messages(r, "paper"), tokenize=False)
        assert row["input_ids"] == tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(row["input_ids"]) == text  # the whole rendered chat, nothing added or lost
    batch = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id)(enc.rows)
    real = batch["attention_mask"].bool()
    assert (batch["labels"][real] == batch["input_ids"][real]).all()  # loss on every real token
    assert (batch["labels"][~real] == IGNORE).all() and (~real).any()  # none on padding, which is right-side
    assert all(batch["attention_mask"][i, :len(r["input_ids"])].all() for i, r in enumerate(enc.rows))


def test_paper_truncates_where_ours_drops(tok):
    long = rec(id="long", context="Antécédents sans particularité. " * 60)
    n_long = len(encode_record(long, tok, loss_on="all", prompt="paper")["input_ids"])
    paper = encode([long], tok, loss_on="all", over_long="truncate", prompt="paper", max_length=64)
    assert n_long > 64 and paper.truncated == 1 and paper.answer_cut == 1 and not paper.dropped_too_long
    assert len(paper.rows[0]["input_ids"]) == 64
    ours = encode([long], tok, loss_on="answer", over_long="drop", max_length=64)
    assert ours.dropped_too_long == ["long"] and not ours.rows


def test_a_template_refusing_system_folds_it(tok):
    from transformers import AutoTokenizer

    refusing = AutoTokenizer.from_pretrained(tok.name_or_path)
    refusing.chat_template = ("{% for m in messages %}{% if m['role'] == 'system' %}"
                              "{{ raise_exception('System role not supported') }}{% endif %}"
                              "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                              "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    enc = encode([rec()], refusing)
    assert enc.folded_system == 1
    text = refusing.decode(enc.rows[0]["input_ids"])
    assert text.startswith("<|im_start|>user\nVous êtes un assistant médical")
    assert encode([rec()], refusing, prompt="paper", loss_on="all", over_long="truncate").folded_system == 0


def test_labels_survive_trl_collation(tok):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    rows = [encode_record(rec(), tok), encode_record(rec(id="r2", task="mcqu", answer=["D"]), tok)]
    batch = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id)(rows)
    for i, row in enumerate(rows):
        n = len(row["labels"])
        assert batch["labels"][i, :n].tolist() == row["labels"]
        assert (batch["labels"][i, n:] == IGNORE).all() and batch["attention_mask"][i].sum() == n


def test_truncation_keeps_whole_answers_only(tok):
    long = rec(id="long", context="Antécédents sans particularité. " * 60)
    short = rec(id="short")
    n_long = len(encode_record(long, tok)["input_ids"])
    n_short = len(encode_record(short, tok)["input_ids"])
    enc = encode([long, short], tok, max_length=n_short + 2)
    assert n_long > n_short + 2
    assert enc.dropped_too_long == ["long"] and len(enc.rows) == 1
    # a cut that only loses the trailing newline keeps the record and its whole answer
    enc = encode([short], tok, max_length=n_short - 1)
    assert enc.truncated == 1 and enc.rows[0]["input_ids"] == encode_record(short, tok)["input_ids"][:-1]
    assert enc.label_tokens == len(tok.encode("A, C")) + 1


def test_chat_template_required_or_given(tok, tmp_path):
    from transformers import AutoTokenizer

    bare = AutoTokenizer.from_pretrained(tok.name_or_path)
    bare.chat_template = None
    with pytest.raises(MedinjectError, match="no chat template; give one with chat_template=FILE"):
        ensure_chat_template(bare, None)
    f = tmp_path / "t.jinja"
    f.write_text(tok.chat_template)
    ensure_chat_template(bare, f)
    assert encode_record(rec(), bare) == encode_record(rec(), tok)
