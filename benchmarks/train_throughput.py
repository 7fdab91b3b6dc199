"""Training throughput: the reference configuration against medinject's default, and DoRA against LoRA.

Trains, in one process, the same model (default: the small toy model; `--model real`: SmolLM2-135M-Instruct;
see benchmarks/bench_models.py) on the same 400 FrenchMedMCQA train records
for the same number of optimizer steps:
  1. reference: loss over the whole chat, gradient checkpointing on, no length grouping, DoRA;
  2. medinject's default, DoRA;
  3. medinject's default with plain LoRA.
Reports useful (non-padding) tokens per second for each, and the eval loss of (1) and (2) measured the same way:
mean NLL over the answer tokens of held-out FrenchMedMCQA dev records. `--ablations` adds one run per default
choice turned back (checkpointing, sampler, loss scope) and DoRA without dropout.

    .venv/bin/python benchmarks/train_throughput.py [--model toy|real|DIR] [--steps 6] [--threads 1] [--clock cpu]
        [--repeats 1] [--ablations]

Last line: tokens_per_s_ratio=X dora_over_lora=Y  (X = tokens/s(2) / tokens/s(1), Y = step time(2) / step time(3)).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_models  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MEDINJECT_SHARED", REPO.parent / "shared")) / "data" / "frenchmedmcqa"


def records(n_train: int, n_eval: int, seed: int = 0):
    from medinject.ingest import get_importer
    from medinject.records import Origin

    read = get_importer("frenchmedmcqa")
    train = list(read(SHARED / "train.json", origin=Origin.NATIVE))
    dev = list(read(SHARED / "dev.json", origin=Origin.NATIVE, split="dev"))
    rng = random.Random(seed)
    return rng.sample(train, n_train), rng.sample(dev, n_eval)


def answer_loss(model_dir: Path, adapter_dir: Path, eval_records, max_length: int, batch: int = 8) -> float:
    """Mean NLL per answer token (answer + end-of-turn) of base + adapter on `eval_records`."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medinject.train.data import IGNORE, encode

    tok = AutoTokenizer.from_pretrained(adapter_dir)
    rows = encode(eval_records, tok, loss_on="answer", max_length=max_length).rows
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), str(adapter_dir)).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            width = max(len(r["input_ids"]) for r in chunk)
            ids = torch.tensor([r["input_ids"] + [tok.pad_token_id] * (width - len(r["input_ids"])) for r in chunk])
            labels = torch.tensor([r["labels"] + [IGNORE] * (width - len(r["labels"])) for r in chunk])
            mask = (torch.arange(width)[None] < torch.tensor([len(r["input_ids"]) for r in chunk])[:, None]).long()
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            target = labels[:, 1:]
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, ignore_index=IGNORE,
                                                    reduction="sum")
            total += nll.item()
            count += int((target != IGNORE).sum())
    return total / count


def run(name: str, model_dir: Path, data: Path, work: Path, base: dict, **changes) -> dict:
    from medinject.train import train

    adapter = {**base.get("adapter", {}), **changes.pop("adapter", {})}
    out = work / f"{name}-{len(list(work.glob(name + '-*')))}"
    cfg = {**base, **changes, "adapter": adapter, "model": str(model_dir), "data": str(data), "output_dir": str(out)}
    m = json.loads((train(cfg) / "manifest.json").read_text())["results"]
    # The training loop only (no loading, no tokenizing): wall seconds, and this process's CPU seconds, which
    # a busy shared machine disturbs far less (with one torch thread, CPU time is the work done).
    return {"name": name, "out": out, "tokens": m["tokens_seen"], "steps": m["global_step"],
            "wall_s": m["train_runtime_this_session_s"], "cpu_s": m["train_cpu_time_this_session_s"]}


def best(runs: list[dict], clock: str) -> dict:
    """Of repeated runs of one configuration, the fastest (the least disturbed)."""
    key = f"{clock}_s"
    r = dict(min(runs, key=lambda r: r[key]))
    r["tokens_per_s"] = r["tokens"] / r[key]
    r["step_s"] = r[key] / r["steps"]
    return r


def main(argv: list[str] | None = None) -> None:
    work = Path(tempfile.mkdtemp(prefix="medinject-bench-train-"))
    try:
        bench(work, argv)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench(work: Path, argv: list[str] | None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6, help="optimizer steps per configuration")
    ap.add_argument("--batch", type=int, default=8, help="per-device batch")
    ap.add_argument("--accum", type=int, default=2, help="gradient accumulation")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)")
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                    help="time base for tokens/s: process CPU time (default, robust to a busy machine) or wall")
    ap.add_argument("--repeats", type=int, default=1, help="runs per configuration, interleaved; the fastest counts")
    ap.add_argument("--eval-records", type=int, default=64)
    ap.add_argument("--ablations", action="store_true", help="also time each default choice on its own")
    ap.add_argument("--model", default="toy", help=f"model: {bench_models.CHOICES} (default: toy)")
    ap.add_argument("--max-length", type=int, default=1024, help="longest sequence in tokens")
    args = ap.parse_args(argv)

    import torch

    from medinject.io import write_records

    torch.set_num_threads(args.threads)
    model_dir = bench_models.model_dir(args.model, work)
    train_recs, eval_recs = records(400, args.eval_records)
    data = work / "train.jsonl"
    write_records(data, train_recs)
    max_length = args.max_length
    base = dict(max_steps=args.steps, per_device_train_batch_size=args.batch, gradient_accumulation_steps=args.accum,
                learning_rate=1e-3, warmup_steps=0, max_length=max_length, logging_steps=1, save_strategy="no",
                seed=42, adapter={"use_dora": True})
    configs = {
        "1-reference": dict(loss_on="all", activation_checkpointing=True, train_sampling_strategy="random"),
        "2-default": {},
        "3-default-lora": dict(adapter={"use_dora": False}),
    }
    if args.ablations:
        configs |= {
            "2+checkpointing": dict(activation_checkpointing=True),
            "2+random-sampler": dict(train_sampling_strategy="random"),
            "2+loss-on-all": dict(loss_on="all"),
            "2+dora-dropout-0": dict(adapter={"lora_dropout": 0.0}),
        }
    done: dict[str, list[dict]] = {k: [] for k in configs}
    for _ in range(args.repeats):  # interleaved, so a slow spell of the machine hits every configuration
        for name, changes in configs.items():
            done[name].append(run(name, model_dir, data, work, base, **{k: dict(v) if isinstance(v, dict) else v
                                                                         for k, v in changes.items()}))
    runs = [best(v, args.clock) for v in done.values()]
    for r in runs[:2]:
        r["eval_loss"] = answer_loss(model_dir, r["out"], eval_recs, max_length)
    print(f"\n{bench_models.label(args.model)}, {len(train_recs)} FrenchMedMCQA train records, {args.steps} "
          f"optimizer steps of {args.batch} x {args.accum} sequences, torch threads {args.threads}, "
          f"{args.clock} clock, "
          f"best of {args.repeats}")
    print(f"{'configuration':<20} {'tokens':>7} {'wall s':>7} {'cpu s':>7} {'s/step':>7} {'tokens/s':>9} "
          f"{'vs (2)':>7} {'eval loss':>9}")
    default = runs[1]
    for r in runs:
        ev = f"{r['eval_loss']:.4f}" if "eval_loss" in r else ""
        print(f"{r['name']:<20} {r['tokens']:>7} {r['wall_s']:>7.1f} {r['cpu_s']:>7.1f} {r['step_s']:>7.2f} "
              f"{r['tokens_per_s']:>9.1f} {r['tokens_per_s'] / default['tokens_per_s']:>7.2f} {ev:>9}")
    ref, default, lora = runs[:3]
    x = default["tokens_per_s"] / ref["tokens_per_s"]
    y = default["step_s"] / lora["step_s"]
    loss_gap = default["eval_loss"] / ref["eval_loss"] - 1
    print(f"eval loss on answer tokens, (2) vs (1): {100 * loss_gap:+.1f}% (target: at most +5%); "
          f"tokens/s (2)/(1) target: >= 1.5")
    print(f"tokens_per_s_ratio={x:.2f} dora_over_lora={y:.2f}")


if __name__ == "__main__":
    main()
