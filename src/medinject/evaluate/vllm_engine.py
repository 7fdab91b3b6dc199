"""The same decoding through vLLM (GPU only): `load_model` and `decode` with the signatures of `decoding`.

Each stream becomes one vLLM request on the prompt's token ids; vLLM's prefix caching shares the prompt pass
between the streams of one item. Constrained streams use `allowed_token_ids`; decoding is greedy and stops on
the tokenizer's end-of-sequence token only, with the model's repetition penalty (as `generate` does).
First-step letter probabilities come from the constrained stream's processed log-probabilities, which cover
every allowed token, so their softmax over letters equals the transformers engine's.
Not exercised by the test suite (no GPU there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import MedinjectError
from .decoding import Stream


def _vllm():
    try:
        import vllm
    except ImportError:
        raise MedinjectError("--engine vllm needs vLLM on a GPU machine: pip install 'medinject[vllm]'") from None
    return vllm


class VllmModel:
    def __init__(self, llm, lora, generation_config):
        self.llm, self.lora, self.generation_config = llm, lora, generation_config
        self.device = "cuda"


def load_model(model: str, adapter: str | None = None, *, device: str | None = None, dtype: str = "auto",
               chat_template: str | None = None):
    vllm = _vllm()
    from transformers import AutoTokenizer

    from ..backends.models import check_model_ref, read_chat_template

    check_model_ref(model)

    kw = {"dtype": "bfloat16" if dtype == "auto" else dtype, "enable_prefix_caching": True,
          "generation_config": "vllm", "logprobs_mode": "processed_logprobs"}
    lora = None
    if adapter:
        from vllm.lora.request import LoRARequest

        kw.update(enable_lora=True, max_lora_rank=64)
        lora = LoRARequest("adapter", 1, str(adapter))
    try:
        llm = vllm.LLM(model=model, **kw)
    except Exception as e:  # vLLM raises many types on start-up
        raise MedinjectError(f"vLLM could not load {model!r}: {str(e).splitlines()[0] if str(e) else e}") from None
    from transformers import GenerationConfig

    try:
        config = GenerationConfig.from_pretrained(model)
    except OSError:
        config = None
    tokenizer = AutoTokenizer.from_pretrained(model)
    if chat_template:
        tokenizer.chat_template = read_chat_template(chat_template)
    return VllmModel(llm, lora, config), tokenizer


def decode(model: VllmModel, prompts: Sequence[list[int]], streams: Sequence[Stream], *, eos_id: int,
           batch_size: int = 16, groups: Sequence[str] | None = None,
           probe_ids: Sequence[Sequence[int]] | None = None, on_batch: Callable[[int], None] | None = None) -> list:
    import torch
    from vllm import SamplingParams, TokensPrompt

    from .decoding import repetition_penalty

    penalty = repetition_penalty(model)
    requests, params = [], []
    for s in streams:
        n_logprobs = len(s.allowed) if s.allowed is not None else 0
        params.append(SamplingParams(temperature=0.0, max_tokens=s.max_new, stop_token_ids=[eos_id],
                                     repetition_penalty=penalty,
                                     ignore_eos=True, allowed_token_ids=list(s.allowed) if s.allowed else None,
                                     logprobs=n_logprobs or None, detokenize=False))
        requests.append(TokensPrompt(prompt_token_ids=list(prompts[s.item])))
    outputs = model.llm.generate(requests, params, lora_request=model.lora, use_tqdm=False)
    probes: list = [None] * len(prompts)
    for s, out in zip(streams, outputs, strict=True):
        comp = out.outputs[0]
        s.tokens = list(comp.token_ids)
        if s.allowed is not None and probe_ids is not None and probes[s.item] is None and comp.logprobs:
            first = comp.logprobs[0]
            probes[s.item] = torch.tensor([first[t].logprob if t in first else float("-inf")
                                           for t in probe_ids[s.item]])
    if on_batch:
        on_batch(len(prompts))
    return probes
