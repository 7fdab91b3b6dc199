"""`run_eval`: records files + a causal LM -> predictions.jsonl, summary.json (schema in `summary`), timing.json.

summary.json holds no clock readings, so the same inputs and seed give the same bytes; wall times go to
timing.json.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ..bootstrap import N_BOOT
from ..errors import InputError, MedinjectError
from ..io import package_versions as versions_of
from ..io import read_records, sha256_file, write_json, write_jsonl
from ..progress import progress as progress_bar
from ..prompts import PROMPT_STYLES, PROMPT_VERSION
from ..records import Record
from ..schemas import stamp
from . import bias, oeq
from .mcqa import MODES, parse_rule, predict_choice
from .summary import SCHEMA, score_rows, summarize

_PACKAGES = ("medinject", "torch", "transformers", "peft", "numpy", "sacrebleu", "rouge-score", "nltk", "bert-score")


def package_versions() -> dict[str, str | None]:
    return versions_of(_PACKAGES)


def load_eval_records(data_files: Sequence[str | Path], limit: int | None = None) -> tuple[list[Record], list[dict]]:
    """Records of every file (the first `limit` of each), refusing an id seen twice in one data set."""
    records, data, seen = [], [], {}
    for f in data_files:
        f = Path(f)
        n = 0
        for r in read_records(f):
            if limit is not None and n >= limit:
                break
            key = (r.source, r.id)
            if key in seen:
                raise InputError(f, f"duplicate id in data set {r.source!r} (also in {seen[key]})", record=r.id,
                                 field="id")
            seen[key] = str(f)
            records.append(r)
            n += 1
        data.append({"path": str(f), "sha256": sha256_file(f), "records": n})
    return records, data


def run_eval(model: str, data: Sequence[str | Path], out: str | Path, *, adapter: str | Path | None = None,
             mode: str = "fast", modes: Sequence[str] = MODES, permute: int = 0, circular: bool = False,
             seed: int = 0, batch_size: int | None = 16, max_new_tokens: int | None = 512,
             bertscore_model: str | None = oeq.DEFAULT_BERTSCORE_MODEL, bertscore_layers: int | None = None,
             n_boot: int = N_BOOT, device: str | None = None, dtype: str = "auto", limit: int | None = None,
             engine: str = "transformers", progress: bool = True, prompt_style: str | None = None,
             per_item: bool | None = None, chat_template: str | Path | None = None) -> dict:
    """Evaluate `model` (hub id or folder, plus an optional PEFT `adapter`) on the record files `data`.

    Writes predictions.jsonl, summary.json and timing.json into `out` and returns the summary. The task of
    each item comes from its record. `mode="paper"` reproduces the reference procedure exactly; `"fast"` gives
    the same predictions sooner (see `mcqa`). `modes` are the decoding modes of multiple choice. `permute`
    adds K reordered copies of each multiple-choice item, `circular` all its cyclic rotations.
    `bertscore_model=None` skips BERTScore. `prompt_style` (default: `paper` in paper mode, `medinject-fr`
    otherwise) names how records become prompts (`prompts.PROMPT_STYLES`). `per_item` (default: on in paper
    mode) decodes one item and stream per forward pass, without prefix sharing: the numerics of one
    `generate` call per item. `chat_template` is a Jinja file that replaces or supplies the model's template.
    """
    t0 = time.perf_counter()
    batch_size = batch_size or 16
    max_new_tokens = max_new_tokens or 512
    if mode not in ("fast", "paper"):
        raise MedinjectError(f"unknown mode {mode!r}; choose fast or paper")
    if permute < 0 or batch_size < 1 or max_new_tokens < 1 or n_boot < 1:
        raise MedinjectError("--permute must be >= 0; --batch-size, --max-new-tokens and --n-boot must be >= 1")
    paper = mode == "paper"
    prompt_style = prompt_style or ("paper" if paper else "medinject-fr")
    if prompt_style not in PROMPT_STYLES:
        raise MedinjectError(f"unknown prompt style {prompt_style!r}; choose one of {', '.join(PROMPT_STYLES)}")
    if per_item is None:
        per_item = paper and engine == "transformers"
    if per_item and engine != "transformers":
        raise MedinjectError("--per-item applies to the transformers engine only")
    adapter = str(adapter) if adapter else None
    modes = list(dict.fromkeys(modes))
    if not modes:
        raise MedinjectError("--modes: give at least one decoding mode (constrained, greedy)")
    records, data_info = load_eval_records(data, limit)
    choice = [r for r in records if r.is_choice]
    open_ = [r for r in records if not r.is_choice]
    bertscore_model = oeq.resolve_bertscore_model(bertscore_model)
    bertscore = None
    if open_ and bertscore_model:  # fail before the long part when the encoder is missing
        bertscore = {"model": bertscore_model, "layer": oeq.bertscore_layer(bertscore_model, bertscore_layers)}
    # Options that could not be read at ingest cannot be reordered; a reordered copy is no longer the source
    # prompt, so it is rendered from its fields (the authors' rendering in the paper style).
    movable = [r for r in choice if r.meta.get("options_parsed") is not False]
    extra, info = bias.variants(movable, permute=permute, circular=circular, seed=seed)
    extra = [v.model_copy(update={"meta": {k: x for k, x in v.meta.items() if k != "messages"}}) for v in extra]

    if engine == "vllm":
        from .vllm_engine import decode as decoder
        from .vllm_engine import load_model
    elif engine == "transformers":
        from .decoding import decode as decoder
        from .decoding import load_model
    else:
        raise MedinjectError(f"unknown engine {engine!r}; choose transformers or vllm")
    from ..chat import require_template

    lm, tokenizer = load_model(model, adapter, device=device, dtype=dtype,
                               chat_template=str(chat_template) if chat_template else None)
    require_template(tokenizer, "--chat-template FILE")
    if per_item:
        import functools

        decoder = functools.partial(decoder, per_item=True)
    t_load = time.perf_counter()
    prompt_stats: dict = {}

    with progress_bar("eval", len(choice) + len(extra) + len(open_), enabled=progress) as bar:
        step = bar.advance
        rows = predict_choice(choice + extra, lm, tokenizer, paper=paper, modes=modes, batch_size=batch_size,
                              variants=[{}] * len(choice) + info, on_batch=step, decoder=decoder,
                              prompt_style=prompt_style, prompt_stats=prompt_stats) if choice else []
        t_choice = time.perf_counter()
        if open_:
            rows += oeq.predict_open(open_, lm, tokenizer, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                     on_batch=step, decoder=decoder, prompt_style=prompt_style,
                                     prompt_stats=prompt_stats)
    t_gen = time.perf_counter()
    score_rows(rows, bertscore_model=bertscore_model, bertscore_layers=bertscore_layers)
    summary = {
        "schema": SCHEMA,
        "settings": {
            "model": model, "adapter": adapter, "mode": mode, "modes": modes,
            "seed": seed, "n_boot": n_boot, "batch_size": batch_size, "max_new_tokens": max_new_tokens,
            "permute": permute, "circular": circular, "bertscore_model": bertscore_model,
            "bertscore_layer": bertscore["layer"] if bertscore else None, "engine": engine, "dtype": dtype,
            "limit": limit, "prompt_style": prompt_style, "prompt_style_definition": PROMPT_STYLES[prompt_style],
            "prompt_version": PROMPT_VERSION, "prompts": dict(sorted(prompt_stats.items())),
            "per_item": per_item, "chat_template": str(chat_template) if chat_template else None,
            "variants_skipped_unparsed_options": len(choice) - len(movable) if (permute or circular) else 0,
            "data": data_info, "versions": package_versions(),
            "parse_rule": {m: parse_rule(paper, m) for m in modes},
        },
        **({"order_variants": bias.order_counts(choice)} if permute or circular else {}),
        **summarize(rows, seed=seed, n_boot=n_boot, bertscore=bertscore),
    }
    out = Path(out)
    write_jsonl(out / "predictions.jsonl", (stamp("eval.prediction", r) for r in rows))
    write_json(out / "summary.json", summary)
    t_end = time.perf_counter()
    write_json(out / "timing.json", {
        "load_s": round(t_load - t0, 3), "choice_s": round(t_choice - t_load, 3),
        "open_s": round(t_gen - t_choice, 3), "metrics_s": round(t_end - t_gen, 3), "total_s": round(t_end - t0, 3),
        "items": len(records), "prompts": len(choice) + len(extra) + len(open_), "device": str(lm.device),
    })
    return summary

