"""Posterior smoothing and detection, after TensorFlow's RecognizeCommands.

Each hop gives one posterior vector. The smoother averages the posteriors of the last
`average_window_ms`, takes the top class, and reports a detection when
- at least `minimum_count` posteriors are in the average,
- the averaged score exceeds `threshold`,
- `suppression_ms` have passed since the last detection, and
- the class is new: it differs from the previous top class, or that class has since lost the
  top (another class or a score below threshold), so a word said twice is reported twice.
`_silence_` and `_unknown_` take part (they end a word, they take the top), but are never
reported.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from speechseq.labels import SILENCE, UNKNOWN

NON_KEYWORDS = frozenset({SILENCE, UNKNOWN})


@dataclass(frozen=True)
class SmoothingConfig:
    # defaults tuned on the mini set's validation streams (docs/streaming.md), as conf/stream/default.yaml
    average_window_ms: float = 800.0
    threshold: float = 0.7
    suppression_ms: float = 1500.0
    minimum_count: int = 1

    def __post_init__(self):
        if self.average_window_ms < 0:
            raise ValueError(f"stream.average_window_ms must not be negative, got {self.average_window_ms}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"stream.threshold must be within 0..1, got {self.threshold}")
        if self.suppression_ms < 0:
            raise ValueError(f"stream.suppression_ms must not be negative, got {self.suppression_ms}")
        if self.minimum_count < 1:
            raise ValueError(f"stream.minimum_count must be at least 1, got {self.minimum_count}")


@dataclass(frozen=True)
class Detection:
    time_ms: float   # when the detection fired, from the start of the audio
    label: str
    score: float

    def csv_row(self) -> str:
        return f"{self.time_ms:.0f},{self.label},{self.score:.4f}"


class PosteriorSmoother:
    def __init__(self, labels: list[str], config: SmoothingConfig = SmoothingConfig()):
        self.labels = list(labels)
        self.config = config
        self._reportable = np.array([lab not in NON_KEYWORDS for lab in self.labels])
        self.reset()

    def reset(self) -> None:
        self._queue: deque[tuple[float, np.ndarray]] = deque()
        self._sum = np.zeros(len(self.labels), dtype=np.float64)
        self._last_label: int | None = None   # top class at the last detection
        self._last_time = -np.inf
        self._rearmed = True                  # the last detected class has since lost the top
        self.smoothed = np.zeros(len(self.labels), dtype=np.float64)

    def update(self, time_ms: float, probs: np.ndarray) -> Detection | None:
        cfg = self.config
        probs = np.asarray(probs, dtype=np.float64)
        self._queue.append((time_ms, probs))
        self._sum += probs
        while len(self._queue) > 1 and self._queue[0][0] <= time_ms - cfg.average_window_ms:
            self._sum -= self._queue.popleft()[1]
        if len(self._queue) < cfg.minimum_count:
            return None
        self.smoothed = self._sum / len(self._queue)
        top = int(np.argmax(self.smoothed))
        score = float(self.smoothed[top])
        confident = score > cfg.threshold
        if top != self._last_label or not confident:
            self._rearmed = True
        if not confident or time_ms - self._last_time <= cfg.suppression_ms:
            return None
        if top == self._last_label and not self._rearmed:
            return None
        # silence/unknown do not count as detections, but they do end the current word
        if not self._reportable[top]:
            self._last_label, self._rearmed = top, False
            return None
        self._last_label, self._last_time, self._rearmed = top, time_ms, False
        return Detection(time_ms=time_ms, label=self.labels[top], score=score)
