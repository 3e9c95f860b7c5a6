#!/usr/bin/env bash
# Calibrate a model's streaming detector for a false-alarm budget, then report on test streams.
#
#   scripts/calibrate_pretrained.sh [CHECKPOINT.safetensors] [DATA_ROOT]
#
# Defaults: the shipped model (speechseq/pretrained/kws12_mini.safetensors, and its .onnx/.json
# beside it) and ../shared/data/speech_commands_mini. Steps:
#   1. a validation-split stream, loud noise recipe (VAL_SECONDS, default 1200 s);
#   2. speechseq-eval mode=calibrate: detector settings and threshold for BUDGET false alarms/hour
#      (default 30), written into the checkpoint's metadata (in place, atomically) and into the
#      ONNX export's model.json when one sits beside it;
#   3. test-split streams (TEST_SECONDS, default 600 s), loud and tf recipes, scored with the
#      calibrated settings (speechseq-eval mode=stream: sweep table, curve, report per recipe);
#   4. a summary table (OUT/summary.md).
# Environment: BUDGET, VAL_SECONDS, TEST_SECONDS, SEED (stream seed, default 0), OUT (default
# runs/calibrate), PYTHON (default python). A few minutes on one CPU core.
set -euo pipefail

CKPT=${1:-speechseq/pretrained/kws12_mini.safetensors}
ROOT=${2:-../shared/data/speech_commands_mini}
BUDGET=${BUDGET:-30}
VAL_SECONDS=${VAL_SECONDS:-1200}
TEST_SECONDS=${TEST_SECONDS:-600}
SEED=${SEED:-0}
OUT=${OUT:-runs/calibrate}
PY=${PYTHON:-python}
ONNX=${CKPT%.safetensors}.onnx
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

[ -f "$CKPT" ] || { echo "calibrate_pretrained: no checkpoint at $CKPT" >&2; exit 2; }
mkdir -p "$OUT/streams"

make_stream() {  # split recipe seconds
    "$PY" scripts/make_stream_wav.py "$ROOT" --split "$1" --noise "$2" --seconds "$3" --seed "$SEED" \
        --out "$OUT/streams/$1_$2"
}

make_stream validation loud "$VAL_SECONDS"
onnx_arg=()
[ -f "$ONNX" ] && onnx_arg=("onnx=$ONNX")
"$PY" -m speechseq.evaluation.evaluate mode=calibrate "checkpoint=$CKPT" "${onnx_arg[@]}" \
    "input=$OUT/streams/validation_loud/stream.wav" "labels=$OUT/streams/validation_loud/labels.csv" \
    "stream.max_false_alarms_per_hour=$BUDGET" "hydra.run.dir=$OUT/calibrate"

for recipe in loud tf; do
    make_stream test "$recipe" "$TEST_SECONDS"
    "$PY" -m speechseq.evaluation.evaluate mode=stream "checkpoint=$CKPT" \
        "input=$OUT/streams/test_$recipe/stream.wav" "labels=$OUT/streams/test_$recipe/labels.csv" \
        "hydra.run.dir=$OUT/test_$recipe" > "$OUT/test_$recipe.log"
    tail -n 5 "$OUT/test_$recipe.log"
done

"$PY" - "$OUT" "$BUDGET" <<'EOF'
import json, sys
from pathlib import Path

out, budget = Path(sys.argv[1]), sys.argv[2]
cal = json.loads((out / "calibrate" / "calibration.json").read_text())
s, v = cal["settings"], cal["validation"]
lines = [f"Calibrated for <= {budget} false alarms/hour: detector {s['detector']}, average {s['average_window_ms']:g} ms, "
         f"threshold {s['threshold']:g}, per-class {s['class_thresholds'] or 'none'}, margin {s['margin']:g}, "
         f"suppression {s['suppression_ms']:g} ms (per-class held-out gains {cal['per_class']['held_out_gains_pct']})",
         "", "| stream | minutes | command words | correct % | wrong % | false alarms/h | latency from end median / p90 ms |",
         "|---|---|---|---|---|---|---|",
         f"| validation, loud (tuned on) | {v['duration_s'] / 60:.0f} | {v['command_words']} | {v['correct_pct']:.1f} | "
         f"{v['wrong_pct']:.1f} | {v['false_alarms_per_hour']:.1f} | {v['median_latency_from_end_ms'] or 0:.0f} |"]
for recipe in ("loud", "tf"):
    r = json.loads((out / f"test_{recipe}" / "stream_report.json").read_text())
    lines.append(f"| test, {recipe} | {r['duration_s'] / 60:.0f} | {r['command_words']} | {r['correct_pct']:.1f} | "
                 f"{r['wrong_pct']:.1f} | {r['false_alarms_per_hour']:.1f} | "
                 f"{r['median_latency_from_end_ms'] or 0:.0f} / {r['p90_latency_from_end_ms'] or 0:.0f} |")
text = "\n".join(lines) + "\n"
(out / "summary.md").write_text(text)
print(text)
EOF
