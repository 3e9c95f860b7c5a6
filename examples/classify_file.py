#!/usr/bin/env python
"""Say what each sound file is: one of the model's words, `_unknown_` (another word) or `_silence_`.

    python examples/classify_file.py clip.wav [more.wav ...] [--checkpoint PATH] [--runtime auto|torch|onnx|numpy]

Files may be any format soundfile reads, at any rate, mono or stereo. A file longer than the model's
1 s window is read window by window and the window that hears a word best decides.
"""

import argparse
import sys

from speechseq import Recognizer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="sound files")
    parser.add_argument("--checkpoint", help="a .safetensors checkpoint or .onnx export (default: the shipped model)")
    parser.add_argument("--runtime", default="auto", choices=["auto", "torch", "onnx", "numpy"])
    args = parser.parse_args(argv)

    recognizer = Recognizer.load(args.checkpoint, runtime=args.runtime)
    status = 0
    for path in args.files:
        try:
            result = recognizer.classify_file(path)
        except (OSError, ValueError) as exc:  # missing (FileNotFoundError), not audio, unusable samples
            print(f"error: {exc}", file=sys.stderr)
            status = 2
            continue
        runner_up, runner_up_score = sorted(result.scores.items(), key=lambda item: -item[1])[1]
        print(f"{path}: {result.label} ({result.score:.2f}); next best {runner_up} ({runner_up_score:.2f})")
    return status


if __name__ == "__main__":
    sys.exit(main())
