"""Digital silence is `_silence_`: the energy gate in front of the classifier.

A muted microphone, a file's padding or an idle line deliver zeros (or a least-significant bit of
dither). Models trained on background noise never heard that: the shipped model calls a window of
zeros `_unknown_` at 0.98, and anything quieter than about -82 dBFS `_unknown_` too, while real
rooms and the training's silence clips (-75 dBFS and up) are `_silence_`. So a window whose level is
below `silence_gate_dbfs` (default -80 dBFS, RMS over the window, within the log-mel's band) is
given the posteriors of certain silence (1.0 for `_silence_`) without asking the model. The level is
read from the log-mel window the model would see, so the live loop, clips and the offline replay
gate the same windows. `silence_gate_dbfs=-inf` turns the gate off; a model on the speech embedding
(features=speech_embedding) has no gate.
"""

from __future__ import annotations

import math

import numpy as np

from speechseq.features.numpy_logmel import analysis_window, cached_filterbank
from speechseq.features.spec import LOG_FLOOR, FrontendSpec
from speechseq.labels import SILENCE

SILENCE_GATE_DBFS = -80.0  # below the quietest silence clip of training (-75 dBFS), above dither (-96)


def full_scale_mel_power(spec: FrontendSpec) -> float:
    """Mel power summed over the bands of one frame of white noise at RMS 1.0 (0 dBFS): the expected
    |X_k|^2 of such noise is the analysis window's energy, for every FFT bin."""
    return float(np.sum(np.square(analysis_window(spec))) * cached_filterbank(spec).sum())


def window_level_dbfs(features: np.ndarray, spec: FrontendSpec) -> np.ndarray:
    """RMS level (dBFS) of the audio behind log-mel windows (..., frames, n_mels), from the mel power
    itself: exact for white noise, the level within the log-mel's band for anything else."""
    power = np.maximum(np.exp(np.asarray(features, np.float64)) - LOG_FLOOR, 0.0).sum(-1).mean(-1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(power / full_scale_mel_power(spec))


class SilenceGate:
    """`silent(window)` / `apply(windows, probs)`: windows below the gate get `_silence_` at 1.0.

    Inactive (a no-op) when the model has no `_silence_` class or the gate is -inf.
    """

    def __init__(self, labels: list[str], spec: FrontendSpec, gate_dbfs: float = SILENCE_GATE_DBFS):
        self.spec, self.gate_dbfs = spec, float(gate_dbfs)
        # the level is read from a log-mel window; the speech embedding's features are no power spectrum
        self.active = SILENCE in labels and self.gate_dbfs > -math.inf and getattr(spec, "kind", "logmel") == "logmel"
        self.probs = np.zeros(len(labels), np.float32)
        if SILENCE in labels:
            self.probs[labels.index(SILENCE)] = 1.0

    def silent(self, window: np.ndarray) -> bool:
        """Whether one window (frames, n_mels) is below the gate."""
        return self.active and bool(window_level_dbfs(window, self.spec) < self.gate_dbfs)

    def apply(self, windows: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """`probs` (n, n_classes) of `windows` (n, frames, n_mels), the silent ones replaced."""
        if not self.active or not len(probs):
            return probs
        quiet = window_level_dbfs(windows, self.spec) < self.gate_dbfs
        if quiet.any():
            probs = np.array(probs, copy=True)
            probs[quiet] = self.probs
        return probs
