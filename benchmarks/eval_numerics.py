"""How many multiple-choice predictions batched decoding changes in low precision, against per-item `generate`.

    .venv/bin/python benchmarks/eval_numerics.py [--items 400] [--model DIR] [--dtype bfloat16] [--batch-size 16]

On FrenchMedMCQA test items (both task types) and one model (default: the small random toy model; pass
`--model` for a real one; `--toy-size tiny` on a busy CPU), in one process and one dtype:
  1. the reference procedure: one greedy and one constrained `generate` per item (`evaluate.reference`);
  2. medinject's evaluator, `--per-item` (one item and stream per forward pass, no prefix sharing);
  3. medinject's evaluator batched (left padding, shared prefixes), as `fast` mode runs by default.
It counts the (item, decoding mode) outputs whose decoded text in (2) and (3) differs from (1), an upper bound
on changed predictions. The last line is `dtype=D items=N per_item_diff=A batched_diff=B` (A and B out of
2 x N outputs).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "frenchmedmcqa" / "test.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=400)
    ap.add_argument("--model", default=None, help="model folder (default: build a toy model of --toy-size)")
    ap.add_argument("--toy-size", default="small", choices=["tiny", "small"])
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--prompt-style", default="paper")
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()

    import functools

    from tqdm import tqdm

    from medinject.evaluate.decoding import decode, load_model
    from medinject.evaluate.mcqa import predict_choice
    from medinject.evaluate.reference import reference_predict
    from medinject.ingest import ingest
    from medinject.records import Origin

    model_dir = args.model
    if model_dir is None:
        from medinject.toymodel import build_toy_model

        model_dir = str(build_toy_model(Path(tempfile.mkdtemp()) / "toy", size=args.toy_size))
    records = list(ingest(args.data, "frenchmedmcqa", origin=Origin.NATIVE, split="test"))[:args.items]
    model, tok = load_model(model_dir, device="cpu", dtype=args.dtype)

    ref = {}
    for r in tqdm(records, desc="reference generate", file=sys.stderr):
        ref[r.id] = reference_predict([r], model, tok, prompt_style=args.prompt_style)[0]

    def differ(rows):
        n = 0
        for row in rows:
            x = ref[row["id"]]
            key = "constrained" if row["mode"] == "constrained" else "greedy"
            n += row["output"] != x[f"{key}_output"]
        return n

    per_item = predict_choice(records, model, tok, paper=True, batch_size=1, prompt_style=args.prompt_style,
                              decoder=functools.partial(decode, per_item=True))
    batched = predict_choice(records, model, tok, paper=True, batch_size=args.batch_size,
                             prompt_style=args.prompt_style)
    print(f"dtype={args.dtype} items={len(records)} per_item_diff={differ(per_item)} "
          f"batched_diff={differ(batched)}", flush=True)


if __name__ == "__main__":
    main()
