"""A scripted judge backend for unit tests only (the product always goes through the real backends)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from medinject.backends.base import ChatResponse
from medinject.judge.inputs import Answer, n_words

_BLOCK = re.compile(r"(Réponse candidate|Réponse de référence|Réponse A|Réponse B) :\n(.*?)(?:\n\n|$)", re.S)


def shown(request) -> dict[str, str]:
    """The texts a French judge prompt shows, by heading."""
    return dict(_BLOCK.findall(request.messages[-1]["content"]))


class ScriptedJudge:
    """Answers each request with `script(request)`: a text, or a ChatResponse (to simulate failures)."""

    name = "scripted"
    model = "scripted-judge"

    def __init__(self, script):
        self.script = script
        self.requests = []

    def generate(self, requests, *, on_result=None):
        out = []
        for r in requests:
            self.requests.append(r)
            res = self.script(r)
            res = res if isinstance(res, ChatResponse) else ChatResponse(text=res)
            if on_result:
                on_result(res)
            out.append(res)
        return out

    def close(self):
        pass


def length_judge(request) -> str:
    """A judge that likes words: graded = 5 + (candidate - reference words) / 10, binary = longer or as long,
    pairwise = the longer answer, and position A when both are as long."""
    s = shown(request)
    if "Réponse A" in s:
        a, b = n_words(s["Réponse A"]), n_words(s["Réponse B"])
        return f"Raisonnement.\nVerdict : {'A' if a >= b else 'B'}"
    d = n_words(s["Réponse candidate"]) - n_words(s["Réponse de référence"])
    if "entier de 1 à 10" in request.messages[-1]["content"]:
        return f"Bonne réponse.\n**Verdict : {5 + d // 10}**"
    return f"Verdict : {int(d >= 0)}"


def words(n: int, w: str = "mot") -> str:
    return " ".join([w] * n)


@pytest.fixture
def kit():
    """The scripted judge and its helpers (conftest modules cannot be imported under --import-mode=importlib)."""
    return SimpleNamespace(ScriptedJudge=ScriptedJudge, length_judge=length_judge, words=words, shown=shown)


@pytest.fixture
def make_answers():
    def make(lengths: dict[str, list[int]], ref_words: int = 10) -> list[Answer]:
        return [Answer(f"q{i + 1}", system, f"Question {i + 1} ?", words(ref_words, "réf"), words(n))
                for system, ns in lengths.items() for i, n in enumerate(ns)]
    return make

