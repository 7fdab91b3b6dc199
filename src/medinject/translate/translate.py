"""Structure-preserving record translation, English to French, through any backend."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..backends import Backend, BackendSpec, ChatRequest, ChatResponse
from ..backends.jobs import Job, Outcome, run_job
from ..errors import InputError, MedinjectError
from ..io import read_records, read_text, sha256_file
from ..records import Record
from ..textnorm import match_key
from .checks import (
    apply_translation,
    check_translation,
    misplaced_labels,
    payload,
    schema_for,
    strip_option_labels,
    warm_up_language_model,
)


@dataclass(frozen=True)
class Prompt:
    version: str
    system: str
    user: str
    retry: str = ""
    # Worked examples, each {source: {...}, translation: {...}}, shown as earlier turns of the conversation:
    # a small model that copies its input through when only told to translate does translate after one.
    examples: tuple[dict[str, Any], ...] = ()

    def messages(self, src: dict[str, Any]) -> list[dict[str, str]]:
        turns = [{"role": "system", "content": self.system}]
        for ex in self.examples:
            turns += [{"role": "user", "content": self.user.format(payload=_dump(ex["source"]))},
                      {"role": "assistant", "content": json.dumps(ex["translation"], ensure_ascii=False)}]
        return [*turns, {"role": "user", "content": self.user.format(payload=_dump(src))}]


def _dump(src: dict[str, Any]) -> str:
    return json.dumps(src, ensure_ascii=False, indent=1)


def packaged_prompts() -> list[str]:
    root = resources.files("medinject") / "prompts_files" / "translate"
    return sorted(f.name.removesuffix(".fr.yaml") for f in root.iterdir() if f.name.endswith(".fr.yaml"))


def load_prompt(name: str, path: str | Path | None = None) -> Prompt:
    """A versioned prompt: the file `path`, or the packaged prompt `path` names (`record-fewshot`), or else
    the packaged `prompts_files/translate/<name>.fr.yaml`."""
    if path is not None and not Path(path).is_file() and str(path) in packaged_prompts():
        name, path = str(path), None
    if path is not None:
        text = read_text(path, what="prompt file")
    else:
        text = (resources.files("medinject") / "prompts_files" / "translate" / f"{name}.fr.yaml").read_text("utf-8")
    d = yaml.safe_load(text)
    missing = [k for k in ("version", "system", "user") if not d.get(k)]
    if missing:
        raise InputError(path or name, f"prompt file lacks {', '.join(missing)}", field=missing[0])
    examples = d.get("examples") or []
    for n, ex in enumerate(examples if isinstance(examples, list) else [None], 1):
        if not (isinstance(ex, dict) and isinstance(ex.get("source"), dict)
                and isinstance(ex.get("translation"), dict)):
            raise InputError(path or name, f"example {n} needs a source and a translation, each a mapping",
                             field="examples")
    return Prompt(d["version"], d["system"].strip(), d["user"], d.get("retry", ""), tuple(examples))


def max_tokens_for(src: dict[str, Any]) -> int:
    """Room for the French JSON: ~3 characters a token, French ~20% longer, plus the JSON's own syntax."""
    return int(len(json.dumps(src, ensure_ascii=False)) / 2.5) + 128


def copied_example(examples, src: dict[str, Any], out: dict[str, Any]) -> tuple[str, str] | None:
    """A field that came back as a worked example's translation when its source differs from the example's
    source: a small model hands the example back instead of translating (SmolLM2-135M began 3 of 16 MMLU
    questions with a paraphrase of the example's; exact copies are what this catches)."""
    from .checks import leaves

    got = dict(leaves(out))
    for n, ex in enumerate(examples, 1):
        ex_src, ex_out = dict(leaves(ex["source"])), dict(leaves(ex["translation"]))
        theirs = {match_key(v): k for k, v in ex_out.items()}
        for key, text in got.items():
            k = theirs.get(match_key(text))
            if k is not None and ex_src.get(k, "").casefold() != str(dict(leaves(src)).get(key, "")).casefold():
                return "copied_example", f"{key} is the translation of worked example {n}"
    return None


class RecordTranslator:
    """The translation job's parts: the request for a record, the checks on an answer, the one retry."""

    def __init__(self, model: str, *, prompt: Prompt | None = None, max_tokens: int | None = None,
                 temperature: float = 0.0, source_lang: str = "en"):
        self.model, self.prompt = model, prompt or load_prompt("record")
        self.max_tokens, self.temperature, self.source_lang = max_tokens, temperature, source_lang

    def request(self, record: Record) -> ChatRequest:
        src = payload(record)
        return ChatRequest(messages=self.prompt.messages(src),
                           max_tokens=self.max_tokens or max_tokens_for(src), temperature=self.temperature,
                           json_schema=schema_for(src), tag=record.id)

    def precheck(self, record: Record) -> Outcome | None:
        if record.lang != self.source_lang:
            return Outcome(reason="wrong_source_lang", detail=f"record lang {record.lang}, expected {self.source_lang}")
        return None

    def check(self, record: Record, resp: ChatResponse) -> Outcome:
        if resp.text is None:
            return Outcome(reason="request_failed", detail=resp.error or "")
        if resp.error:  # invalid JSON, or keys / options that differ from the source
            reason, _, detail = resp.error.partition(": ")
            return Outcome(reason=reason, detail=detail, raw=resp.text)
        src = payload(record)
        # A translator that copies the letter labels ("A) Oméprazole") would show them twice and carry them
        # to other letters under permutations: they are stripped, and the stripped letters recorded.
        parsed, stripped = strip_option_labels(src, resp.parsed)
        wrong = misplaced_labels(src, parsed)
        if wrong:
            detail = "; ".join(f"option {a} starts with the label of option {b}" for a, b in wrong)
            return Outcome(reason="option_label", detail=detail, raw=resp.text)
        problem = check_translation(src, parsed) or copied_example(self.prompt.examples, src, parsed)
        if problem:
            return Outcome(reason=problem[0], detail=problem[1], raw=resp.text)
        meta = {"stage": "translate", "model": self.model, "prompt_version": self.prompt.version,
                "usage": resp.usage, "source_lang": self.source_lang, "raw": resp.text}
        if stripped:
            meta["option_labels_stripped"] = stripped
        try:
            return Outcome(records=[apply_translation(record, parsed, meta)])
        except ValueError as e:  # pydantic: a translated field the record model refuses
            return Outcome(reason="invalid_record", detail=str(e).splitlines()[-1][:200], raw=resp.text)

    def retry(self, record: Record, req: ChatRequest, resp: ChatResponse, outcome: Outcome) -> ChatRequest | None:
        if outcome.reason == "request_failed" or not self.prompt.retry:
            return None  # the backend already retried transport failures; asking again changes nothing
        note = self.prompt.retry.format(reason=outcome.reason, detail=outcome.detail)
        messages = [*req.messages, {"role": "assistant", "content": resp.text or ""}, {"role": "user", "content": note}]
        return ChatRequest(messages=messages, max_tokens=req.max_tokens, temperature=req.temperature,
                           json_schema=req.json_schema, tag=req.tag)

    def job(self, fingerprint: dict[str, Any]) -> Job:
        return Job("translate", item_id=lambda r: r.id, request=self.request, check=self.check, retry=self.retry,
                   describe_input=lambda r: r.model_dump(mode="json"), precheck=self.precheck,
                   fingerprint=fingerprint)


def _backend(backend: Backend | BackendSpec | dict) -> tuple[Backend, bool]:
    """(backend, whether we built it and so must close it)."""
    if isinstance(backend, (BackendSpec, dict)):
        return BackendSpec.coerce(backend).build(), True
    return backend, False


def run_translate(in_path: str | Path, out_path: str | Path, backend: Backend | BackendSpec | dict, *,
                  rejected_path: str | Path | None = None, limit: int | None = None, max_tokens: int | None = None,
                  temperature: float = 0.0, source_lang: str = "en", prompt_file: str | Path | None = None,
                  progress: bool = True, log=None) -> dict[str, Any]:
    """Translate the records of `in_path` into `out_path` (+ rejected file and summary beside it). Resumable."""
    records = list(read_records(in_path))
    if limit:
        records = records[:limit]
    if not records:
        raise MedinjectError(f"{in_path}: no records to translate")
    prompt = load_prompt("record", prompt_file)  # a mistyped prompt name fails before a model loads
    be, owned = _backend(backend)
    warm_up_language_model()
    try:
        tr = RecordTranslator(be.model, prompt=prompt, max_tokens=max_tokens,
                              temperature=temperature, source_lang=source_lang)
        fingerprint = {"model": be.model, "prompt_version": tr.prompt.version, "input": str(in_path),
                       "input_sha256": sha256_file(in_path), "limit": limit, "max_tokens": max_tokens,
                       "temperature": temperature}
        return run_job(tr.job(fingerprint), records, be, out_path, rejected_path=rejected_path, progress=progress,
                       log=log)
    finally:
        if owned:
            be.close()
