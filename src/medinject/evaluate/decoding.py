"""Batched greedy decoding for several output streams per prompt, with one shared prompt pass.

Each prompt is read once: its key/value cache feeds every stream that decodes from it (constrained and
unconstrained answers to the same question). Prompts are sorted by group and length and batched with left
padding; the token prefix that a batch's prompts share (system prompt, instruction) is computed once and its
cache copied to every row, the way serving engines cache common prefixes. Decoding is plain argmax, as in
`generate(do_sample=False)`; a constrained stream takes the argmax over its allowed tokens only.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..errors import MedinjectError

# A shared prefix shorter than this is not worth a separate forward pass.
MIN_SHARED_PREFIX = 8
# Generation-config settings that change greedy choices in `generate` and that this decoder does not apply.
_UNSUPPORTED = ("no_repeat_ngram_size", "bad_words_ids", "min_length", "min_new_tokens", "suppress_tokens",
                "begin_suppress_tokens", "sequence_bias", "forced_bos_token_id", "forced_eos_token_id",
                "exponential_decay_length_penalty")


@dataclass
class Stream:
    """One output to decode from prompt `item`."""

    item: int
    max_new: int
    allowed: tuple[int, ...] | None = None  # constrained: the only tokens it may emit
    give_up: Callable[[list[int]], bool] | None = None  # stop once further tokens cannot change the outcome
    tokens: list[int] = field(default_factory=list)


def load_model(model: str, adapter: str | None = None, *, device: str | None = None, dtype: str = "auto",
               chat_template: str | None = None):
    """(model, tokenizer) in eval mode; a PEFT adapter is loaded onto the base model and merged.

    `chat_template` (a Jinja file) replaces the tokenizer's own template, or supplies one it lacks.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..backends.models import check_model_ref, model_load_error

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dtype == "auto":
        # The reference script's choice: bfloat16 on a GPU, float32 on a CPU.
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    check_model_ref(model)
    from ..backends.models import read_chat_template
    from ..chat import require_template

    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
        if chat_template:
            tokenizer.chat_template = read_chat_template(chat_template)
        require_template(tokenizer, "--chat-template FILE")  # before the weights: fail in a second
        lm = AutoModelForCausalLM.from_pretrained(model, dtype=getattr(torch, dtype))
    except (OSError, ValueError) as e:
        raise model_load_error(model, e) from None
    if adapter:
        try:
            import peft  # noqa: F401
        except ImportError:
            raise MedinjectError("--adapter needs peft: pip install 'medinject[eval]'") from None
        from ..libwarnings import quiet_library_deprecations
        from ..train.merge import attach_adapter  # resizes the embeddings for an adapter that added a pad token

        try:
            with quiet_library_deprecations():
                lm = attach_adapter(lm, adapter).merge_and_unload()
        except (OSError, ValueError) as e:
            raise MedinjectError(f"cannot load adapter {adapter!r}: {str(e).splitlines()[0]}") from None
    if tokenizer.eos_token_id is None:
        raise MedinjectError(f"model {model!r}: the tokenizer has no end-of-sequence token")
    return lm.to(device).eval(), tokenizer


def _forward(model, cache=None, **kw):
    """One forward pass with a key/value cache; (last-position float logits, cache)."""
    from ..backends.models import cache_arg, returned_cache

    out = model(**kw, **{cache_arg(model): cache}, use_cache=True, logits_to_keep=1)
    return out.logits[:, -1].float(), returned_cache(out)


def _shared_prefix(prompts: Sequence[Sequence[int]]) -> int:
    first = prompts[0]
    n = min(len(p) for p in prompts) - 1  # every row keeps at least one token of its own
    for p in prompts[1:]:
        i = 0
        while i < n and p[i] == first[i]:
            i += 1
        n = i
    return n if n >= MIN_SHARED_PREFIX else 0


class _PrefixCache:
    """Key/value caches of shared prefixes, computed once each."""

    def __init__(self, model):
        self.model, self.store = model, {}

    def get(self, prefix: tuple[int, ...]):
        import torch

        if prefix not in self.store:
            ids = torch.tensor([prefix], device=self.model.device)
            self.store[prefix] = _forward(self.model, input_ids=ids)[1]
        return copy.deepcopy(self.store[prefix])


def _prefill(model, prompts: list[list[int]], prefixes: _PrefixCache | None):
    """Last-position logits (B, V), cache, and the 2-D attention mask of a left-padded batch (no prefix
    sharing when `prefixes` is None)."""
    import torch

    dev = model.device
    p = _shared_prefix(prompts) if prefixes is not None else 0
    suffixes = [x[p:] for x in prompts]
    width = max(len(s) for s in suffixes)
    pad = [width - len(s) for s in suffixes]
    ids = torch.tensor([[0] * n + s for n, s in zip(pad, suffixes, strict=True)], device=dev)
    suffix_mask = (torch.arange(width, device=dev)[None, :] >= torch.tensor(pad, device=dev)[:, None]).long()
    positions = (p + suffix_mask.cumsum(-1) - 1).clamp(min=0)
    cache = None
    if p:
        cache = prefixes.get(tuple(prompts[0][:p]))
        cache.reorder_cache(torch.zeros(len(prompts), dtype=torch.long, device=dev))
    mask = torch.cat([torch.ones(len(prompts), p, dtype=torch.long, device=dev), suffix_mask], dim=1)
    logits, cache = _forward(model, cache, input_ids=ids, attention_mask=mask, position_ids=positions)
    return logits, cache, mask


def repetition_penalty(model) -> float:
    """The model's `repetition_penalty`, which `generate` applies even when greedy; warns about what is not applied."""
    import logging

    config = getattr(model, "generation_config", None)
    if config is None:
        return 1.0
    ignored = [k for k in _UNSUPPORTED if getattr(config, k, None)]
    if ignored:
        logging.getLogger(__name__).warning(
            "the model's generation config sets %s, which medinject's decoder does not apply; its greedy answers "
            "may differ from `generate`'s", ", ".join(ignored))
    return float(getattr(config, "repetition_penalty", None) or 1.0)


def _penalize(logits, histories: Sequence[Sequence[int]], penalty: float):
    """`RepetitionPenaltyLogitsProcessor` per row: every token already in the row's text is made less likely."""
    import torch

    if penalty == 1.0:
        return logits
    for row, ids in enumerate(histories):
        idx = torch.unique(torch.tensor(list(ids), device=logits.device))
        v = logits[row, idx]
        logits[row, idx] = torch.where(v < 0, v * penalty, v / penalty)
    return logits


def _pick(logits, allowed_rows):
    """Argmax per row, over the allowed tokens where a row has a mask."""
    import torch

    if allowed_rows is not None:
        logits = torch.where(allowed_rows, logits, torch.finfo(logits.dtype).min)
    return logits.argmax(-1).tolist()


def _masks(streams: Sequence[Stream], vocab: int, device):
    """(R, V) boolean masks of allowed tokens, or None when no stream is constrained."""
    import torch

    if all(s.allowed is None for s in streams):
        return None
    rows, cached = [], {}
    for s in streams:
        key = s.allowed
        if key not in cached:
            m = torch.ones(vocab, dtype=torch.bool, device=device)
            if key is not None:
                m = torch.zeros(vocab, dtype=torch.bool, device=device)
                m[list(key)] = True
            cached[key] = m
        rows.append(cached[key])
    return torch.stack(rows)


def _done(s: Stream, eos_id: int) -> bool:
    return (s.tokens[-1] == eos_id or len(s.tokens) >= s.max_new
            or (s.give_up is not None and s.give_up(s.tokens)))


def decode(model, prompts: Sequence[list[int]], streams: Sequence[Stream], *, eos_id: int, batch_size: int = 16,
           groups: Sequence[str] | None = None, probe_ids: Sequence[Sequence[int]] | None = None,
           on_batch: Callable[[int], None] | None = None, per_item: bool = False) -> list:
    """Fill every stream's `tokens` (ending with `eos_id` when the model stopped on it).

    Returns, per prompt, its first-step logits at `probe_ids[i]` (a 1-D float tensor), or None without probes.
    `per_item`: every stream decoded alone from its own prompt pass (no batching, no prefix sharing), so that
    low-precision numerics are those of one `generate` call per item and stream.
    """
    import torch

    if per_item:
        return _decode_per_item(model, prompts, streams, eos_id=eos_id, probe_ids=probe_ids, on_batch=on_batch)

    order = sorted(range(len(prompts)), key=lambda i: ((groups[i] if groups else ""), len(prompts[i]), i))
    by_item: dict[int, list[Stream]] = {}
    for s in streams:
        by_item.setdefault(s.item, []).append(s)
    probes: list = [None] * len(prompts)
    prefixes = _PrefixCache(model)
    penalty = repetition_penalty(model)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            logits, cache, mask = _prefill(model, [list(prompts[i]) for i in batch], prefixes)
            logits = _penalize(logits, [prompts[i] for i in batch], penalty)
            if probe_ids is not None:
                for row, i in enumerate(batch):
                    probes[i] = logits[row, list(probe_ids[i])].cpu()
            rows = [(row, s) for row, i in enumerate(batch) for s in by_item.get(i, [])]
            if rows:
                masks = _masks([s for _, s in rows], logits.shape[-1], logits.device)
                first = _pick(logits[[r for r, _ in rows]], masks)
                for (_, s), tok in zip(rows, first, strict=True):
                    s.tokens = [tok]
                _continue(model, cache, mask, [(r, s) for r, s in rows if not _done(s, eos_id)],
                          [prompts[i] for i in batch], eos_id, penalty)
            if on_batch:
                on_batch(len(batch))
    return probes


def _decode_per_item(model, prompts, streams, *, eos_id, probe_ids, on_batch) -> list:
    import torch

    by_item: dict[int, list[Stream]] = {}
    for s in streams:
        by_item.setdefault(s.item, []).append(s)
    probes: list = [None] * len(prompts)
    penalty = repetition_penalty(model)
    with torch.inference_mode():
        for i, prompt in enumerate(prompts):
            for k, s in enumerate(by_item.get(i, []) or [None]):
                logits, cache, mask = _prefill(model, [list(prompt)], None)
                logits = _penalize(logits, [prompt], penalty)
                if k == 0 and probe_ids is not None:
                    probes[i] = logits[0, list(probe_ids[i])].cpu()
                if s is None:
                    continue
                s.tokens = _pick(logits, _masks([s], logits.shape[-1], logits.device))
                if not _done(s, eos_id):
                    _continue(model, cache, mask, [(0, s)], [prompt], eos_id, penalty)
            if on_batch:
                on_batch(1)
    return probes


def _continue(model, cache, mask, rows: list[tuple[int, Stream]], prompts: list[Sequence[int]], eos_id: int,
              penalty: float) -> None:
    """Decode the unfinished streams step by step; finished rows leave the batch."""
    import torch

    if not rows:
        return
    dev = mask.device
    keep = torch.tensor([r for r, _ in rows], device=dev)
    cache.reorder_cache(keep)
    mask = mask[keep]
    active = [s for _, s in rows]
    prompt = [prompts[r] for r, _ in rows]
    allowed = None
    while active:
        ids = torch.tensor([[s.tokens[-1]] for s in active], device=dev)
        pos = torch.tensor([[len(p) + len(s.tokens) - 1] for p, s in zip(prompt, active, strict=True)], device=dev)
        mask = torch.cat([mask, torch.ones(len(active), 1, dtype=mask.dtype, device=dev)], dim=1)
        logits, cache = _forward(model, cache, input_ids=ids, attention_mask=mask, position_ids=pos)
        if penalty != 1.0:
            logits = _penalize(logits, [[*p, *s.tokens] for p, s in zip(prompt, active, strict=True)], penalty)
        if allowed is None:
            allowed = _masks(active, logits.shape[-1], dev)
        for s, tok in zip(active, _pick(logits, allowed), strict=True):
            s.tokens.append(tok)
        alive = [j for j, s in enumerate(active) if not _done(s, eos_id)]
        if len(alive) < len(active):
            idx = torch.tensor(alive, dtype=torch.long, device=dev)
            cache.reorder_cache(idx)
            mask = mask[idx]
            allowed = allowed[idx] if allowed is not None else None
            active = [active[j] for j in alive]
            prompt = [prompt[j] for j in alive]
