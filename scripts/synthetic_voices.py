#!/usr/bin/env python
"""Score a model on the ten commands spoken by synthetic voices (espeak-ng): speakers that no
training set holds, a check that a model hears words rather than the recordings it learned.

    python scripts/synthetic_voices.py [--checkpoint PATH] [--runtime auto|torch|onnx|numpy] [--out DIR]

Needs espeak-ng (Debian: apt-get install espeak-ng). Each word is rendered by every voice x
variant x speed below, resampled to 16 kHz and classified with speechseq.Recognizer.classify;
prints the accuracy overall and per voice, and writes DIR/synthetic_voices.json when --out is given.
"""

import argparse
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import soundfile as sf

from speechseq import Recognizer
from speechseq.labels import COMMANDS_10

VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
VARIANTS = ["m1", "m3", "f2", "f4"]
SPEEDS = [140, 175]  # words per minute


def speak(word: str, voice: str, speed: int):
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", word], check=True,
                         capture_output=True).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return audio, rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=None, help="default: the shipped model")
    ap.add_argument("--runtime", default="auto")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if shutil.which("espeak-ng") is None:
        print("synthetic_voices: error: espeak-ng is not installed (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    r = Recognizer.load(a.checkpoint, runtime=a.runtime)
    words = [w for w in COMMANDS_10 if w in r.labels]
    rows = []
    for voice in VOICES:
        for variant in VARIANTS:
            for speed in SPEEDS:
                for word in words:
                    audio, rate = speak(word, f"{voice}+{variant}", speed)
                    got = r.classify(audio, sample_rate=rate)
                    rows.append({"voice": f"{voice}+{variant}", "speed": speed, "word": word, "label": got.label,
                                 "score": round(got.score, 4)})
    right = sum(row["label"] == row["word"] for row in rows)
    print(f"synthetic voices: {right}/{len(rows)} = {right / len(rows):.4f} "
          f"({len(VOICES) * len(VARIANTS)} voices x {len(SPEEDS)} speeds x {len(words)} words)")
    for voice in VOICES:
        mine = [row for row in rows if row["voice"].startswith(voice + "+")]
        print(f"  {voice:<16} {sum(x['label'] == x['word'] for x in mine) / len(mine):.3f}")
    if a.out:
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "synthetic_voices.json").write_text(json.dumps(
            {"accuracy": right / len(rows), "n": len(rows), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
