#!/usr/bin/env python
"""Run a function when someone says a word ("stop" by default).

    python examples/on_command.py --mic [--word stop] [--device INDEX|NAME] [--seconds 60]
    python examples/on_command.py recording.wav [--word stop]

With --mic it listens on the microphone (pip install 'speechseq[mic]'). Otherwise it feeds the WAV
file to the recognizer the way a microphone delivers audio, 80 ms of int16 samples at a time, so
it runs anywhere, and flushes the recognizer at the end of the file (a word said last counts too).
"""

import argparse
import sys
import time

import soundfile as sf

from speechseq import KeywordDetection, Recognizer
from speechseq.streaming.sources import SourceError


def stop_the_music(detection: KeywordDetection) -> None:
    """What your application does when it hears the word."""
    print(f"{detection.time_s:6.2f} s  heard '{detection.label}' ({detection.score:.2f}): stopping the music")


def pcm_frames(path: str, frame_ms: float = 80.0):
    """(int16 frame, sample rate) pieces of a sound file, as a microphone would deliver them."""
    with sf.SoundFile(path) as fh:
        frame = round(fh.samplerate * frame_ms / 1000)
        for block in fh.blocks(frame, dtype="int16"):
            yield block, fh.samplerate


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wav", nargs="?", help="a recording to feed instead of the microphone")
    parser.add_argument("--mic", action="store_true", help="listen on the microphone")
    parser.add_argument("--device", help="input device index or name (default: the system's)")
    parser.add_argument("--seconds", type=float, default=None, help="with --mic: stop after this long")
    parser.add_argument("--word", default="stop")
    args = parser.parse_args(argv)
    if not args.mic and not args.wav:
        parser.error("give a WAV file, or --mic")

    recognizer = Recognizer.load()
    if args.word not in recognizer.keywords:
        parser.error(f"--word {args.word!r}: the model knows {recognizer.keywords}")

    def on_detection(detection: KeywordDetection) -> None:
        if detection.label == args.word:
            stop_the_music(detection)
        else:
            print(f"{detection.time_s:6.2f} s  (heard '{detection.label}')")

    if args.mic:
        device = int(args.device) if args.device and args.device.isdigit() else args.device
        try:
            with recognizer.listen(on_detection, device=device):
                print(f"listening; say '{args.word}' (Ctrl-C to stop)", file=sys.stderr)
                time.sleep(args.seconds if args.seconds is not None else 1e9)
        except SourceError as exc:  # no microphone, no sounddevice, no PortAudio: the message says which
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            pass
        return 0
    for frame, rate in pcm_frames(args.wav):
        for detection in recognizer.process(frame, sample_rate=rate):
            on_detection(detection)
    for detection in recognizer.flush():  # the file has ended: a word at its very end
        on_detection(detection)
    return 0


if __name__ == "__main__":
    sys.exit(main())
