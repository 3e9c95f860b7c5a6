#!/usr/bin/env bash
# Far-field figures of a checkpoint, with its own stored detector (no knobs given):
#   scripts/farfield_report.sh [CHECKPOINT.safetensors] [DATA_ROOT] [SPLIT]
# SPLIT=validation tunes, SPLIT=test reports (default test). Steps:
#   1. clips: clean, 10/5 dB noise, every clip in a room (RT60 0.3/0.6/0.9 s, talker 1-4 m), room + 10 dB;
#   2. two 10-minute streams of the split (loud noise recipe): near, and the same stream played in
#      one room (RT60 0.6 s, talker 2.5 m away), scored with speechseq-eval mode=stream;
#   3. the ten commands in synthetic voices (scripts/synthetic_voices.py, needs espeak-ng);
#   4. OUT/summary.md.
# Environment: OUT (default runs/farfield), SECONDS_STREAM (600), SEED (0), PYTHON.
set -euo pipefail
CKPT=${1:-speechseq/pretrained/kws12_mini.safetensors}
ROOT=${2:-../shared/data/speech_commands_mini}
SPLIT=${3:-test}
OUT=${OUT:-runs/farfield}
SECS=${SECONDS_STREAM:-600}
SEED=${SEED:-0}
PY=${PYTHON:-python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$OUT"

"$PY" -m speechseq.evaluation.evaluate "checkpoint=$CKPT" "data.root=$ROOT" "split=$SPLIT" \
    "noise_snr=[10,5]" "reverb_rt60=[0.3,0.6,0.9]" plots=false "hydra.run.dir=$OUT/clips" > "$OUT/clips.log"
"$PY" scripts/make_stream_wav.py "$ROOT" --split "$SPLIT" --noise loud --seconds "$SECS" --seed "$SEED" \
    --out "$OUT/streams/near" > /dev/null
"$PY" scripts/make_stream_wav.py "$ROOT" --split "$SPLIT" --noise loud --seconds "$SECS" --seed "$SEED" \
    --room 0.6,2.5 --out "$OUT/streams/room" > /dev/null
for s in near room; do
    "$PY" -m speechseq.evaluation.evaluate mode=stream "checkpoint=$CKPT" plots=false \
        "input=$OUT/streams/$s/stream.wav" "labels=$OUT/streams/$s/labels.csv" "hydra.run.dir=$OUT/stream_$s" \
        > "$OUT/stream_$s.log"
done
voices="(espeak-ng missing)"
if command -v espeak-ng > /dev/null; then
    "$PY" scripts/synthetic_voices.py --checkpoint "$CKPT" --out "$OUT/voices" > "$OUT/voices.log"
    voices=$(head -n 1 "$OUT/voices.log")
fi

"$PY" - "$OUT" "$SPLIT" "$voices" <<'PYEOF'
import json, sys
from pathlib import Path
out, split, voices = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
r = json.loads((out / "clips" / "report.json").read_text())
lines = [f"# Far-field figures ({split} split)", "", "| condition | accuracy |", "|---|---|",
         f"| clean | {r['accuracy']:.4f} |"]
lines += [f"| {n['snr_db']:g} dB SNR | {n['accuracy']:.4f} |" for n in r.get("noise", [])]
for row in r.get("reverb", []):
    cond = f"room RT60 {row['rt60_s']:g} s" + (f" + {row['snr_db']:g} dB" if row["snr_db"] is not None else "")
    lines.append(f"| {cond} | {row['accuracy']:.4f} |")
lines += ["", "| stream (10 min, stored thresholds) | correct | wrong | false alarms/h |", "|---|---|---|---|"]
for s in ("near", "room"):
    p = json.loads((out / f"stream_{s}" / "stream_report.json").read_text())
    lines.append(f"| {s} | {p['correct_pct']:.1f}% | {p['wrong_pct']:.1f}% | {p['false_alarms_per_hour']:.1f} |")
lines += ["", voices]
(out / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PYEOF
