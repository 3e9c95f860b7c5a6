"""Classifying a whole clip of any length with a windowed classifier (1 s windows for the shipped model).

- A clip shorter than the window is zero-padded at the end, as training pads short clips
  (speechseq.audio.fix_length), so a 1 s Speech Commands clip is classified exactly as in training.
- A longer clip is cut into windows every hop (the last one ending at the clip's end) and
  classified window by window; the answer is the window whose top class is a word (not
  `_silence_`/`_unknown_`) with the highest score, else, when no window hears a word, the most
  confident window. For a recording with several words use `Recognizer.process` instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from speechseq.streaming.frontend import frame_features
from speechseq.streaming.silence import SilenceGate
from speechseq.streaming.smoothing import NON_KEYWORDS

WINDOWS_PER_CALL = 64  # bounds memory on long clips; one call per 6 s of audio at a 100 ms hop


@dataclass(frozen=True)
class Classification:
    """What a clip is: the top `label` and its probability `score`, and every class's probability.

    `start_s` is where the window that decided it starts in the clip (0.0 for clips up to 1 s).
    """

    label: str
    score: float
    scores: dict[str, float] = field(repr=False)
    start_s: float = 0.0


def window_starts(n_frames: int, window_frames: int, hop_frames: int) -> np.ndarray:
    """First frame of each window: every hop from 0, plus one ending at the last frame."""
    last = max(0, n_frames - window_frames)
    starts = np.arange(0, last + 1, hop_frames)
    return starts if starts[-1] == last else np.append(starts, last)


def window_probabilities(classifier, features: np.ndarray, starts: np.ndarray, window_frames: int) -> np.ndarray:
    """(len(starts), n_classes) posteriors, several windows per classifier call where it can batch."""
    batched = getattr(classifier, "batch", None) or getattr(classifier, "classify_batch", None)
    probs = []
    for i in range(0, len(starts), WINDOWS_PER_CALL):
        windows = np.stack([features[s:s + window_frames] for s in starts[i:i + WINDOWS_PER_CALL]])
        probs.append(batched(windows) if batched else np.stack([classifier(w) for w in windows]))
    return np.concatenate(probs).astype(np.float64)


def decisive_window(probs: np.ndarray, labels: list[str]) -> int:
    """The most confident window among those whose top class is a word, else among all."""
    is_word = np.array([lab not in NON_KEYWORDS for lab in labels])
    top = probs.argmax(axis=1)
    word_windows = np.flatnonzero(is_word[top])
    candidates = word_windows if word_windows.size else np.arange(len(probs))
    return int(candidates[np.argmax(probs[candidates].max(axis=1))])


def classify_wave(classifier, wave: np.ndarray, window_samples: int, hop_frames: int,
                  gate: SilenceGate | None = None) -> Classification:
    """Mono float32 `wave` at the classifier's rate -> its Classification (see the module docstring).

    `gate`: windows of digital silence are `_silence_` without the model (speechseq.streaming.silence)."""
    spec = classifier.frontend
    if len(wave) < window_samples:
        wave = np.pad(wave, (0, window_samples - len(wave)))
    features = frame_features(wave, spec)
    window_frames = spec.num_frames(window_samples)
    starts = window_starts(len(features), window_frames, hop_frames)
    probs = window_probabilities(classifier, features, starts, window_frames)
    if gate is not None and gate.active:
        probs = gate.apply(np.stack([features[s:s + window_frames] for s in starts]), probs).astype(np.float64)
    best = decisive_window(probs, classifier.labels)
    chosen = probs[best]
    top = int(chosen.argmax())
    return Classification(label=classifier.labels[top], score=float(chosen[top]),
                          scores={lab: float(p) for lab, p in zip(classifier.labels, chosen)},
                          start_s=float(starts[best] * spec.hop_length / spec.sample_rate))
