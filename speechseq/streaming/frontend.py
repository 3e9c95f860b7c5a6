"""Incremental log-mel in numpy: the same numbers as `speechseq.features.LogMel`, block by block.

LogMel uses `center=False`, so frame i covers samples [i*hop, i*hop + n_fft) and depends on
nothing else. Keeping the samples after the last complete frame (the STFT overlap) and computing
only the frames that a new block completes therefore reproduces the offline features exactly,
whatever the block sizes.
"""

from __future__ import annotations

import numpy as np

from speechseq.frontend_spec import LOG_FLOOR, FrontendSpec


def hz_to_mel_htk(freq: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(freq, dtype=np.float64) / 700.0)


def mel_to_hz_htk(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(spec: FrontendSpec) -> np.ndarray:
    """(n_fft//2 + 1, n_mels) triangular HTK filters without area normalisation.

    The same construction as torchaudio's `melscale_fbanks(..., norm=None, mel_scale="htk")`.
    """
    n_freqs = spec.n_fft // 2 + 1
    all_freqs = np.linspace(0.0, spec.sample_rate // 2, n_freqs)
    m_pts = np.linspace(hz_to_mel_htk(spec.f_min), hz_to_mel_htk(spec.f_max), spec.n_mels + 2)
    f_pts = mel_to_hz_htk(m_pts)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up))


def padded_window(spec: FrontendSpec) -> np.ndarray:
    """Periodic Hann window of win_length, zero-padded to n_fft and centred (as torch.stft does)."""
    n = np.arange(spec.win_length)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / spec.win_length)
    left = (spec.n_fft - spec.win_length) // 2
    out = np.zeros(spec.n_fft)
    out[left:left + spec.win_length] = window
    return out


class IncrementalLogMel:
    """push(samples) -> the log-mel frames (n_new, n_mels) float32 those samples complete."""

    def __init__(self, spec: FrontendSpec = FrontendSpec()):
        self.spec = spec
        self.window = padded_window(spec)
        self.filterbank = mel_filterbank(spec)
        self.reset()

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.float64)  # samples not yet consumed by a frame start
        self.frames_out = 0
        self.samples_in = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float64).reshape(-1)
        self.samples_in += samples.size
        buf = np.concatenate([self._pending, samples]) if self._pending.size else samples
        n_fft, hop = self.spec.n_fft, self.spec.hop_length
        n_frames = 0 if buf.size < n_fft else 1 + (buf.size - n_fft) // hop
        if n_frames == 0:
            self._pending = buf
            return np.zeros((0, self.spec.n_mels), dtype=np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(buf, n_fft)[::hop][:n_frames]
        self._pending = buf[n_frames * hop:].copy()
        self.frames_out += n_frames
        return self.compute(frames)

    def compute(self, frames: np.ndarray) -> np.ndarray:
        """(n, n_fft) sample frames -> (n, n_mels) log-mel, float32."""
        power = np.abs(np.fft.rfft(frames * self.window, axis=-1)) ** 2
        return np.log(power @ self.filterbank + LOG_FLOOR).astype(np.float32)

    def frame_end_sample(self, frame_index: int) -> int:
        """One past the last sample that frame `frame_index` covers."""
        return frame_index * self.spec.hop_length + self.spec.n_fft


def logmel(wave: np.ndarray, spec: FrontendSpec = FrontendSpec()) -> np.ndarray:
    """Whole-signal log-mel, (frames, n_mels); equals LogMel on the same samples."""
    return IncrementalLogMel(spec).push(wave)
