"""Multiple-choice prediction: constrained and unconstrained greedy answers from one prompt pass.

Both procedures follow the reference script's protocol: 1 new token for `mcqu`, 2 x options for `mcq`,
constrained decoding over option letters (bare and spaced), separators and end tokens, strict parsing, and
the softmax over option-letter tokens at the first answer step. They differ in two respects:

- `paper`: every stream runs to its end token or its token limit, and answers are parsed by the reference
  script's character rule, exactly as the reference does;
- `fast` (default): an unconstrained answer is parsed by the `tokens` rule (a letter counts only standing
  alone: "A, B et C" is invalid, not A B C E T) and its stream stops as soon as its text can no longer parse;
  only the stored raw output is the shorter text. Constrained answers parse the same in both modes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..chat import render
from ..prompts import prompt_messages
from ..records import Record, Task
from .decoding import Stream, decode
from .letters import allowed_token_ids, cannot_parse, letter_token_map, parse_answer
from .metrics import choice_scores

MODES = ("constrained", "greedy")


def render_prompts(tokenizer, records: Sequence[Record], style: str = "medinject-fr", stats: dict | None = None
                   ) -> tuple[list[str], list[list[int]]]:
    """Chat-template text and token ids of each record's question (no answer, generation prompt added).

    `style` is a prompt style of `prompts.PROMPT_STYLES`; `stats`, when given, counts what was rendered
    (`verbatim`, `authors`, `medinject-fr`) and `system_folded` (templates that refuse a system turn).
    """
    texts, ids = [], []
    for r in records:
        msgs, kind = prompt_messages(r, style)
        text, folded = render(tokenizer, msgs, add_generation_prompt=True, tokenize=False)
        tokens, _ = render(tokenizer, msgs, add_generation_prompt=True, return_dict=False)
        texts.append(text)
        ids.append(list(tokens))
        if stats is not None:
            stats[kind] = stats.get(kind, 0) + 1
            stats["system_folded"] = stats.get("system_folded", 0) + int(folded)
    return texts, ids


def max_new_tokens(record: Record) -> int:
    return 1 if record.task is Task.MCQU else max(2 * len(record.options), 1)


def _softmax_by_letter(logits, token_letters: list[str]) -> dict[str, float]:
    import torch

    probs = torch.softmax(logits.double(), dim=-1).tolist()
    out: dict[str, float] = {}
    for letter, p in zip(token_letters, probs, strict=True):
        out[letter] = out.get(letter, 0.0) + p
    return {k: round(v, 6) for k, v in out.items()}


def predict_choice(records: Sequence[Record], model, tokenizer, *, paper: bool = False,
                   modes: Sequence[str] = MODES, batch_size: int = 16, variants: Sequence[dict] | None = None,
                   on_batch: Callable[[int], None] | None = None, decoder=decode, prompt_style: str = "medinject-fr",
                   prompt_stats: dict | None = None) -> list[dict]:
    """One prediction row per record and decoding mode (see the runner for the row fields)."""
    unknown = set(modes) - set(MODES)
    if unknown:
        from ..errors import MedinjectError

        raise MedinjectError(f"unknown decoding mode(s) {', '.join(sorted(unknown))}; choose from {', '.join(MODES)}")
    texts, prompts = render_prompts(tokenizer, records, prompt_style, prompt_stats)
    eos = tokenizer.eos_token_id
    allowed_cache: dict[tuple[str, ...], tuple[int, ...]] = {}
    letter_maps: dict[tuple[str, ...], dict[int, str]] = {}
    streams: list[tuple[str, Stream]] = []
    probe_ids: list[list[int]] = []
    for i, r in enumerate(records):
        letters = tuple(r.options)
        if letters not in allowed_cache:
            allowed_cache[letters] = tuple(allowed_token_ids(tokenizer, letters))
            letter_maps[letters] = letter_token_map(tokenizer, letters)
        probe_ids.append(sorted(letter_maps[letters]))
        multi = r.task is Task.MCQ
        for mode in modes:
            if mode == "constrained":
                s = Stream(item=i, max_new=max_new_tokens(r), allowed=allowed_cache[letters])
            else:
                give_up = None if paper else _give_up(tokenizer, letters, multi)
                s = Stream(item=i, max_new=max_new_tokens(r), give_up=give_up)
            streams.append((mode, s))
    probes = decoder(model, prompts, [s for _, s in streams], eos_id=eos, batch_size=batch_size,
                    groups=[r.task.value for r in records], probe_ids=probe_ids, on_batch=on_batch)
    rows = []
    for mode, s in streams:
        r = records[s.item]
        letters = tuple(r.options)
        output = tokenizer.decode(s.tokens, skip_special_tokens=True).strip()
        pred = parse_answer(output, letters, multi=r.task is Task.MCQ, rule=parse_rule(paper, mode))
        token_letters = [letter_maps[letters][t] for t in probe_ids[s.item]]
        row = {
            "id": r.id, "source": r.source, "task": r.task.value, "mode": mode,
            "variant": (variants[s.item] if variants else {}).get("variant", "original"),
            "prompt": texts[s.item], "output": output, "pred": pred, "gold": r.letters,
            "letter_probs": _softmax_by_letter(probes[s.item], token_letters),
            "scores": choice_scores(r.letters, pred),
        }
        if variants and variants[s.item].get("order"):
            row["order"] = variants[s.item]["order"]
        rows.append(row)
    return rows


def parse_rule(paper: bool, mode: str) -> str:
    """`paper` parses as the reference script does. Otherwise a constrained answer is read by the same rule,
    which is already the token rule there (its letters are letter tokens, whatever separates them), and an
    unconstrained one by the `tokens` rule, so that no letter is read inside a word."""
    return "reference" if paper or mode == "constrained" else "tokens"


def _give_up(tokenizer, letters: tuple[str, ...], multi: bool) -> Callable[[list[int]], bool]:
    def check(tokens: list[int]) -> bool:
        return cannot_parse(tokenizer.decode(tokens, skip_special_tokens=True), letters, multi=multi)

    return check
