#!/usr/bin/env python
"""Two recognizers on the same audio, each with its own stream state.

    python examples/two_models.py recording.wav [--other CHECKPOINT_OR_ONNX]

By default: the shipped model twice, once with its calibrated threshold and once strict (0.9);
with --other, the shipped model and your model. Each prints what it detected and when, so you
can compare thresholds, models or runtimes (e.g. --other speechseq/pretrained/kws12_mini.onnx).
"""

import argparse
import sys

import soundfile as sf

from speechseq import Recognizer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wav")
    parser.add_argument("--other", help="a second model (.safetensors or .onnx)")
    args = parser.parse_args(argv)

    recognizers = {"calibrated": Recognizer.load()}
    if args.other:
        recognizers["other"] = Recognizer.load(args.other)
    else:
        recognizers["strict"] = Recognizer.load(threshold=0.9)
    for name, recognizer in recognizers.items():
        print(f"{name}: {recognizer}")
        print(f"{'':>{len(name)}}  {recognizer.info.name}, speechseq {recognizer.info.version}, "
              f"trained on {recognizer.info.data.get('name', '?')}")

    heard: dict[str, list[str]] = {name: [] for name in recognizers}
    with sf.SoundFile(args.wav) as fh:
        for frame in fh.blocks(round(fh.samplerate * 0.08), dtype="int16"):  # 80 ms frames
            for name, recognizer in recognizers.items():  # the same frame to each
                for detection in recognizer.process(frame, sample_rate=fh.samplerate):
                    heard[name].append(detection.label)
                    print(f"{detection.time_s:6.2f} s  {name:>10}: {detection.label} ({detection.score:.2f})")
    for name, recognizer in recognizers.items():  # the file has ended: a word at its very end
        for detection in recognizer.flush():
            heard[name].append(detection.label)
            print(f"{detection.time_s:6.2f} s  {name:>10}: {detection.label} ({detection.score:.2f})")
    for name, words in heard.items():
        print(f"{name}: {' '.join(words) or '(nothing)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
