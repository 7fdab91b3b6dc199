"""vLLM's offline engine for large local jobs on GPUs. Optional: install the `vllm` extra."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import MedinjectError
from .base import ChatRequest, ChatResponse, Progress
from .cache import RequestCache, open_cache
from .structured import finish


def _import_vllm():
    try:
        import vllm
    except ImportError:
        raise MedinjectError("the vllm backend needs the 'vllm' extra (GPU only): "
                             "pip install 'medinject[vllm]'") from None
    return vllm


class VLLMBackend:
    name = "vllm"

    def __init__(self, model: str, *, cache: RequestCache | str | bool | None = None, **engine_kwargs):
        vllm = _import_vllm()
        self.model = str(model)
        self._vllm = vllm
        self.llm = vllm.LLM(model=self.model, **engine_kwargs)
        self.cache = open_cache(cache)
        self.stats = {"sent": 0, "retries": 0, "cached": 0, "failed": 0}

    def _params(self, req: ChatRequest):
        kwargs = {"max_tokens": req.max_tokens, "temperature": req.temperature, "seed": req.seed}
        if req.json_schema is not None:
            sampling = self._vllm.sampling_params
            if hasattr(sampling, "StructuredOutputsParams"):  # vLLM >= 0.10
                kwargs["structured_outputs"] = sampling.StructuredOutputsParams(json=req.json_schema)
            elif hasattr(sampling, "GuidedDecodingParams"):
                kwargs["guided_decoding"] = sampling.GuidedDecodingParams(json=req.json_schema)
        return self._vllm.SamplingParams(**kwargs)

    def generate(self, requests: Sequence[ChatRequest], *, on_result: Progress | None = None
                 ) -> list[ChatResponse]:
        results: list[ChatResponse | None] = [None] * len(requests)
        todo = []
        for i, req in enumerate(requests):
            hit = self.cache.get(req.cache_key(self.model)) if self.cache is not None else None
            if hit is not None:
                self.stats["cached"] += 1
                results[i] = finish(req, hit)
                results[i].tag = req.tag
                if on_result:
                    on_result(results[i])
            else:
                todo.append(i)
        if todo:
            self.stats["sent"] += len(todo)
            outputs = self.llm.chat([requests[i].messages for i in todo], [self._params(requests[i]) for i in todo])
            for i, out in zip(todo, outputs, strict=True):
                comp = out.outputs[0]
                usage = {"prompt_tokens": len(out.prompt_token_ids or []), "completion_tokens": len(comp.token_ids)}
                if self.cache is not None:
                    self.cache.put(requests[i].cache_key(self.model), self.model, comp.text, usage)
                results[i] = finish(requests[i], ChatResponse(text=comp.text, usage=usage, tag=requests[i].tag))
                if on_result:
                    on_result(results[i])
        return results  # type: ignore[return-value]

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
