#!/usr/bin/env bash
# Far-field figures of a checkpoint, with its own stored detector (no knobs given):
#   scripts/farfield_report.sh [CHECKPOINT.safetensors] [DATA_ROOT] [SPLIT]
# SPLIT=validation tunes, SPLIT=test reports (default test). Steps:
#   1. clips: clean, 10/5 dB noise, every clip in a room (RT60 0.3/0.6/0.9 s, talker 1-4 m, 200 rooms
#      per RT60), and room + 10/5 dB noise;
#   2. clips in rooms per distance band (BANDS, default 0.5-1.5, 1.5-3, 3-5 m; BAND_ROOMS rooms per
#      RT60 and band, default 100: half the default keeps the first room build short), no noise;
#   3. two 10-minute streams of the split (loud noise recipe): near, and the same stream played in
#      one room (RT60 0.6 s, talker 2.5 m away), scored with speechseq-eval mode=stream;
#   4. the ten commands in synthetic voices (scripts/synthetic_voices.py, needs espeak-ng);
#   5. OUT/summary.md for reading and OUT/farfield.json for the model card
#      (python -m speechseq.deploy.model_card card ... --farfield OUT/farfield.json).
# Rooms are simulated once and cached (data.cache_dir, ~/.cache/speechseq/rirs): the first run
# takes longer. Environment: OUT (default runs/farfield), SECONDS_STREAM (600), SEED (0), BANDS,
# BAND_ROOMS, PYTHON.
set -euo pipefail
CKPT=${1:-speechseq/pretrained/kws12_mini.safetensors}
ROOT=${2:-../shared/data/speech_commands_mini}
SPLIT=${3:-test}
OUT=${OUT:-runs/farfield}
SECS=${SECONDS_STREAM:-600}
SEED=${SEED:-0}
BANDS=${BANDS:-0.5,1.5 1.5,3.0 3.0,5.0}
BAND_ROOMS=${BAND_ROOMS:-100}
MAIN_ROOMS=200  # the 1-4 m rows: speechseq-eval's default, as in docs/farfield.md
PY=${PYTHON:-python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
[ -f "$CKPT" ] || { echo "farfield_report: no checkpoint at $CKPT" >&2; exit 2; }
mkdir -p "$OUT"

clips() {  # folder, then extra speechseq-eval keys
    local dir=$1
    shift
    echo "== clips: $dir $*"
    "$PY" -m speechseq.evaluation.evaluate "checkpoint=$CKPT" "data.root=$ROOT" "split=$SPLIT" plots=false \
        "reverb_rt60=[0.3,0.6,0.9]" "$@" "hydra.run.dir=$OUT/$dir" > "$OUT/$dir.log"
}
clips clips "noise_snr=[10,5]" "reverb_rooms=$MAIN_ROOMS"
for band in $BANDS; do
    clips "clips_${band/,/-}m" "reverb_distance=[$band]" "reverb_rooms=$BAND_ROOMS"
done

echo "== streams: $SECS s, near and in a room"
"$PY" scripts/make_stream_wav.py "$ROOT" --split "$SPLIT" --noise loud --seconds "$SECS" --seed "$SEED" \
    --out "$OUT/streams/near" > /dev/null
"$PY" scripts/make_stream_wav.py "$ROOT" --split "$SPLIT" --noise loud --seconds "$SECS" --seed "$SEED" \
    --room 0.6,2.5 --out "$OUT/streams/room" > /dev/null
for s in near room; do
    "$PY" -m speechseq.evaluation.evaluate mode=stream "checkpoint=$CKPT" plots=false \
        "input=$OUT/streams/$s/stream.wav" "labels=$OUT/streams/$s/labels.csv" "hydra.run.dir=$OUT/stream_$s" \
        > "$OUT/stream_$s.log"
done
voices="synthetic voices: not measured (espeak-ng missing)"
VOICES_JSON=$OUT/voices/synthetic_voices_$SPLIT.json  # named here, passed as --json
rm -f "$VOICES_JSON"  # a stale score must not pass for this checkpoint's
if command -v espeak-ng > /dev/null; then
    echo "== synthetic voices"
    "$PY" scripts/synthetic_voices.py --checkpoint "$CKPT" --split "$SPLIT" --json "$VOICES_JSON" \
        > "$OUT/voices.log"
    voices=$(head -n 1 "$OUT/voices.log")
fi

"$PY" - "$OUT" "$SPLIT" "$CKPT" "$voices" "$MAIN_ROOMS" "$BAND_ROOMS" "$BANDS" "$VOICES_JSON" <<'PYEOF'
import json, sys
from pathlib import Path
out, split, ckpt, voices = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
main_rooms, band_rooms, bands = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7].split()
voices_json = Path(sys.argv[8])
load = lambda p: json.loads(p.read_text())
main = load(out / "clips" / "report.json")
# one flat list of clip conditions; rt60_s, distance_m, snr_db are null where there is no room / no noise
rows = [{"rt60_s": None, "distance_m": None, "snr_db": s, "rooms": None, "accuracy": a, "n": main["n"]}
        for s, a in [(None, main["accuracy"]), *((r["snr_db"], r["accuracy"]) for r in main.get("noise", []))]]
reports = [(main, main_rooms)] + [(load(out / f"clips_{b.replace(',', '-')}m/report.json"), band_rooms)
                                 for b in bands]
for rep, n_rooms in reports:
    rows += [{**{k: r[k] for k in ("rt60_s", "distance_m", "snr_db")}, "rooms": n_rooms,
              "accuracy": r["accuracy"], "n": r["n"]} for r in rep.get("reverb", [])]
streams = []
for s, room in (("near", None), ("room", {"rt60_s": 0.6, "distance_m": 2.5})):
    p = load(out / f"stream_{s}" / "stream_report.json")
    streams.append({"name": s, "room": room, **{k: p.get(k) for k in (
        "duration_s", "command_words", "correct_pct", "wrong_pct", "false_alarms_per_hour", "settings")},
        "calibrated_in_checkpoint": bool(p.get("calibrated_in_checkpoint"))})
v = load(voices_json) if voices_json.is_file() else None
record = {"checkpoint": ckpt, "split": split, "clips": rows, "streams": streams,
          "voices": {"accuracy": v["accuracy"], "n": v["n"]} if v else None}
(out / "farfield.json").write_text(json.dumps(record, indent=1) + "\n")

def cond(r):
    room = f"room RT60 {r['rt60_s']:g} s, {r['distance_m'][0]:g}-{r['distance_m'][1]:g} m ({r['rooms']} rooms)" \
        if r["rt60_s"] is not None else ""
    noise = f"{r['snr_db']:g} dB SNR" if r["snr_db"] is not None else ""
    return " + ".join(x for x in (room, noise) if x) or "clean"

lines = [f"# Far-field figures ({split} split)", "", "| condition | accuracy |", "|---|---|"]
lines += [f"| {cond(r)} | {r['accuracy']:.4f} |" for r in rows]
noisy = {tuple(r["distance_m"]) for r in rows if r["rt60_s"] is not None and r["snr_db"] is not None}
cols = sorted({tuple(r["distance_m"]) for r in rows if r["rt60_s"] is not None}, key=lambda b: (b in noisy, b))
rt60s = sorted({r["rt60_s"] for r in rows if r["rt60_s"] is not None})
acc = {(r["rt60_s"], tuple(r["distance_m"])): r["accuracy"] for r in rows if r["rt60_s"] is not None and r["snr_db"] is None}
lines += ["", "| RT60 \\ talker | " + " | ".join(f"{lo:g}-{hi:g} m" for lo, hi in cols) + " |",
          "|---" * (len(cols) + 1) + "|"]
lines += [f"| {t:g} s | " + " | ".join(f"{acc[t, b]:.4f}" if (t, b) in acc else "-" for b in cols) + " |" for t in rt60s]
lines += ["", f"| stream ({streams[0]['duration_s'] / 60:g} min, stored thresholds) | correct | wrong | false alarms/h |",
          "|---|---|---|---|"]
lines += [f"| {s['name']} | {s['correct_pct']:.1f}% | {s['wrong_pct']:.1f}% | {s['false_alarms_per_hour']:.1f} |"
          for s in streams]
lines += ["", voices]
(out / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
print(f"wrote {out / 'summary.md'} and {out / 'farfield.json'}")
PYEOF
