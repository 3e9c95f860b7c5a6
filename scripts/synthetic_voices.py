#!/usr/bin/env python
"""Score a model on the ten commands spoken by synthetic voices (espeak-ng): speakers that no
training set holds, a check that a model hears words rather than the recordings it learned.

    python scripts/synthetic_voices.py [--checkpoint PATH] [--runtime auto|torch|onnx|numpy]
                                       [--split test|validation] [--out DIR] [--json FILE]

Needs espeak-ng (Debian: apt-get install espeak-ng). Each word is rendered by every voice x
variant x speed of the split, resampled to 16 kHz and classified with speechseq.Recognizer.classify;
prints the accuracy overall and per voice, and writes DIR/synthetic_voices[_validation].json when
--out is given (or FILE, named by --json). The validation split uses other voice variants and speeds than the test split, so a
recipe can be chosen on synthetic voices without looking at the test voices.
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
# variant (pitch, formants, breathiness) and speed in words per minute, disjoint between the splits
SPLITS = {"test": (["m1", "m3", "f2", "f4"], [140, 175]),
          "validation": (["m2", "m5", "f1", "f3"], [125, 160])}


def speak(word: str, voice: str, speed: int):
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", word], check=True,
                         capture_output=True).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return audio, rate


def json_path(out: str | None, json_file: str | None, split: str) -> Path | None:
    """--json as given, else DIR/synthetic_voices.json (test) or synthetic_voices_SPLIT.json, else None."""
    if json_file:
        return Path(json_file)
    if out:
        return Path(out) / ("synthetic_voices.json" if split == "test" else f"synthetic_voices_{split}.json")
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=None, help="default: the shipped model")
    ap.add_argument("--runtime", default="auto")
    ap.add_argument("--split", choices=sorted(SPLITS), default="test")
    ap.add_argument("--out", default=None, help="folder for synthetic_voices[_SPLIT].json")
    ap.add_argument("--json", default=None, help="write the scores to this file instead")
    a = ap.parse_args()
    variants, speeds = SPLITS[a.split]
    if shutil.which("espeak-ng") is None:
        print("synthetic_voices: error: espeak-ng is not installed (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    r = Recognizer.load(a.checkpoint, runtime=a.runtime)
    words = [w for w in COMMANDS_10 if w in r.labels]
    rows = []
    for voice in VOICES:
        for variant in variants:
            for speed in speeds:
                for word in words:
                    audio, rate = speak(word, f"{voice}+{variant}", speed)
                    got = r.classify(audio, sample_rate=rate)
                    rows.append({"voice": f"{voice}+{variant}", "speed": speed, "word": word, "label": got.label,
                                 "score": round(got.score, 4)})
    right = sum(row["label"] == row["word"] for row in rows)
    print(f"synthetic voices ({a.split}): {right}/{len(rows)} = {right / len(rows):.4f} "
          f"({len(VOICES) * len(variants)} voices x {len(speeds)} speeds x {len(words)} words)")
    for voice in VOICES:
        mine = [row for row in rows if row["voice"].startswith(voice + "+")]
        print(f"  {voice:<16} {sum(x['label'] == x['word'] for x in mine) / len(mine):.3f}")
    target = json_path(a.out, a.json, a.split)
    if target:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"split": a.split, "accuracy": right / len(rows), "n": len(rows), "rows": rows},
                                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
