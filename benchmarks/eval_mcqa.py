"""Multiple-choice evaluation speed: medinject's evaluator against the reference procedure and a bare forward pass.

    .venv/bin/python benchmarks/eval_mcqa.py [--items N] [--batch-size 16] [--model toy|real|DIR] [--device cpu]

On one model (default: the small random Qwen3 toy model; `--model real`: SmolLM2-135M-Instruct; see
benchmarks/bench_models.py) and the FrenchMedMCQA test items
(both task types), in one process:
  1. medinject's evaluator in `paper` mode (both decoding modes), and in the default `fast` mode;
  2. the reference procedure re-implemented faithfully: one item at a time, a greedy and a constrained
     `generate` per item with scores returned (`medinject.evaluate.reference`);
  3. the floor: one bare batched forward pass over the same prompts (sorted by length, left padding, last
     position only), nothing else.
It checks that (1) in paper mode and (2) give the same predictions, then prints as its last line
`speedup_vs_reference=X floor_ratio=Y`, X = time(2) / time(1) over all items, Y = time(1) / time(3) on the
mcqu items. Timings on a shared CPU are noisy; run it on an idle machine when you can.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_models  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "frenchmedmcqa" / "test.json"


def floor(model, prompts, batch_size):
    """One bare batched forward pass per batch: the least any evaluator must spend."""
    import torch

    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = [prompts[i] for i in order[start:start + batch_size]]
            width = max(map(len, batch))
            ids = torch.tensor([[0] * (width - len(p)) + p for p in batch], device=model.device)
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch], device=model.device)
            model(input_ids=ids, attention_mask=mask, logits_to_keep=1)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=None, help="first N test items (default: all)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--chunk", type=int, default=32, help="items per measurement round")
    ap.add_argument("--model", default="toy", help=f"model: {bench_models.CHOICES} (default: toy)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()

    import torch

    from medinject.evaluate.decoding import load_model
    from medinject.evaluate.mcqa import predict_choice, render_prompts
    from medinject.evaluate.reference import reference_predict
    from medinject.ingest import ingest
    from medinject.records import Origin, Task
    tmp = tempfile.TemporaryDirectory()
    model_dir = str(bench_models.model_dir(args.model, Path(tmp.name)))
    records = list(ingest(Path(args.data), "frenchmedmcqa", origin=Origin.NATIVE, split="test"))[:args.items]
    mcqu = [r for r in records if r.task is Task.MCQU]
    model, tok = load_model(model_dir, device=args.device)
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"model {model_dir} ({n_params:.1f}M parameters) on {model.device}, {torch.get_num_threads()} threads; "
          f"{len(records)} items ({len(mcqu)} mcqu, {len(records) - len(mcqu)} mcq), batch size {args.batch_size}",
          flush=True)
    print(f"mean prompt length {sum(map(len, render_prompts(tok, records)[1])) / len(records):.0f} tokens", flush=True)
    predict_choice(records[:4], model, tok, paper=True, batch_size=4)  # warm-up

    # The CPU is shared: measuring chunk by chunk, each method in turn, spreads load swings over all of them.
    t = dict.fromkeys(("floor", "mcqu", "mcq", "fast", "ref"), 0.0)
    paper, fast, ref = [], [], []
    for start in range(0, len(records), args.chunk):
        chunk = records[start:start + args.chunk]
        cu = [r for r in chunk if r.task is Task.MCQU]
        cm = [r for r in chunk if r.task is not Task.MCQU]
        prompts_cu = render_prompts(tok, cu)[1]
        dt, _ = timed(lambda p=prompts_cu: floor(model, p, args.batch_size))
        t["floor"] += dt
        for key, part in (("mcqu", cu), ("mcq", cm)):
            dt, rows = timed(lambda p=part: predict_choice(p, model, tok, paper=True, batch_size=args.batch_size))
            t[key] += dt
            paper += rows
        dt, rows = timed(lambda c=cu + cm: predict_choice(c, model, tok, paper=False, batch_size=args.batch_size))
        t["fast"] += dt
        fast += rows
        dt, rows = timed(lambda c=cu + cm: reference_predict(c, model, tok))
        t["ref"] += dt
        ref += rows
        print(f"  {start + len(chunk)}/{len(records)} items: " + ", ".join(f"{k} {v:.1f}s" for k, v in t.items()),
              file=sys.stderr, flush=True)
    t_paper = t["mcqu"] + t["mcq"]
    print(f"floor (bare batched forward, mcqu): {t['floor']:.2f}s", flush=True)
    print(f"medinject paper mode, mcqu: {t['mcqu']:.2f}s; mcq: {t['mcq']:.2f}s; all items, both decoding modes: "
          f"{t_paper:.2f}s", flush=True)
    print(f"medinject fast mode (default), all items, both decoding modes: {t['fast']:.2f}s "
          f"(x{t_paper / t['fast']:.2f} vs paper mode)", flush=True)
    print(f"reference procedure, all items, both decoding modes: {t['ref']:.2f}s", flush=True)

    ref_by = {x["id"]: x for x in ref}
    diff = {"constrained": 0, "greedy": 0, "fast": 0, "probs": 0}
    fast_by = {(r["id"], r["mode"]): r for r in fast}
    for row in paper:
        x, quick = ref_by[row["id"]], fast_by[(row["id"], row["mode"])]
        if (row["pred"] or []) != sorted(x[f"prediction_{row['mode']}"]):
            diff[row["mode"]] += 1
            print(f"  differs from reference: {row['id'][:12]} {row['mode']}: {row['output']!r} vs "
                  f"{x[row['mode'] + '_output']!r}", file=sys.stderr)
        if quick["pred"] != row["pred"]:
            diff["fast"] += 1
        if row["mode"] == "constrained" and any(abs(row["letter_probs"][k] - v) > 1e-4
                                                for k, v in x["class_probabilities"].items()):
            diff["probs"] += 1
    valid = sum(r["pred"] is not None for r in paper if r["mode"] == "constrained")
    print(f"paper vs reference: {diff['constrained']} constrained and {diff['greedy']} greedy predictions differ "
          f"out of {len(records)} each ({valid} valid constrained answers); letter probabilities differ (>1e-4) on "
          f"{diff['probs']}; fast vs paper: {diff['fast']} predictions differ", flush=True)
    print(f"speedup_vs_reference={t['ref'] / t_paper:.2f} floor_ratio={t['mcqu'] / t['floor']:.2f}")


if __name__ == "__main__":
    main()
