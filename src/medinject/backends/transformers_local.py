"""A local transformers causal LM: batched generation on CPU or GPU, behind the same protocol and cache."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..chat import render, require_template
from .base import ChatRequest, ChatResponse, Progress
from .cache import RequestCache, open_cache
from .guided import VERSION, guided_json, supported
from .models import cache_arg, returned_cache
from .structured import finish


class TransformersBackend:
    name = "transformers"

    def __init__(self, model: str, *, cache: RequestCache | str | bool | None = None, batch_size: int = 8,
                 device: str = "auto", dtype: str = "auto", chat_template: str | None = None,
                 guided: bool = True, **_: object):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from .models import check_model_ref, model_load_error, read_chat_template

        self.model = str(model)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        check_model_ref(self.model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model)
        except (OSError, ValueError) as e:
            raise model_load_error(self.model, e) from None
        if chat_template:
            self.tokenizer.chat_template = read_chat_template(chat_template)
        require_template(self.tokenizer, "a chat_template option naming a Jinja file")
        self.tokenizer.padding_side = "left"  # decoder-only batches pad on the left
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.lm = AutoModelForCausalLM.from_pretrained(self.model, dtype=dtype).to(device).eval()
        self.cache = open_cache(cache)
        self.batch_size = batch_size
        # Schema-guided JSON (see guided.py) is the local stand-in for an API's response_format; off, the
        # model writes the whole JSON itself, as before.
        self.guided = guided
        self.stats = {"sent": 0, "retries": 0, "cached": 0, "failed": 0, "system_folded": 0}

    def generate(self, requests: Sequence[ChatRequest], *, on_result: Progress | None = None
                 ) -> list[ChatResponse]:
        results: list[ChatResponse | None] = [None] * len(requests)
        todo: list[int] = []
        for i, req in enumerate(requests):
            hit = self.cache.get(self._key(req)) if self.cache is not None else None
            if hit is None:
                todo.append(i)
                continue
            self.stats["cached"] += 1
            results[i] = finish(req, hit)
            results[i].tag = req.tag
            if on_result:
                on_result(results[i])
        prompts = {i: self._prompt(requests[i]) for i in todo}
        # Batches share generation settings; sorting by length keeps padding small.
        groups: dict[tuple, list[int]] = {}
        for i in sorted(todo, key=lambda j: len(prompts[j])):
            r = requests[i]
            schema = json.dumps(r.json_schema, sort_keys=True) if self._guides(r) else None
            groups.setdefault((r.max_tokens, r.temperature, r.seed, schema), []).append(i)
        for idx in groups.values():
            for start in range(0, len(idx), self.batch_size):
                batch = idx[start:start + self.batch_size]
                like = requests[batch[0]]
                run = self._run_guided if self._guides(like) else self._run
                for i, resp in zip(batch, run([prompts[i] for i in batch], like), strict=True):
                    req = requests[i]
                    # A guided row cut short is not cached: read back, its partial JSON would fail for
                    # another reason (invalid_json) than the one it failed for (truncated).
                    if self.cache is not None and resp.error is None:
                        self.cache.put(self._key(req), self.model, resp.text, resp.usage)
                    results[i] = finish(req, resp)
                    results[i].tag = req.tag
                    if on_result:
                        on_result(results[i])
        return results  # type: ignore[return-value]

    def _guides(self, req: ChatRequest) -> bool:
        return self.guided and supported(req.json_schema)

    def _key(self, req: ChatRequest) -> str:
        # A guided answer is not what free generation gives for the same request: they are cached apart.
        return req.cache_key(self.model + (f"#guided-v{VERSION}" if self._guides(req) else ""))

    def _prompt(self, req: ChatRequest) -> str:
        text, folded = render(self.tokenizer, req.messages, tokenize=False, add_generation_prompt=True)
        self.stats["system_folded"] += int(folded)
        return text

    def _generate(self, texts: list[str], max_new: int, like: ChatRequest, stop=None,
                  prompts: _PromptCache | None = None):
        """Per row: (new text, new tokens, whether the model ended its turn, prompt tokens).

        With `prompts`, each text is one of its prompts plus a continuation, and only the continuation is
        read: the prompt's key/value cache is reused.
        """
        import torch

        enc, cache = (self._encode(texts), None) if prompts is None else prompts.extend(texts)
        sample = like.temperature > 0
        kwargs = {"do_sample": sample, "max_new_tokens": max_new, "pad_token_id": self.tokenizer.pad_token_id}
        if sample:
            kwargs["temperature"] = like.temperature
            if like.seed is not None:
                torch.manual_seed(like.seed)
        start = enc["input_ids"].shape[1]
        if stop is not None:
            kwargs["stopping_criteria"] = _stop_when(stop, self.tokenizer, start)
        if cache is not None:
            kwargs[cache_arg(self.lm)] = cache
        with torch.inference_mode():
            out = self.lm.generate(**enc, **kwargs)
        eos = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        rows = []
        for row, mask in zip(out[:, start:], enc["attention_mask"], strict=True):
            ids = row.tolist()
            end = next((k for k, t in enumerate(ids) if t in eos), None)
            n = len(ids) if end is None else end + 1
            rows.append((self.tokenizer.decode(ids[:n], skip_special_tokens=True), n, end is not None,
                         int(mask.sum())))
        return rows

    def _encode(self, texts: list[str]):
        return self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)

    def _run(self, prompts: list[str], like: ChatRequest) -> list[ChatResponse]:
        self.stats["sent"] += len(prompts)
        return [ChatResponse(text=text, usage={"prompt_tokens": p, "completion_tokens": n})
                for text, n, _, p in self._generate(prompts, like.max_tokens, like)]

    def _run_guided(self, prompts: list[str], like: ChatRequest) -> list[ChatResponse]:
        self.stats["sent"] += len(prompts)
        # Every field is a `generate` call on the prompt plus the JSON so far: reading each prompt once, not
        # once per field, took most of the time (prefill was 58% of a translation job, profiled).
        cached = _PromptCache(self.lm, self._encode, prompts)
        lengths = cached.mask.sum(-1).tolist()  # prompt tokens per row, padding left out

        def gen(texts, max_new, end):
            return [(t, n, ended) for t, n, ended, _ in self._generate(texts, max_new, like, end, cached)]

        rows = guided_json(prompts, like.json_schema, like.max_tokens, gen, lambda t, c: self._choose(t, c, like))
        return [ChatResponse(text=r.text, usage={"prompt_tokens": p, "completion_tokens": r.used}, error=r.error)
                for r, p in zip(rows, lengths, strict=True)]

    def _choose(self, texts: list[str], choices: list[str], like: ChatRequest) -> list[tuple[int, int]]:
        """Per row, which of `choices` the model writes when only tokens that stay inside one are allowed."""
        import torch

        seqs = [tuple(self.tokenizer(c, add_special_tokens=False)["input_ids"]) for c in choices]
        eos = self.tokenizer.eos_token_id
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        start = enc["input_ids"].shape[1]

        def allowed(_row: int, ids) -> list[int]:
            done = tuple(ids[start:].tolist())
            # A complete choice (or a finished row's padding) allows only the end of turn.
            return sorted({s[len(done)] for s in seqs if s[:len(done)] == done and len(s) > len(done)}) or [eos]

        sample = like.temperature > 0
        kwargs = {"temperature": like.temperature} if sample else {}
        if sample and like.seed is not None:
            torch.manual_seed(like.seed)
        with torch.inference_mode():
            out = self.lm.generate(**enc, do_sample=sample, max_new_tokens=max(map(len, seqs)) + 1,
                                   prefix_allowed_tokens_fn=allowed, pad_token_id=self.tokenizer.pad_token_id,
                                   **kwargs)
        rows = []
        for row in out[:, start:].tolist():
            k = next(k for k, s in enumerate(seqs) if tuple(row[:len(s)]) == s and
                     (len(row) == len(s) or row[len(s)] in (eos, self.tokenizer.pad_token_id)))
            rows.append((k, len(seqs[k])))
        return rows

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


class _PromptCache:
    """The key/value cache of a batch of left-padded prompts, read once and reused by every later call.

    A continuation is appended after its prompt's padded row, itself left-padded to the batch's widest:
    the padding in between is masked out and positions count real tokens only, so each row computes what
    it would alone.
    """

    def __init__(self, lm, encode, prompts: list[str]):
        import torch

        enc = encode(prompts)
        self.lm, self.encode, self.ids, self.mask = lm, encode, enc["input_ids"], enc["attention_mask"]
        self.rows = {p: i for i, p in reversed(list(enumerate(prompts)))}
        self.lengths = sorted({len(p) for p in prompts}, reverse=True)
        with torch.inference_mode():
            out = lm(input_ids=self.ids, attention_mask=self.mask, position_ids=_positions(self.mask),
                     use_cache=True, logits_to_keep=1, **{cache_arg(lm): None})
        self.cache = returned_cache(out)

    def _row(self, text: str) -> tuple[int, str]:
        for n in self.lengths:  # the longest prompt that starts the text
            if text[:n] in self.rows:
                return self.rows[text[:n]], text[n:]
        raise ValueError("a continuation that starts with none of the batch's prompts")

    def extend(self, texts: list[str]):
        """(inputs: the rows' prompts then the continuations, a copy of the cache holding those prompts)."""
        import copy

        import torch

        rows, tails = zip(*(self._row(t) for t in texts), strict=True)
        tail = self.encode(list(tails))
        pick = torch.tensor(rows, device=self.ids.device)
        ids = torch.cat([self.ids[pick], tail["input_ids"]], dim=1)
        mask = torch.cat([self.mask[pick], tail["attention_mask"]], dim=1)
        cache = copy.deepcopy(self.cache)
        cache.batch_select_indices(pick)
        return {"input_ids": ids, "attention_mask": mask}, cache


def _positions(mask):
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def _stop_when(end, tokenizer, start: int):
    """A stopping criterion that ends each row once `end` finds the end of the value in its new text."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _EndOfValue(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            texts = tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
            return torch.tensor([end(t) is not None for t in texts], device=input_ids.device)

    return StoppingCriteriaList([_EndOfValue()])
