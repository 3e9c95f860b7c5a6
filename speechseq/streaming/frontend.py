"""Incremental log-mel in numpy: the same numbers as `speechseq.features.logmel.LogMel`, block by block.

LogMel uses `center=False`, so frame i covers samples [i*hop, i*hop + n_fft) and depends on
nothing else. Keeping the samples after the last complete frame (the STFT overlap) and computing
only the frames that a new block completes therefore reproduces the offline features exactly,
whatever the block sizes.
"""

from __future__ import annotations

import numpy as np

from speechseq.features.numpy_logmel import (
    frame_signal,
    frames_to_log_mel,
    log_mel,
    mel_filterbank,
)
from speechseq.features.spec import FrontendSpec

__all__ = ["IncrementalLogMel", "logmel", "mel_filterbank"]


class IncrementalLogMel:
    """push(samples) -> the log-mel frames (n_new, n_mels) float32 those samples complete."""

    def __init__(self, spec: FrontendSpec = FrontendSpec()):
        self.spec = spec
        self.reset()

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.float64)  # samples not yet consumed by a frame start
        self.frames_out = 0
        self.samples_in = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float64).reshape(-1)
        self.samples_in += samples.size
        buf = np.concatenate([self._pending, samples]) if self._pending.size else samples
        n_frames = self.spec.num_frames(buf.size)
        if n_frames == 0:
            self._pending = buf
            return np.zeros((0, self.spec.n_mels), dtype=np.float32)
        frames = frame_signal(buf, self.spec)
        self._pending = buf[n_frames * self.spec.hop_length:].copy()
        self.frames_out += n_frames
        return frames_to_log_mel(frames, self.spec)


def logmel(wave: np.ndarray, spec: FrontendSpec = FrontendSpec()) -> np.ndarray:
    """Whole-signal log-mel, (frames, n_mels); equals what IncrementalLogMel streams."""
    return log_mel(wave, spec)
