"""Training throughput and answer loss: the `paper` recipe against the `medinject` recipe, and DoRA against LoRA.

Trains, in one process, the same model (default: the small toy model; `--model real`: SmolLM2-135M-Instruct;
see benchmarks/bench_models.py) on the same 400 FrenchMedMCQA train records
for the same number of optimizer steps and sequences per step:
  1. paper: the authors' recipe (configs/train/paper.yaml: whole-chat loss, their prompt, added pad token,
     length grouping, TRL's activation checkpointing), DoRA;
  2. medinject: our recipe (configs/train/medinject.yaml), DoRA;
  3. medinject with plain LoRA.
Reports useful (non-padding) tokens per second for each, and the eval loss of (1) and (2) measured the same way:
mean NLL over the answer tokens (answer + end-of-turn) of held-out FrenchMedMCQA dev records, each run on the
prompt it was trained with. `--ablations` adds one run per difference of (2) from (1) turned back on its own
(prompt, loss scope, sampler, checkpointing, pad token) and DoRA without dropout.

    .venv/bin/python benchmarks/train_throughput.py [--model toy|real|DIR] [--steps 6] [--threads 1] [--clock cpu]
        [--repeats 1] [--ablations]

Last line: tokens_per_s_ratio=X dora_over_lora=Y eval_loss_paper=A eval_loss_medinject=B
(X = tokens/s(2) / tokens/s(1), Y = step time(2) / step time(3), A and B the answer-token eval losses).
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


def answer_loss(model_dir: Path, adapter_dir: Path, eval_records, max_length: int, prompt: str,
                batch: int = 8) -> float:
    """Mean NLL per answer token (answer + end-of-turn) of base + adapter on `eval_records`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medinject.train.data import IGNORE, encode
    from medinject.train.merge import attach_adapter

    tok = AutoTokenizer.from_pretrained(adapter_dir)
    rows = encode(eval_records, tok, loss_on="answer", max_length=max_length, prompt=prompt).rows
    model = attach_adapter(AutoModelForCausalLM.from_pretrained(model_dir), adapter_dir).eval()
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
    manifest = json.loads((train(cfg) / "manifest.json").read_text())
    m = manifest["results"]
    # The training loop only (no loading, no tokenizing): wall seconds, and this process's CPU seconds, which
    # a busy shared machine disturbs far less (with one torch thread, CPU time is the work done).
    return {"name": name, "out": out, "tokens": m["tokens_seen"], "steps": m["global_step"],
            "wall_s": m["train_runtime_this_session_s"], "cpu_s": m["train_cpu_time_this_session_s"],
            "prompt": manifest["recipe"]["prompt"]}


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
    base = dict(max_steps=args.steps, per_device_train_batch_size=args.batch,
                global_batch_size=args.batch * args.accum, learning_rate=1e-3, warmup_steps=0, max_length=max_length,
                logging_steps=1, save_strategy="no", seed=42, adapter={"use_dora": True})
    configs = {
        "1-paper": dict(recipe="paper"),
        "2-medinject": dict(recipe="medinject"),
        "3-medinject-lora": dict(recipe="medinject", adapter={"use_dora": False}),
    }
    if args.ablations:
        ours = dict(recipe="medinject")
        configs |= {
            "2+paper-prompt": ours | dict(prompt="paper"),
            "2+loss-on-all": ours | dict(loss_on="all"),
            "2+group-by-length": ours | dict(train_sampling_strategy="group_by_length"),
            "2+checkpointing": ours | dict(activation_checkpointing=True),
            "2+pad-token": ours | dict(add_pad_token="[PAD]"),
            "2+dora-dropout-0": ours | dict(adapter={"lora_dropout": 0.0}),
        }
    done: dict[str, list[dict]] = {k: [] for k in configs}
    for _ in range(args.repeats):  # interleaved, so a slow spell of the machine hits every configuration
        for name, changes in configs.items():
            done[name].append(run(name, model_dir, data, work, base, **{k: dict(v) if isinstance(v, dict) else v
                                                                         for k, v in changes.items()}))
    runs = [best(v, args.clock) for v in done.values()]
    for r in runs[:2]:
        r["eval_loss"] = answer_loss(model_dir, r["out"], eval_recs, max_length, r["prompt"])
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
    print(f"eval loss on answer tokens, (2) vs (1): {100 * loss_gap:+.1f}%")
    print(f"tokens_per_s_ratio={x:.2f} dora_over_lora={y:.2f} eval_loss_paper={ref['eval_loss']:.4f} "
          f"eval_loss_medinject={default['eval_loss']:.4f}")


if __name__ == "__main__":
    main()
