#!/usr/bin/env python
"""Where a labelled stream's commands are lost: by the model, or by the detector's pooling.

    python scripts/stream_misses.py CHECKPOINT STREAM_DIR [--thresholds 0.5,0.6,0.7] [--json FILE]

STREAM_DIR holds stream.wav and labels.csv (talk.csv too for an open-world stream), as
scripts/openworld_report.py and speechseq-eval mode=stream write them. The checkpoint's posteriors
are computed over the stream as the live loop does; for each threshold it prints the share of commands
that no single window gives their class above it (lost by the model), the share that some window
does but the pooled score does not (lost in pooling, RecognizeCommands' mean over the stored
detector's window), what took the missed ones (`_unknown_`: another word; `_silence_`: not heard)
and the misses per command (speechseq.evaluation.stream_misses).
"""

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("stream_dir", type=Path)
    ap.add_argument("--thresholds", default="0.5,0.6,0.7", help="comma-separated (default 0.5,0.6,0.7)")
    ap.add_argument("--json", type=Path, help="also write the summaries to this file")
    a = ap.parse_args(argv)
    for need in (a.checkpoint, a.stream_dir / "stream.wav", a.stream_dir / "labels.csv"):
        if not need.is_file():
            print(f"stream_misses.py: error: {need} is not a file", file=sys.stderr)
            return 2
    try:
        thresholds = [float(x) for x in a.thresholds.split(",")]
    except ValueError:
        print(f"stream_misses.py: error: --thresholds {a.thresholds!r}: give numbers like 0.5,0.6", file=sys.stderr)
        return 2
    from speechseq.evaluation.stream_misses import command_losses, loss_summary
    from speechseq.evaluation.streams import posterior_track
    from speechseq.streaming.backends import load_classifier
    from speechseq.streaming.recognizer import settings_for

    classifier = load_classifier(a.checkpoint, "torch", num_threads=1)
    settings = settings_for(classifier, {})
    track = posterior_track(classifier, a.stream_dir / "stream.wav", a.stream_dir / "labels.csv", settings.hop_ms,
                            settings.window_ms, progress=sys.stderr.isatty())
    losses = command_losses(track, settings.smoothing.average_window_ms)
    summaries = [loss_summary(losses, thr) for thr in thresholds]
    for s in summaries:
        print(f"threshold {s['threshold']:g}: {s['commands']} commands; lost by the model {s['lost_by_model_pct']:.1f} %, "
              f"in pooling {s['lost_in_pooling_pct']:.1f} %; missed taken by {s['rivals_of_missed']}")
        print(f"  missed per command: {s['missed_per_label']}")
    if a.json:
        a.json.write_text(json.dumps(summaries, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
