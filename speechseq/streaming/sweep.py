"""The detection trade-off from one posterior pass: the detector re-run per threshold.

The classifier's posteriors over a labelled stream (`offline.window_posteriors`, identical to
the live loop's) are computed once; each threshold only replays the smoother over them, so a
whole correct-vs-false-alarm curve costs a few seconds.
"""

from __future__ import annotations

import numpy as np

from speechseq.streaming.offline import replay
from speechseq.streaming.scoring import score_detections, talk_figures
from speechseq.streaming.smoothing import NON_KEYWORDS, SmoothingConfig

DEFAULT_THRESHOLDS = tuple(round(float(t), 3) for t in np.arange(0.30, 0.991, 0.025))
TABLE_KEYS = ("threshold", "correct_pct", "wrong_pct", "missed_pct", "false_alarms_per_hour",
              "median_latency_from_end_ms", "p90_latency_from_end_ms")


class PosteriorTrack:
    """One stream's posteriors with its truth: everything a detector setting needs to be scored."""

    def __init__(self, times_ms, probs, labels: list[str], truth: list[tuple], duration_s: float,
                 talk: list[tuple[float, float]] | None = None):
        self.times_ms, self.probs = np.asarray(times_ms), np.asarray(probs)
        self.labels, self.truth, self.duration_s = list(labels), list(truth), float(duration_s)
        self.keywords = {lab for lab in self.labels if lab not in NON_KEYWORDS}
        self.talk = list(talk or [])  # stretches of talk (start_ms, end_ms): open-world streams' talk.csv

    def detections(self, config: SmoothingConfig):
        return replay(self.times_ms, self.probs, self.labels, config)

    def score(self, config: SmoothingConfig) -> dict:
        """The stream's scores; with talk, also the detections per hour of talk."""
        detections = self.detections(config)
        report = score_detections(detections, self.truth, self.keywords, self.duration_s)
        if self.talk:
            report.update(talk_figures(detections, self.keywords, self.talk))
        return report

    def split(self, at_ms: float) -> tuple["PosteriorTrack", "PosteriorTrack"]:
        """The stream cut in two at `at_ms` (for checking a choice on the half it was not made on)."""
        early = self.times_ms < at_ms
        first = PosteriorTrack(self.times_ms[early], self.probs[early], self.labels,
                               [w for w in self.truth if w[1] < at_ms], at_ms / 1000,
                               [t for t in self.talk if t[0] < at_ms])
        second = PosteriorTrack(self.times_ms[~early], self.probs[~early], self.labels,
                                [w for w in self.truth if w[1] >= at_ms], self.duration_s - at_ms / 1000,
                                [t for t in self.talk if t[0] >= at_ms])
        return first, second


def sweep_thresholds(track: PosteriorTrack, base: SmoothingConfig,
                     thresholds=DEFAULT_THRESHOLDS) -> list[dict]:
    """One row per threshold (one threshold for all classes): the scores of `base` at it."""
    rows = []
    for thr in thresholds:
        r = track.score(base.with_threshold(thr))
        rows.append({"threshold": float(thr), **{k: r[k] for k in TABLE_KEYS if k != "threshold"},
                     "false_alarms": r["false_alarms"], "correct": r["correct"], "wrong": r["wrong"],
                     **({"detections_per_hour_of_talk": r["detections_per_hour_of_talk"]} if track.talk else {})})
    return rows


def format_sweep_table(rows: list[dict], marked: float | None = None) -> str:
    """A markdown table of the sweep; the row at threshold `marked` (the operating point) starred."""
    def ms(v):
        return "n/a" if v is None else f"{v:.0f}"

    lines = ["| threshold | correct % | wrong % | missed % | false alarms/h | latency from end median ms | p90 ms |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        star = " *" if marked is not None and abs(r["threshold"] - marked) < 1e-9 else ""
        lines.append(f"| {r['threshold']:.3f}{star} | {r['correct_pct']:.1f} | {r['wrong_pct']:.1f} | "
                     f"{r['missed_pct']:.1f} | {r['false_alarms_per_hour']:.1f} | "
                     f"{ms(r['median_latency_from_end_ms'])} | {ms(r['p90_latency_from_end_ms'])} |")
    return "\n".join(lines)


def write_sweep_csv(rows: list[dict], path) -> None:
    from speechseq.fsutil import atomic_write_text

    keys = list(rows[0]) if rows else list(TABLE_KEYS)
    cell = (lambda v: "" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v))
    atomic_write_text(path, ",".join(keys) + "\n" + "".join(",".join(cell(r[k]) for k in keys) + "\n" for r in rows))
