#!/usr/bin/env bash
# Rebuild the model shipped in speechseq/pretrained/ with the project's own commands:
#   scripts/train_pretrained.sh [DATA_ROOT] [extra Hydra overrides...]
# DATA_ROOT defaults to ../shared/data/speech_commands_mini. It trains `experiment=mini`, copies
# the best checkpoint to speechseq/pretrained/kws12_mini.safetensors, exports kws12_mini.onnx
# (+ .json) beside it, and writes MODEL_CARD.md from the run's test report (clean and in noise) and
# the stream scores. The detector: a run that calibrated it itself at the end of training
# (calibration.enabled=true: near + far validation streams, stored in best.safetensors) keeps it, and
# scripts/farfield_report.sh scores the shipped model on the test split (rooms x distance, near and
# room streams, synthetic voices) for the card's far-field section; any other run is calibrated
# for 30 false alarms/hour on a near validation stream (scripts/calibrate_pretrained.sh, which also
# scores test streams).
# Environment: PYTHON (default python), SPEECHSEQ_PRETRAINED_RUN (run folder, default
# runs/pretrained/<time>; if it already holds a finished run, that run is shipped without
# training again), SPEECHSEQ_PRETRAINED_DIR (destination, default speechseq/pretrained),
# SPEECHSEQ_CALIBRATE (1 = calibrate a run that did not, the default; 0 = skip), SPEECHSEQ_FARFIELD
# (1 = far-field report for a run that calibrated itself, the default; 0 = skip), SPEECHSEQ_OPENWORLD
# (1 = the open-world report on real_world's test split when it sits beside DATA; 0 = skip), SPEECHSEQ_SEEDS (an
# aggregate.json of the recipe over seeds, from python -m speechseq.training.aggregate, for the card).
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

# The shipped model trains only on what its licence allows (../shared/data/real_world/README.md): every
# speech folder, the rooms marked "yes", none of the noise folders (evaluation only), and synthetic speech
# from espeak-ng and flite (piper's packaged voice is left out: its training data's licence is unclear).
SHIPPABLE=(
  "openworld.sources=[speech,rirs/pymixconsole_irs,rirs/openair_via_ToobAmp,rirs/openair_via_GeneticReverb]"
  "augment.rir_sources=[pymixconsole_irs,openair_via_ToobAmp,openair_via_GeneticReverb]"
  "openworld.tts_engines=[espeak,flite]"
)
TRAIN=(speechseq-train experiment=mini "data.root=$DATA" trainer.seed=0 "${SHIPPABLE[@]}" "$@")
if [[ -f "$RUN/summary.json" ]]; then
  echo "== shipping the finished run $RUN"
  TRAIN=(speechseq-train $(sed -e 's/^- //' "$RUN/.hydra/overrides.yaml" 2>/dev/null | tr '\n' ' '))
else
  echo "== training: ${TRAIN[*]} (run folder $RUN)"
  "$PY" -m speechseq.training.train "${TRAIN[@]:1}" "hydra.run.dir=$RUN"
fi

test -f "$RUN/checkpoints/best.safetensors" || { echo "no best checkpoint in $RUN" >&2; exit 1; }
test -f "$RUN/test_report.json" || { echo "no test_report.json in $RUN: the data has no test split?" >&2; exit 1; }
mkdir -p "$DEST"
cp "$RUN/checkpoints/best.safetensors" "$DEST/$NAME.safetensors"
echo "== exporting $DEST/$NAME.onnx"
"$PY" -m speechseq.deploy.export "checkpoint=$DEST/$NAME.safetensors" "output=$DEST/$NAME.onnx" \
  "hydra.run.dir=$RUN/export"
card_args=()
# which streams the stored detector was tuned on: "calibration/near/stream.wav + calibration/far/..."
# when training calibrated it (training/calibration.py); recalibrating would replace near + far by near
stored=$("$PY" -c 'import sys; from speechseq.deploy.metadata import read_checkpoint_metadata as r
print(((r(sys.argv[1], ValueError).get("streaming") or {}).get("validation") or {}).get("input", ""))' \
  "$DEST/$NAME.safetensors")
if [[ "$stored" == calibration/* ]]; then
  echo "== keeping the detector training calibrated ($stored)"
  if [[ "${SPEECHSEQ_FARFIELD:-1}" == 1 ]]; then
    echo "== far-field figures on the test split (scripts/farfield_report.sh -> $RUN/farfield)"
    OUT="$RUN/farfield" PYTHON="$PY" scripts/farfield_report.sh "$DEST/$NAME.safetensors" "$DATA" test
    card_args+=(--farfield "$RUN/farfield/farfield.json")
  fi
elif [[ "${SPEECHSEQ_CALIBRATE:-1}" == 1 ]]; then
  echo "== calibrating the detector (scripts/calibrate_pretrained.sh)"
  OUT="$RUN/calibrate" PYTHON="$PY" scripts/calibrate_pretrained.sh "$DEST/$NAME.safetensors" "$DATA"
  card_args+=(--streams "$RUN/calibrate/summary.md")
fi
[[ -n "${SPEECHSEQ_SEEDS:-}" ]] && card_args+=(--seeds "$SPEECHSEQ_SEEDS")
# the open world on the test split of real_world (beside DATA), when it is there
REAL_WORLD=$(dirname "$DATA")/real_world
if [[ "${SPEECHSEQ_OPENWORLD:-1}" == 1 && -d "$REAL_WORLD/speech" ]]; then
  echo "== open-world figures on the test split (scripts/openworld_report.py -> $RUN/openworld)"
  "$PY" scripts/openworld_report.py "$DEST/$NAME.safetensors" "$REAL_WORLD" "$DATA" --split test --seconds 3600 --seed 1 \
    --out "$RUN/openworld"
  card_args+=(--openworld "$RUN/openworld/openworld.json")
fi
"$PY" -m speechseq.deploy.model_card card "$RUN" "$DATA" "${TRAIN[*]}" "${card_args[@]}" > "$DEST/MODEL_CARD.md.tmp"
mv "$DEST/MODEL_CARD.md.tmp" "$DEST/MODEL_CARD.md"
chmod a+r "$DEST/$NAME".* "$DEST/MODEL_CARD.md"
echo "== done: $(ls "$DEST" | tr '\n' ' ')"
grep -m1 "Test accuracy" "$DEST/MODEL_CARD.md"
