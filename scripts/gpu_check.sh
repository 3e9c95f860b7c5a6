#!/usr/bin/env bash
# The prepared GPU check (issue 4), one call on a CUDA machine, under 8 minutes:
#   1. the tests marked `gpu` (autocast training, data on the device or staged, no per-step host sync);
#   2. speechseq-bench on synthetic waveforms of the full v2 size (105,829 clips, no dataset needed);
#   3. a short real training run (speechseq-train) on a generated Speech Commands-style folder.
# Figures are printed; outputs go to runs/gpu_check/. Usage: scripts/gpu_check.sh  (PYTHON=... to pick python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${GPU_CHECK_OUT:-runs/gpu_check}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # works from a checkout, installed or not
mkdir -p "$OUT"
t0=$(date +%s)
failed=()
step() { echo; echo "== $1 ($(( $(date +%s) - t0 )) s elapsed)"; }
# A failing section is reported and the next one still runs: one call should bring back every figure.
try() { local name=$1; shift; "$@" || { echo "!! $name failed (exit $?)"; failed+=("$name"); }; }

step "machine"
"$PY" - <<'PY'
import os, platform, torch
assert torch.cuda.is_available(), "scripts/gpu_check.sh needs a CUDA device"
p = torch.cuda.get_device_properties(0)
print(f"GPU {p.name}, {p.total_memory / 2**30:.0f} GiB; torch {torch.__version__} (CUDA {torch.version.cuda}, "
      f"cuDNN {torch.backends.cudnn.version()}); {os.cpu_count()} CPUs; python {platform.python_version()}")
PY
nvidia-smi --query-gpu=name,memory.total,memory.used,utilization.gpu --format=csv 2>/dev/null || true

step "tests marked gpu"
try "gpu tests" timeout 180 "$PY" -m pytest -q -m gpu tests/test_gpu.py -p no:cacheprovider

step "benchmark: synthetic full v2 size, default model, batch 1024"
bench1() {
  timeout 200 "$PY" -m speechseq.bench.bench_cmd synthetic=true batch_size=1024 eval_batch_size=4096 warmup_steps=5 \
      train_steps=60 baseline_steps=16 baseline_workers=8 decode_clips=2000 frontend_clips=4096 librosa_clips=200 \
      eval_clips=32768 hydra.run.dir="$OUT/bench" > "$OUT/bench.txt" 2>&1
  local rc=$?
  grep -av "clip/s\]\|it/s\]" "$OUT/bench.txt" | tail -25
  return $rc
}
try "benchmark batch 1024" bench1

step "benchmark: same, batch 256 (the trainer's batch sizes are a choice; this shows the trade)"
try "benchmark batch 256" timeout 80 "$PY" -m speechseq.bench.bench_cmd synthetic=true batch_size=256 warmup_steps=5 \
    train_steps=60 baseline_steps=2 baseline_workers=8 decode_clips=600 frontend_clips=1024 librosa_clips=50 \
    eval_clips=8192 hydra.run.dir="$OUT/bench256" > "$OUT/bench256.txt" 2>&1
grep -a "train: \|training speedup" "$OUT/bench256.txt" || true

step "short training run on the GPU (generated folder, 13 words x 300 clips, 5 epochs, batch 512)"
DATA="$OUT/synthetic_sc"
train_run() {
  [ -f "$DATA/testing_list.txt" ] || "$PY" -c "
from pathlib import Path; from tests.conftest import write_synthetic_dataset
write_synthetic_dataset(Path('$DATA'), clips_per_word=300)" || return 1
  timeout 90 "$PY" -m speechseq.training.train data.root="$DATA" data.cache_dir="$OUT/cache" trainer.device=cuda \
      trainer.max_epochs=5 trainer.batch_size=512 trainer.progress=false hydra.run.dir="$OUT/train" || return 1
  "$PY" - "$OUT/train" <<'PY'
import json, sys
rows = [json.loads(x) for x in open(f"{sys.argv[1]}/metrics.jsonl")]
for r in rows:
    print(f"epoch {r['epoch']}: loss {r['train_loss']:.3f} val acc {r['val_acc']:.3f} {r['epoch_seconds']:.2f} s")
PY
}
try "training run" train_run

step "done"
grep -a "training speedup\|train: real pipeline\|train: per-clip" "$OUT/bench.txt" || true
if ((${#failed[@]})); then echo "FAILED: ${failed[*]}"; exit 1; fi
echo "all GPU checks passed"
