#!/usr/bin/env python
"""Turn detections into actions: a small voice-controlled player.

    python examples/actions.py recording.wav      (or --mic)

"go"/"stop" play and pause, "up"/"down" change the volume, "left"/"right" change the track,
"on"/"off" switch the lights, "yes"/"no" answer. Each word gets its own threshold: "off" and
"no" act on a stricter one, since acting on a misheard word costs more there.
"""

import argparse
import sys
import time
from dataclasses import dataclass

import soundfile as sf

from speechseq import KeywordDetection, Recognizer
from speechseq.streaming.sources import SourceError


@dataclass
class Player:
    playing: bool = False
    volume: int = 5
    track: int = 1
    lights: bool = True
    answer: str = "-"

    def __str__(self) -> str:
        return (f"{'playing' if self.playing else 'paused'}, track {self.track}, volume {self.volume}, "
                f"lights {'on' if self.lights else 'off'}, answer {self.answer}")


ACTIONS = {
    "go": lambda p: setattr(p, "playing", True),
    "stop": lambda p: setattr(p, "playing", False),
    "up": lambda p: setattr(p, "volume", min(10, p.volume + 1)),
    "down": lambda p: setattr(p, "volume", max(0, p.volume - 1)),
    "right": lambda p: setattr(p, "track", p.track + 1),
    "left": lambda p: setattr(p, "track", max(1, p.track - 1)),
    "on": lambda p: setattr(p, "lights", True),
    "off": lambda p: setattr(p, "lights", False),
    "yes": lambda p: setattr(p, "answer", "yes"),
    "no": lambda p: setattr(p, "answer", "no"),
}


def act(player: Player, detection: KeywordDetection) -> None:
    ACTIONS[detection.label](player)
    print(f"{detection.time_s:6.2f} s  {detection.label:>5} ({detection.score:.2f}) -> {player}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wav", nargs="?")
    parser.add_argument("--mic", action="store_true")
    parser.add_argument("--seconds", type=float, default=None, help="with --mic: stop after this long")
    args = parser.parse_args(argv)
    if not args.mic and not args.wav:
        parser.error("give a WAV file, or --mic")

    recognizer = Recognizer.load(class_thresholds={"off": 0.8, "no": 0.8})
    player = Player()
    print(f"start: {player}")
    if args.mic:
        try:
            with recognizer.listen(lambda detection: act(player, detection)):
                time.sleep(args.seconds if args.seconds is not None else 1e9)
        except SourceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            pass
    else:
        with sf.SoundFile(args.wav) as fh:
            for frame in fh.blocks(round(fh.samplerate * 0.08), dtype="int16"):
                for detection in recognizer.process(frame, sample_rate=fh.samplerate):
                    act(player, detection)
        for detection in recognizer.flush():  # the file has ended: a word at its very end
            act(player, detection)
    print(f"end: {player}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
