#!/usr/bin/env python
"""Pick streaming defaults (hop, averaging window, threshold, suppression, minimum count).

    python scripts/tune_stream.py --checkpoint CKPT --data-root DIR [--split validation]
        [--seconds 600] [--streams 1] [--max-fa-per-hour 20] [--out runs/tune_stream]

Builds labelled streams from a split (never the test split for tuning), computes the model's
posteriors once per hop size in batches (identical to the live loop's), replays the smoother
for every setting of the grid, and reports correct/wrong/missed %, false alarms per hour and
median latency. The pick: most correct detections with at most --max-fa-per-hour false alarms
(ties: fewer false alarms, then lower latency). Writes grid.csv, summary.md and pick.json.
"""

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

from speechseq.labels import make_label_set
from speechseq.streaming.offline import replay, window_posteriors
from speechseq.streaming.scoring import score_detections
from speechseq.streaming.smoothing import SmoothingConfig
from speechseq.streaming.synth_stream import build_stream

HOPS = (30, 50, 100)
AVERAGE_MS = (0, 300, 500, 800, 1000)
THRESHOLDS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SUPPRESSION_MS = (500, 1000, 1500)
MIN_COUNTS = (1, 3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--split", default="validation")
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--streams", type=int, default=1, help="independent streams (seeds 0..N-1)")
    ap.add_argument("--max-fa-per-hour", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="runs/tune_stream")
    a = ap.parse_args()

    import torch

    from speechseq.streaming.backends import load_classifier

    torch.set_num_threads(a.threads)
    clf = load_classifier(a.checkpoint, num_threads=a.threads)
    keywords = {lab for lab in clf.labels if not lab.startswith("_")}
    label_set = make_label_set("custom", sorted(keywords))
    streams = [build_stream(a.data_root, a.split, label_set, a.seconds, seed=s) for s in range(a.streams)]
    duration = sum(len(w) for w, _ in streams) / 16000
    t0 = time.time()
    posteriors = {hop: [window_posteriors(clf, w, hop, progress=True) for w, _ in streams] for hop in HOPS}
    print(f"posteriors for {len(HOPS)} hop sizes over {duration:.0f} s of audio in {time.time() - t0:.0f} s",
          file=sys.stderr)

    rows = []
    for hop, avg, thr, sup, mc in itertools.product(HOPS, AVERAGE_MS, THRESHOLDS, SUPPRESSION_MS, MIN_COUNTS):
        if avg == 0 and mc > 1:
            continue  # an average over one posterior cannot hold three
        cfg = SmoothingConfig(average_window_ms=avg, threshold=thr, suppression_ms=sup, minimum_count=mc)
        dets, truth, offset = [], [], 0.0
        for (times, probs), (wave, words) in zip(posteriors[hop], streams):
            dets += [d.__class__(d.time_ms + offset, d.label, d.score) for d in replay(times, probs, clf.labels, cfg)]
            truth += [(w.label, w.start_ms + offset) for w in words]
            offset += len(wave) / 16 + 10_000  # streams end to end, 10 s apart in time
        r = score_detections(dets, truth, keywords, duration)
        rows.append({"hop_ms": hop, "average_window_ms": avg, "threshold": thr, "suppression_ms": sup,
                     "minimum_count": mc, "correct_pct": r["correct_pct"], "wrong_pct": r["wrong_pct"],
                     "missed_pct": r["missed_pct"], "fa_per_hour": r["false_alarms_per_hour"],
                     "median_latency_ms": r["median_latency_ms"] or float("nan")})
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0])
    (out / "grid.csv").write_text(",".join(keys) + "\n" + "".join(
        ",".join(f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys) + "\n" for r in rows))

    def best(cands):
        return max(cands, key=lambda r: (r["correct_pct"], -r["fa_per_hour"], -r["median_latency_ms"]), default=None)

    pick = best([r for r in rows if r["fa_per_hour"] <= a.max_fa_per_hour])
    if pick is None:
        print(f"no setting reaches {a.max_fa_per_hour} false alarms/hour; picking the fewest", file=sys.stderr)
        pick = min(rows, key=lambda r: (r["fa_per_hour"], -r["correct_pct"]))
    header = "| hop ms | avg ms | threshold | suppression ms | min count | correct % | wrong % | missed % | FA/hour | median latency ms |"
    sep = "|" + "---|" * 10

    def line(r):
        return (f"| {r['hop_ms']} | {r['average_window_ms']} | {r['threshold']} | {r['suppression_ms']} | "
                f"{r['minimum_count']} | {r['correct_pct']:.1f} | {r['wrong_pct']:.1f} | {r['missed_pct']:.1f} | "
                f"{r['fa_per_hour']:.1f} | {r['median_latency_ms']:.0f} |")

    md = [f"Streams: {a.streams} x {a.seconds:.0f} s from `{a.split}` of {a.data_root}; checkpoint {a.checkpoint}.", "",
          "Best per hop and false-alarm budget:", "", header + " budget |", sep + "---|"]
    for hop in HOPS:
        for budget in (5, 20, 60, float("inf")):
            r = best([r for r in rows if r["hop_ms"] == hop and r["fa_per_hour"] <= budget])
            if r:
                md.append(line(r) + (f" <= {budget:g} FA/h |" if budget != float("inf") else " any |"))
    md += ["", "Threshold sweep at the picked hop, averaging, suppression and minimum count:", "", header, sep]
    for r in rows:
        if all(r[k] == pick[k] for k in ("hop_ms", "average_window_ms", "suppression_ms", "minimum_count")):
            md.append(line(r))
    md += ["", f"Pick (most correct with <= {a.max_fa_per_hour:g} false alarms/hour):", "", header, sep, line(pick)]
    text = "\n".join(md) + "\n"
    (out / "summary.md").write_text(text)
    (out / "pick.json").write_text(json.dumps(pick, indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
