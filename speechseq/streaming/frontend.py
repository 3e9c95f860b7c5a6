"""Incremental features in numpy: the same numbers as the offline frontends, block by block.

LogMel uses `center=False`, so frame i covers samples [i*hop, i*hop + n_fft) and depends on
nothing else. Keeping the samples after the last complete frame (the STFT overlap) and computing
only the frames that a new block completes therefore reproduces the offline features exactly,
whatever the block sizes. The speech embedding (features=speech_embedding) is built the same way
one level up: its mel frames are each a function of their own samples, and an embedding of its
own 76 mel frames, so `IncrementalEmbedding` keeps the mel frames the next embedding still needs
and runs the embedding model (onnxruntime) once per 80 ms.
"""

from __future__ import annotations

import numpy as np

from speechseq.features.frames import frame_features  # noqa: F401  (re-exported: offline and clips use it)
from speechseq.features.numpy_logmel import (
    frame_signal,
    frames_to_log_mel,
    log_mel,
    mel_filterbank,
)
from speechseq.features.embedding_mel import MEL_BANDS, MEL_HOP, MEL_N_FFT, MEL_WIN, frames_to_mel
from speechseq.features.embedding_spec import STEP_MEL_FRAMES, WINDOW_MEL_FRAMES, EmbeddingSpec
from speechseq.features.spec import FrontendSpec

__all__ = ["IncrementalEmbedding", "IncrementalLogMel", "frame_features", "incremental_frontend", "logmel",
           "mel_filterbank"]


class SampleFramer:
    """Cuts a stream into frames of `spec.n_fft` samples every `spec.hop_length`, counted from its start.

    push(samples) -> (n, n_fft) float64: the frames those samples complete; the overlap waits."""

    def __init__(self, spec: FrontendSpec):
        self.spec = spec
        self.reset()

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.float64)  # samples not yet consumed by a frame start

    def push(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float64).reshape(-1)
        buf = np.concatenate([self._pending, samples]) if self._pending.size else samples
        n_frames = self.spec.num_frames(buf.size)
        if n_frames == 0:
            self._pending = buf
            return np.zeros((0, self.spec.n_fft), dtype=np.float64)
        frames = frame_signal(buf, self.spec)
        self._pending = buf[n_frames * self.spec.hop_length:].copy()
        return frames


class IncrementalLogMel:
    """push(samples) -> the log-mel frames (n_new, n_mels) float32 those samples complete."""

    def __init__(self, spec: FrontendSpec = FrontendSpec()):
        self.spec = spec
        self.framer = SampleFramer(spec)
        self.reset()

    def reset(self) -> None:
        self.framer.reset()
        self.frames_out = 0
        self.samples_in = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float64).reshape(-1)
        self.samples_in += samples.size
        frames = self.framer.push(samples)
        if len(frames) == 0:
            return np.zeros((0, self.spec.n_mels), dtype=np.float32)
        self.frames_out += len(frames)
        return frames_to_log_mel(frames, self.spec)


def logmel(wave: np.ndarray, spec: FrontendSpec = FrontendSpec()) -> np.ndarray:
    """Whole-signal log-mel, (frames, n_mels); equals what IncrementalLogMel streams."""
    return log_mel(wave, spec)


class IncrementalEmbedding:
    """push(samples) -> the speech embeddings (n_new, 96) float32 those samples complete."""

    def __init__(self, spec: EmbeddingSpec = EmbeddingSpec()):
        from speechseq.features.embedding_onnx import embedder_for  # onnxruntime: only for this frontend

        self.spec = spec
        self.embedder = embedder_for(spec)
        self.framer = SampleFramer(FrontendSpec(n_fft=MEL_N_FFT, win_length=MEL_WIN, hop_length=MEL_HOP))
        self.reset()

    def reset(self) -> None:
        self.framer.reset()
        self._mel = np.zeros((0, MEL_BANDS), np.float32)  # mel frames from mel index 8 * frames_out on
        self.frames_out = 0
        self.samples_in = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float64).reshape(-1)
        self.samples_in += samples.size
        frames = self.framer.push(samples)
        if len(frames):
            self._mel = np.concatenate([self._mel, frames_to_mel(frames)])
        n = 0 if len(self._mel) < WINDOW_MEL_FRAMES else (len(self._mel) - WINDOW_MEL_FRAMES) // STEP_MEL_FRAMES + 1
        if n == 0:
            return np.zeros((0, self.spec.feature_dim), np.float32)
        embeddings = self.embedder.embed_mel(self._mel[:(n - 1) * STEP_MEL_FRAMES + WINDOW_MEL_FRAMES])
        self._mel = self._mel[n * STEP_MEL_FRAMES:]
        self.frames_out += n
        return embeddings


def incremental_frontend(spec):
    """The streaming frontend for `spec`: IncrementalLogMel, or IncrementalEmbedding for an EmbeddingSpec."""
    return IncrementalEmbedding(spec) if spec.kind == "speech_embedding" else IncrementalLogMel(spec)
