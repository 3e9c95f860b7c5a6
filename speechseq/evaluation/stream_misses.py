"""Where a stream's commands are lost: by the model, or by the detector's pooling and threshold.

For each command of a labelled stream (a PosteriorTrack), the highest posterior of its own class in
any window that starts within `match_window_ms` of the word (what the model ever said), and the
highest pooled score there (the mean over `average_window_ms`, what RecognizeCommands compares with
its threshold). A command whose best window is under the threshold is lost by the model, whatever
the detector; one whose best window clears it but whose pooled score does not is lost in pooling.
For the commands the pooled score misses, the rival is the class with the highest pooled score
besides the word's own (`_unknown_`: taken for another word or talk; `_silence_`: not heard).

    >>> import numpy as np
    >>> from speechseq.streaming.sweep import PosteriorTrack
    >>> probs = np.array([[0.9, 0.1, 0.0], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]])
    >>> track = PosteriorTrack([100, 200, 300], probs, ["_silence_", "_unknown_", "yes"], [("yes", 50)], 1.0)
    >>> losses = command_losses(track, average_window_ms=300)
    >>> losses[0].best_window, round(losses[0].best_pooled, 3)
    (0.8, 0.4)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from speechseq.streaming.sweep import PosteriorTrack


@dataclass(frozen=True)
class CommandLoss:
    label: str
    start_ms: float
    best_window: float   # the highest posterior of its class in one window
    best_pooled: float   # the highest pooled (mean) score of its class
    rival: str           # the other class with the highest pooled score there


def pooled_means(track: PosteriorTrack, average_window_ms: float) -> np.ndarray:
    """Each hop's mean posterior over the hops of the last `average_window_ms` (as RecognizeCommands pools)."""
    times, probs = track.times_ms, track.probs
    sums = np.vstack([np.zeros(probs.shape[1]), np.cumsum(probs, axis=0)])
    first = np.searchsorted(times, times - average_window_ms, side="right")
    first = np.minimum(first, np.arange(len(times)))  # the hop itself is always in the pool
    counts = (np.arange(len(times)) + 1 - first)[:, None]
    return (sums[1:] - sums[first]) / counts


def command_losses(track: PosteriorTrack, average_window_ms: float = 800.0,
                   match_window_ms: float = 2000.0) -> list[CommandLoss]:
    """One CommandLoss per command word of the track's truth (words with no hop after them are skipped)."""
    pooled = pooled_means(track, average_window_ms)
    out = []
    for word in track.truth:
        label, start = word[0], word[1]
        if label not in track.keywords:
            continue
        hops = (track.times_ms >= start) & (track.times_ms <= start + match_window_ms)
        if not hops.any():
            continue
        own = track.labels.index(label)
        rivals = pooled[hops].max(axis=0)
        rivals[own] = -1.0
        out.append(CommandLoss(label, float(start), float(track.probs[hops, own].max()),
                               float(pooled[hops, own].max()), track.labels[int(np.argmax(rivals))]))
    return out


def loss_summary(losses: list[CommandLoss], threshold: float) -> dict:
    """Shares of commands lost by the model and in pooling at `threshold`, and the rivals of those missed."""
    n = len(losses)
    by_model = [x for x in losses if x.best_window <= threshold]
    missed = [x for x in losses if x.best_pooled <= threshold]
    share = (lambda k: 100.0 * k / n) if n else (lambda k: 0.0)
    per_label = Counter(x.label for x in losses)
    missed_per_label = Counter(x.label for x in missed)
    return {"threshold": threshold, "commands": n,
            "lost_by_model_pct": share(len(by_model)),
            "lost_in_pooling_pct": share(len(missed) - len(by_model)),
            "missed_pct": share(len(missed)),
            "rivals_of_missed": dict(Counter(x.rival for x in missed).most_common()),
            "missed_per_label": {lab: f"{missed_per_label[lab]}/{per_label[lab]}" for lab in sorted(per_label)}}
