"""Posterior smoothing and detection, after TensorFlow's RecognizeCommands.

Each hop gives one posterior vector. The smoother pools the posteriors of the last
`average_window_ms` (their mean; for keywords their maximum with `detector=max_pool`), takes the top
class, and it is *confident* when
- at least `minimum_count` posteriors are in the pool,
- the pooled score exceeds the class's threshold (`class_thresholds`, else `threshold`), and
- it beats the pooled `_unknown_` and `_silence_` by more than `margin`.
`detector=recognize_commands` (the baseline) reports a confident class at once when
`suppression_ms` have passed since the last detection and the class is new: it differs from the
previous top class, or that class has since lost the top (another class or not confident), so a
word said twice is reported twice. `detector=peak` fires on the same crossing but reports at the
peak: it holds the candidate while the pooled top score still rises (a stronger class, `_unknown_`
included, takes the candidate over) and reports the held class with its peak score at the first
hop the top score falls, one hop after the crossing at best.
`_silence_` and `_unknown_` take part (they end a word, they take the top), but are never reported
(and take no threshold of their own).
A detection's `score` is the pooled score of the hop it fired at: with `recognize_commands` the
first hop above the threshold, so it sits just above it; `peak` reports the highest one. It also
carries every class's pooled score then (`scores`) and, given the classifier's window, where the
word is as the pooled windows see it: the stretch of audio that every pooled window whose top class
was the word holds (`start_ms`..`end_ms`).
`temperature` rescales the posteriors (p ** (1 / T), renormalised) before pooling.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from speechseq.labels import SILENCE, UNKNOWN

NON_KEYWORDS = frozenset({SILENCE, UNKNOWN})
DETECTORS = ("recognize_commands", "max_pool", "peak")


@dataclass(frozen=True)
class SmoothingConfig:
    # defaults tuned on the mini set's validation streams (docs/streaming.md), as conf/stream/default.yaml
    average_window_ms: float = 800.0
    threshold: float = 0.7
    suppression_ms: float = 1500.0
    minimum_count: int = 1
    detector: str = "recognize_commands"
    class_thresholds: tuple[tuple[str, float], ...] = ()  # (label, threshold) overrides of `threshold`
    margin: float = 0.0
    temperature: float = 1.0

    def __post_init__(self):
        if self.average_window_ms < 0:
            raise ValueError(f"stream.average_window_ms must not be negative, got {self.average_window_ms}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"stream.threshold must be within 0..1, got {self.threshold}")
        if self.suppression_ms < 0:
            raise ValueError(f"stream.suppression_ms must not be negative, got {self.suppression_ms}")
        if self.minimum_count < 1:
            raise ValueError(f"stream.minimum_count must be at least 1, got {self.minimum_count}")
        if self.detector not in DETECTORS:
            raise ValueError(f"stream.detector={self.detector!r}: choose one of {list(DETECTORS)}")
        if not -1.0 <= self.margin < 1.0:
            raise ValueError(f"stream.margin must be within -1..1, got {self.margin}")
        if not self.temperature > 0:
            raise ValueError(f"stream.temperature must be positive, got {self.temperature}")
        object.__setattr__(self, "class_thresholds", tuple(sorted(dict(self.class_thresholds).items())))
        for label, value in self.class_thresholds:
            if label in NON_KEYWORDS:
                raise ValueError(f"stream.class_thresholds.{label}: {label} is never reported, so a threshold for "
                                 f"it would change nothing; give thresholds for words only")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"stream.class_thresholds.{label} must be within 0..1, got {value}")

    def with_threshold(self, threshold: float) -> "SmoothingConfig":
        """The same detector with one threshold for every class (per-class values dropped)."""
        return replace(self, threshold=float(threshold), class_thresholds=())


@dataclass(frozen=True)
class Detection:
    time_ms: float   # when the detection fired, from the start of the audio
    label: str
    score: float     # the pooled score of the hop it fired at (see the module docstring)
    # what else was known when it fired (not part of a detection's identity: == compares the above)
    start_ms: float | None = field(default=None, compare=False)  # the word as the pooled windows see it
    end_ms: float | None = field(default=None, compare=False)    # (None: the window was not given)
    scores: tuple[float, ...] = field(default=(), compare=False)  # every class's pooled score, labels' order

    def csv_row(self) -> str:
        return f"{self.time_ms:.0f},{self.label},{self.score:.4f}"


def class_threshold_vector(labels: list[str], config: SmoothingConfig) -> np.ndarray:
    per_class = dict(config.class_thresholds)
    unknown = sorted(set(per_class) - set(labels))
    if unknown:
        raise ValueError(f"stream.class_thresholds names {unknown}, which the model does not predict ({labels})")
    return np.array([per_class.get(lab, config.threshold) for lab in labels], dtype=np.float64)


def word_span(hits_ms: list[float], fired_ms: float, window_ms: float) -> tuple[float, float]:
    """Where a word is, from the hops (their window's end times) whose top class was it: the audio
    every one of their windows holds; the firing hop's window when they share none."""
    if not hits_ms:
        return fired_ms - window_ms, fired_ms
    start, end = max(hits_ms) - window_ms, min(hits_ms)
    return (start, end) if start < end else (fired_ms - window_ms, fired_ms)


class PosteriorSmoother:
    def __init__(self, labels: list[str], config: SmoothingConfig = SmoothingConfig(),
                 window_ms: float | None = None):
        """`window_ms`: the audio each posterior was computed on, for the detections' word span."""
        self.labels = list(labels)
        self.config = config
        self.window_ms = window_ms
        self._reportable = np.array([lab not in NON_KEYWORDS for lab in self.labels])
        self._thresholds = class_threshold_vector(self.labels, config)
        self._rivals = np.flatnonzero(~self._reportable)  # the margin is taken over these
        self.reset()

    def reset(self) -> None:
        self._queue: deque[tuple[float, np.ndarray]] = deque()
        self._sum = np.zeros(len(self.labels), dtype=np.float64)
        self._last_label: int | None = None   # top class at the last detection
        self._last_time = -np.inf
        self._rearmed = True                  # the last detected class has since lost the top
        self._pending: tuple[int, float] | None = None  # peak detector: (class, best score) not yet reported
        self.smoothed = np.zeros(len(self.labels), dtype=np.float64)

    def _pool(self, time_ms: float, probs: np.ndarray) -> bool:
        cfg = self.config
        probs = np.asarray(probs, dtype=np.float64)
        if cfg.temperature != 1.0:
            logp = np.log(np.maximum(probs, 1e-12)) / cfg.temperature
            probs = np.exp(logp - logp.max())
            probs /= probs.sum()
        self._queue.append((time_ms, probs))
        self._sum += probs
        while len(self._queue) > 1 and self._queue[0][0] <= time_ms - cfg.average_window_ms:
            self._sum -= self._queue.popleft()[1]
        if len(self._queue) < cfg.minimum_count:
            return False
        self.smoothed = self._sum / len(self._queue)
        if cfg.detector == "max_pool":  # keywords by their peak; silence/unknown stay averaged (they fill the gaps)
            peak = np.max([p for _, p in self._queue], axis=0)
            self.smoothed = np.where(self._reportable, peak, self.smoothed)
        return True

    def update(self, time_ms: float, probs: np.ndarray) -> Detection | None:
        if not self._pool(time_ms, probs):
            return None
        smoothed = self.smoothed
        top = int(np.argmax(smoothed))
        score = float(smoothed[top])
        confident = score > self._thresholds[top] and (
            not self._reportable[top] or not self._rivals.size
            or score - float(smoothed[self._rivals].max()) > self.config.margin)
        if self.config.detector == "peak":
            return self._peak(time_ms, top, score, confident)
        return self._decide(time_ms, top, score, confident)

    def _decide(self, time_ms: float, top: int, score: float, confident: bool) -> Detection | None:
        """RecognizeCommands' rule: a new confident class fires at once (suppression permitting)."""
        if top != self._last_label or not confident:
            self._rearmed = True
        if not confident or time_ms - self._last_time <= self.config.suppression_ms:
            return None
        if top == self._last_label and not self._rearmed:
            return None
        # silence/unknown do not count as detections, but they do end the current word
        if not self._reportable[top]:
            self._last_label, self._rearmed = top, False
            return None
        self._last_label, self._last_time, self._rearmed = top, time_ms, False
        return self._detection(time_ms, top, score)

    def _detection(self, time_ms: float, cls: int, score: float) -> Detection:
        """A Detection of class `cls` at `time_ms`, with the pooled scores and the word's span."""
        start = end = None
        if self.window_ms is not None:
            hits = [t for t, p in self._queue if int(np.argmax(p)) == cls]
            start, end = word_span(hits, time_ms, self.window_ms)
        return Detection(time_ms=time_ms, label=self.labels[cls], score=score, start_ms=start, end_ms=end,
                         scores=tuple(float(x) for x in self.smoothed))

    def _peak(self, time_ms: float, top: int, score: float, confident: bool) -> Detection | None:
        """Hold a firing class while the pooled top score still rises (a stronger class, _unknown_
        included, takes the candidate over); report the held class when the score falls."""
        if self._pending is not None:
            cls, best = self._pending
            if score > best:
                self._pending = (top, score)
                return None
            self._pending = None
            self._last_label, self._rearmed = cls, top != cls or not confident
            if not self._reportable[cls]:
                return None
            return self._detection(time_ms, cls, best)
        if self._decide(time_ms, top, score, confident) is not None:
            self._pending = (top, score)
        return None
