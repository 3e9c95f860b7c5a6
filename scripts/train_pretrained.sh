#!/usr/bin/env bash
# Rebuild the model shipped in speechseq/pretrained/ with the project's own commands:
#   scripts/train_pretrained.sh [DATA_ROOT] [extra Hydra overrides...]
# DATA_ROOT defaults to ../shared/data/speech_commands_mini. It trains `experiment=mini`, copies
# the best checkpoint to speechseq/pretrained/kws12_mini.safetensors, exports kws12_mini.onnx
# (+ .json) beside it and writes MODEL_CARD.md from the run's test report.
# Environment: PYTHON (default python), SPEECHSEQ_PRETRAINED_RUN (run folder, default
# runs/pretrained/<time>), SPEECHSEQ_PRETRAINED_DIR (destination, default speechseq/pretrained).
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=../shared/data/speech_commands_mini
if [[ $# -gt 0 && "$1" != *=* ]]; then
  DATA=$1
  shift
fi
PY=${PYTHON:-python}
RUN=${SPEECHSEQ_PRETRAINED_RUN:-runs/pretrained/$(date +%Y-%m-%d_%H-%M-%S)}
DEST=${SPEECHSEQ_PRETRAINED_DIR:-speechseq/pretrained}
NAME=kws12_mini

TRAIN=(speechseq-train experiment=mini "data.root=$DATA" trainer.seed=0 "$@")
echo "== training: ${TRAIN[*]} (run folder $RUN)"
"$PY" -m speechseq.train "${TRAIN[@]:1}" "hydra.run.dir=$RUN"

test -f "$RUN/checkpoints/best.safetensors" || { echo "no best checkpoint in $RUN" >&2; exit 1; }
test -f "$RUN/test_report.json" || { echo "no test_report.json in $RUN: the data has no test split?" >&2; exit 1; }
mkdir -p "$DEST"
cp "$RUN/checkpoints/best.safetensors" "$DEST/$NAME.safetensors"
echo "== exporting $DEST/$NAME.onnx"
"$PY" -m speechseq.export "checkpoint=$DEST/$NAME.safetensors" "output=$DEST/$NAME.onnx" \
  "hydra.run.dir=$RUN/export"
"$PY" -m speechseq.pretrained card "$RUN" "$DATA" "${TRAIN[*]}" > "$DEST/MODEL_CARD.md.tmp"
mv "$DEST/MODEL_CARD.md.tmp" "$DEST/MODEL_CARD.md"
chmod a+r "$DEST/$NAME".* "$DEST/MODEL_CARD.md"
echo "== done: $(ls "$DEST" | tr '\n' ' ')"
grep -m1 "Test accuracy" "$DEST/MODEL_CARD.md"
