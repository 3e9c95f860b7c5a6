#!/usr/bin/env python
"""Build a long test stream from a Speech Commands split (TensorFlow generate_streaming_test_wav.py style).

    python scripts/make_stream_wav.py DATA_ROOT --split test --seconds 600 --out DIR [--noise tf|loud|snr]
        [--room RT60,DISTANCE]

Noise recipes: `tf` (TensorFlow's: each noise crop at its recorded level times a gain uniform in
[0, --background-volume]), `loud` (each crop peak-normalised first, then the same gain), `snr`
(each word --snr-db LOW HIGH dB above the noise around it). Streams from the validation split
tune; streams from the test split report. `--room 0.6,3` puts the whole stream (words and noise)
through one simulated shoebox room of RT60 0.6 s with the talker 3 m from the microphone: a far
stream, aligned to the direct path so labels.csv keeps its times, at the dry stream's level.

writes DIR/stream.wav (16 kHz mono 16-bit), DIR/labels.csv (label,start_ms; unknown words as
_unknown_) and DIR/words.csv (label,start_ms,end_ms,word,file). Score a model on it with
`speechseq-eval mode=stream checkpoint=PATH input=DIR/stream.wav labels=DIR/labels.csv`.
"""

import argparse
import sys

from speechseq.config.checks import DISTANCE_LIMITS, RT60_LIMITS
from speechseq.labels import make_label_set
from speechseq.streaming.synth_stream import NOISE_RECIPES, build_stream, write_stream


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_root")
    ap.add_argument("--split", default="test", choices=["train", "validation", "test"])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--name", default="stream", help="WAV file name (without .wav)")
    ap.add_argument("--task", default="v2_12", choices=["v2_12", "v2_35", "custom"])
    ap.add_argument("--words", nargs="*", help="keywords for --task custom")
    ap.add_argument("--unknown-fraction", type=float, default=0.3)
    ap.add_argument("--noise", default="tf", choices=NOISE_RECIPES, help="background noise recipe")
    ap.add_argument("--background-volume", type=float, default=0.1, help="largest noise gain (tf, loud)")
    ap.add_argument("--snr-db", type=float, nargs=2, default=(0.0, 20.0), metavar=("LOW", "HIGH"),
                    help="speech-to-noise range for --noise snr")
    ap.add_argument("--word-gap-ms", type=float, default=2000.0, help="gap after each 1 s clip")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--room", type=_room, metavar="RT60,DISTANCE",
                    help="put the stream in a room: RT60 in seconds, talker-microphone distance in metres")
    a = ap.parse_args()
    if a.seconds < 2:
        ap.error("--seconds must be at least 2")
    if not 0 <= a.unknown_fraction <= 1:
        ap.error("--unknown-fraction must be within 0..1")
    from speechseq.data.layout import DatasetError

    try:
        wave, words = build_stream(a.data_root, a.split, make_label_set(a.task, a.words), a.seconds,
                                   a.unknown_fraction, a.background_volume, a.word_gap_ms, seed=a.seed,
                                   noise=a.noise, snr_db=tuple(a.snr_db))
        if a.room:  # the whole stream, words and noise, through one room
            from speechseq.augment.rooms import reverberate_stream

            wave = reverberate_stream(wave, *a.room, seed=a.seed)
    except (DatasetError, ValueError) as exc:  # ValueError includes ConfigError (no room fits)
        print(f"make_stream_wav: error: {exc}", file=sys.stderr)
        return 2
    wav = write_stream(a.out, wave, words, a.name)
    n_unknown = sum(w.label == "_unknown_" for w in words)
    distinct = len({w.path for w in words})
    print(f"wrote {wav} ({len(wave) / 16000:.0f} s, {len(words)} words, {n_unknown} unknown, "
          f"{distinct} distinct clips, noise {a.noise}{_room_note(a.room)}) and {a.out}/labels.csv")
    if distinct < len(words):
        print(f"make_stream_wav: note: {len(words) - distinct} word(s) repeat a clip (the split has too few)",
              file=sys.stderr)
    return 0


def _room(text: str) -> tuple[float, float]:
    try:
        rt60, distance = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not RT60,DISTANCE (e.g. 0.6,3)") from None
    if not RT60_LIMITS[0] <= rt60 <= RT60_LIMITS[1] or not DISTANCE_LIMITS[0] <= distance <= DISTANCE_LIMITS[1]:
        raise argparse.ArgumentTypeError(f"RT60 must be within {RT60_LIMITS[0]:g}..{RT60_LIMITS[1]:g} s and the "
                                         f"distance within {DISTANCE_LIMITS[0]:g}..{DISTANCE_LIMITS[1]:g} m, got {text}")
    return rt60, distance


def _room_note(room: tuple[float, float] | None) -> str:
    return f", in a room of RT60 {room[0]:g} s at {room[1]:g} m" if room else ""


if __name__ == "__main__":
    sys.exit(main())
