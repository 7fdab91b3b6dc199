from pathlib import Path

import pytest
from transformers import AutoTokenizer

from medinject.chat import fold_system, render
from medinject.errors import MedinjectError

NO_SYSTEM = (
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
MSGS = [{"role": "system", "content": "Sois bref."}, {"role": "user", "content": "Question ?"}]


@pytest.fixture(scope="module")
def tokenizer(toy_model: Path):
    return AutoTokenizer.from_pretrained(toy_model)


def test_fold_system_into_first_user_turn():
    assert fold_system(MSGS) == [{"role": "user", "content": "Sois bref.\n\nQuestion ?"}]
    assert fold_system(MSGS[1:]) == MSGS[1:]


def test_render_keeps_system_when_the_template_accepts_it(tokenizer):
    text, folded = render(tokenizer, MSGS, tokenize=False, add_generation_prompt=True)
    assert not folded and "Sois bref." in text


def test_render_folds_system_for_a_template_that_refuses_it(tokenizer):
    tokenizer.chat_template = NO_SYSTEM
    text, folded = render(tokenizer, MSGS, tokenize=False, add_generation_prompt=True)
    assert folded
    assert text == "<|im_start|>user\nSois bref.\n\nQuestion ?<|im_end|>\n<|im_start|>assistant\n"


def test_no_template_is_one_line_naming_the_option(toy_model: Path):
    tok = AutoTokenizer.from_pretrained(toy_model)
    tok.chat_template = None
    with pytest.raises(MedinjectError, match="--chat-template FILE"):
        render(tok, MSGS, tokenize=False)


MISTRAL_LIKE = (
    "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "[{{ m['role'] }}]{{ m['content'] }}{% endfor %}"
)


def test_a_template_refusing_system_in_its_own_words_is_folded_too(tokenizer):
    tokenizer.chat_template = MISTRAL_LIKE
    text, folded = render(tokenizer, MSGS, tokenize=False, add_generation_prompt=True)
    assert folded and text == "[user]Sois bref.\n\nQuestion ?"


@pytest.mark.parametrize("template", ["{% for m in messages %}{{ m['content'] }", "{{ raise_exception('no') }}"])
def test_a_broken_template_is_one_line_naming_the_option(toy_model: Path, template):
    tok = AutoTokenizer.from_pretrained(toy_model)
    tok.chat_template = template
    with pytest.raises(MedinjectError, match="cannot render these messages.*--chat-template FILE") as e:
        render(tok, MSGS, tokenize=False)
    assert "\n" not in str(e.value)
