#!/usr/bin/env python
"""The open-world report of a checkpoint on one split of real_world + Speech Commands
(speechseq.evaluation.openworld_report): other words and sounds taken for commands, clips clean /
in recorded noise / in recorded rooms, and a stream of commands among talk with the stored detector.

    scripts/openworld_report.py CHECKPOINT ../shared/data/real_world ../shared/data/speech_commands_mini \
        --split validation --out runs/openworld
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", help="a .safetensors checkpoint, or 'pretrained' (not with --table)")
    parser.add_argument("real_world", nargs="?", help="a folder laid out as ../shared/data/real_world")
    parser.add_argument("speech_commands", nargs="?", help="a Speech Commands folder (its split gives the commands)")
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--out", default="runs/openworld", help="where openworld.json and the stream go")
    parser.add_argument("--seconds", type=float, default=1200.0, help="length of the stream (s)")
    parser.add_argument("--snr", type=float, default=10.0, help="speech over the recorded noise (dB)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draw", choices=("speaker", "clip"), default="speaker",
                        help="a stream command's clip: one of the word's speakers, then a clip of theirs "
                             "(default), or any clip of the word (reports before 2026-12-07)")
    parser.add_argument("--takes", help="a model of own words: a folder <word>/* of other people's takes of them")
    parser.add_argument("--table", nargs="+", metavar="NAME=openworld.json",
                        help="instead: print a table of finished reports (one column each, mean and spread)")
    args = parser.parse_args(argv)
    if args.table:
        import json
        from pathlib import Path

        from speechseq.evaluation.openworld_report import aggregate_table

        reports = {}
        for item in args.table:
            name, _, path = item.partition("=")
            try:
                reports[name] = json.loads(Path(path).read_text())
            except (OSError, ValueError) as exc:
                parser.error(f"--table {item}: not a readable openworld.json ({exc.__class__.__name__})")
        print(aggregate_table(reports))
        return 0
    if args.speech_commands is None:
        parser.error("give CHECKPOINT REAL_WORLD SPEECH_COMMANDS (or --table NAME=openworld.json ...)")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from speechseq.evaluation.openworld_report import format_openworld, openworld_report
    from speechseq.streaming.backends import resolve_checkpoint

    try:
        checkpoint = resolve_checkpoint(args.checkpoint)
        report = openworld_report(checkpoint, args.real_world, args.speech_commands, args.split, args.out,
                                  args.seconds, args.snr, args.seed, takes=args.takes, draw=args.draw)
    except (FileNotFoundError, ValueError, OSError) as exc:
        print(f"openworld_report: error: {exc}", file=sys.stderr)
        return 2
    print(format_openworld(report))
    print(f"wrote {args.out}/openworld.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
