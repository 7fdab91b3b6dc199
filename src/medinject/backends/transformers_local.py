"""A local transformers causal LM: batched generation on CPU or GPU, behind the same protocol and cache."""

from __future__ import annotations

from collections.abc import Sequence

from ..chat import render, require_template
from .base import ChatRequest, ChatResponse, Progress
from .cache import RequestCache, open_cache
from .structured import finish


class TransformersBackend:
    name = "transformers"

    def __init__(self, model: str, *, cache: RequestCache | str | bool | None = None, batch_size: int = 8,
                 device: str = "auto", dtype: str = "auto", chat_template: str | None = None, **_: object):
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
        self.stats = {"sent": 0, "retries": 0, "cached": 0, "failed": 0, "system_folded": 0}

    def generate(self, requests: Sequence[ChatRequest], *, on_result: Progress | None = None
                 ) -> list[ChatResponse]:
        results: list[ChatResponse | None] = [None] * len(requests)
        todo: list[int] = []
        for i, req in enumerate(requests):
            hit = self.cache.get(req.cache_key(self.model)) if self.cache is not None else None
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
            groups.setdefault((r.max_tokens, r.temperature, r.seed), []).append(i)
        for idx in groups.values():
            for start in range(0, len(idx), self.batch_size):
                batch = idx[start:start + self.batch_size]
                for i, resp in zip(batch, self._run([prompts[i] for i in batch], requests[batch[0]]), strict=True):
                    req = requests[i]
                    if self.cache is not None:
                        self.cache.put(req.cache_key(self.model), self.model, resp.text, resp.usage)
                    results[i] = finish(req, resp)
                    results[i].tag = req.tag
                    if on_result:
                        on_result(results[i])
        return results  # type: ignore[return-value]

    def _prompt(self, req: ChatRequest) -> str:
        text, folded = render(self.tokenizer, req.messages, tokenize=False, add_generation_prompt=True)
        self.stats["system_folded"] += int(folded)
        return text

    def _run(self, prompts: list[str], like: ChatRequest) -> list[ChatResponse]:
        import torch

        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        sample = like.temperature > 0
        kwargs = {"do_sample": sample, "max_new_tokens": like.max_tokens, "pad_token_id": self.tokenizer.pad_token_id}
        if sample:
            kwargs["temperature"] = like.temperature
            if like.seed is not None:
                torch.manual_seed(like.seed)
        self.stats["sent"] += len(prompts)
        with torch.inference_mode():
            out = self.lm.generate(**enc, **kwargs)
        new = out[:, enc["input_ids"].shape[1]:]
        eos = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        responses = []
        for row, mask in zip(new, enc["attention_mask"], strict=True):
            ids = row.tolist()
            n = next((k + 1 for k, t in enumerate(ids) if t in eos), len(ids))
            text = self.tokenizer.decode(ids[:n], skip_special_tokens=True)
            usage = {"prompt_tokens": int(mask.sum()), "completion_tokens": n}
            responses.append(ChatResponse(text=text, usage=usage))
        return responses

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
