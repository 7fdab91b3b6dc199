#!/usr/bin/env bash
# GPU check, under 10 minutes on one large GPU (an H100/H200 class card):
#   1. builds random weights in Qwen3-4B-Instruct's exact shape, bfloat16 (speed only: the answers mean nothing);
#   2. runs benchmarks/eval_mcqa.py on it (against the reference procedure and the bare forward pass);
#   3. runs benchmarks/train_throughput.py on it (against the authors' training configuration, and DoRA vs LoRA);
#   4. evaluates 200 FrenchMedMCQA test items with `--engine vllm` and with the transformers path, and counts
#      the predictions that differ (none expected; bfloat16 ties between near-equal logits can flip a few).
# Last line: one line of ratios.
#
#   benchmarks/gpu_check.sh            # needs a CUDA GPU, the vllm extra (pip install 'medinject[vllm]')
#   PY=/path/to/python benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
ITEMS=${ITEMS:-200}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/medinject-gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
log() { echo "[gpu_check $(date -u +%H:%M:%S)] $*" >&2; }

"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "gpu_check: no CUDA GPU visible to torch")'
"$PY" -c 'import vllm' 2>/dev/null || { echo "gpu_check: vllm is not installed (pip install 'medinject[vllm]')" >&2; exit 1; }
DATA="$PWD/../shared/data/frenchmedmcqa"
[ -f "$DATA/test.json" ] || { echo "gpu_check: $DATA/test.json is missing (../shared/data beside the repo)" >&2; exit 1; }

log "building a random Qwen3-4B-shape model (bfloat16)"
MODEL="$WORK/qwen3-4b-shape"
"$PY" -c "import sys; from pathlib import Path; sys.path.insert(0, 'benchmarks'); import bench_models; \
bench_models.build_qwen3_4b_shape(Path('$MODEL'))"

log "eval benchmark ($ITEMS items)"
timeout 200 "$PY" benchmarks/eval_mcqa.py --model "$MODEL" --items "$ITEMS" --device cuda --batch-size 32 \
    | tee "$WORK/eval.log"
log "training benchmark"
timeout 200 "$PY" benchmarks/train_throughput.py --model "$MODEL" --steps 4 --threads 8 --clock wall \
    | tee "$WORK/train.log"

log "vllm against transformers ($ITEMS items)"
"$PY" -m medinject.cli ingest "$DATA/test.json" --format frenchmedmcqa --origin native --split test \
    --out "$WORK/test.jsonl" >/dev/null
for engine in transformers vllm; do
    start=$(date +%s%N)
    timeout 150 "$PY" -m medinject.cli eval --model "$MODEL" --data "$WORK/test.jsonl" --out "$WORK/$engine" \
        --engine "$engine" --limit "$ITEMS" --batch-size 32 --device cuda --no-progress >/dev/null
    echo $(( ($(date +%s%N) - start) / 1000000 )) > "$WORK/$engine.ms"
done

"$PY" - "$WORK" <<'EOF'
import json, re, sys
from pathlib import Path

work = Path(sys.argv[1])
last = lambda name: (work / name).read_text().strip().splitlines()[-1]
ratios = dict(re.findall(r"(\w+)=([\d.]+)", last("eval.log") + " " + last("train.log")))
preds = {}
for engine in ("transformers", "vllm"):
    rows = [json.loads(x) for x in (work / engine / "predictions.jsonl").read_text().splitlines() if x.strip()]
    preds[engine] = {(r["id"], r["mode"], r["variant"]): r["pred"] for r in rows}
same = sum(preds["vllm"].get(k) == v for k, v in preds["transformers"].items())
t = {e: float((work / f"{e}.ms").read_text()) for e in preds}  # wall time of the whole command, load included
print(f"eval_speedup_vs_reference={ratios['speedup_vs_reference']} floor_ratio={ratios['floor_ratio']} "
      f"tokens_per_s_ratio={ratios['tokens_per_s_ratio']} dora_over_lora={ratios['dora_over_lora']} "
      f"vllm_same_predictions={same}/{len(preds['transformers'])} "
      f"vllm_speedup_vs_transformers={t['transformers'] / t['vllm']:.2f}")
EOF
