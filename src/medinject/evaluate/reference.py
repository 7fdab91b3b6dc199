"""The MedInjection-FR reference evaluation procedure, re-implemented item by item as a baseline.

For each item: render the chat prompt, run an unconstrained greedy `generate`, then a constrained `generate`
(a logits processor masking all but the allowed tokens), both with scores returned, decode both outputs and
parse them with the reference parser. The benchmark times it against `predict_choice` and the tests check
that `paper` mode gives the same predictions. It is deliberately slow: one item and two prompt passes at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..chat import render
from ..prompts import prompt_messages
from ..records import Record, Task
from .letters import allowed_token_ids, letter_token_map
from .mcqa import max_new_tokens

_NON_LETTERS = set(",;/|+ \n.():")


def reference_parse(text: str | None, letters: Sequence[str], multi: bool) -> list[str]:
    """The reference script's parser: [] when invalid, letters in order of appearance otherwise."""
    if text is None:
        return []
    s = text.upper().strip()
    valid = {x.upper() for x in letters}
    for ch in s:
        if (ch.isalpha() and ch not in valid) or (not ch.isalpha() and ch not in _NON_LETTERS):
            return []
    seen: list[str] = []
    for ch in s:
        if ch in valid and ch not in seen:
            seen.append(ch)
    if not multi:
        return seen if len(seen) == 1 else []
    return seen


def _allowed_processor(allowed: list[int]):
    import torch
    from transformers import LogitsProcessor

    class AllowedTokens(LogitsProcessor):
        def __init__(self):
            self.allowed = torch.tensor(sorted(set(allowed)), dtype=torch.long)

        def __call__(self, input_ids, scores):
            mask = torch.full((scores.shape[-1],), float("-inf"), device=scores.device)
            mask[self.allowed.to(scores.device)] = 0.0
            return scores + mask

    return AllowedTokens()


def reference_predict(records: Sequence[Record], model, tokenizer, prompt_style: str = "medinject-fr") -> list[dict]:
    """Per record: greedy and constrained outputs, their parsed letters, first-step letter probabilities."""
    import torch

    eos = tokenizer.eos_token_id
    out = []
    for r in records:
        letters = list(r.options)
        prompt = render(tokenizer, prompt_messages(r, prompt_style)[0], add_generation_prompt=True,
                        return_tensors="pt", return_dict=False)[0].to(model.device)
        kw = dict(do_sample=False, top_p=1.0, max_new_tokens=max_new_tokens(r), eos_token_id=eos,
                  output_scores=True, return_dict_in_generate=True)
        with torch.no_grad():
            greedy = model.generate(prompt, **kw)
            constrained = model.generate(prompt, logits_processor=[_allowed_processor(
                allowed_token_ids(tokenizer, letters))], **kw)
        texts = [tokenizer.decode(g.sequences[0, prompt.shape[1]:], skip_special_tokens=True).strip()
                 for g in (greedy, constrained)]
        token_letter = letter_token_map(tokenizer, letters)
        ids = sorted(token_letter)
        probs = torch.softmax(constrained.scores[0][0, ids].float(), dim=-1).tolist()
        letter_probs: dict[str, float] = {}
        for tid, p in zip(ids, probs, strict=True):
            letter_probs[token_letter[tid]] = letter_probs.get(token_letter[tid], 0.0) + p
        multi = r.task is Task.MCQ
        out.append({"id": r.id, "greedy_output": texts[0], "constrained_output": texts[1],
                    "prediction_greedy": reference_parse(texts[0], letters, multi),
                    "prediction_constrained": reference_parse(texts[1], letters, multi),
                    "class_probabilities": letter_probs})
    return out
