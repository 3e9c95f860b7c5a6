"""The log-mel frontend in numpy alone, for runtimes without torch (ONNX on a small board).

It reproduces `speechseq.features.logmel.LogMel` (torchaudio MelSpectrogram with center=False,
power 2, an HTK mel scale without area normalisation, then log(x + 1e-6)) to within 1e-4,
so a model trained on LogMel features sees the same numbers here.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from speechseq.features.spec import LOG_FLOOR, FrontendSpec


def _hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_points_hz(n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """The n_mels + 2 corner frequencies (Hz) of the triangular bands, evenly spaced in HTK mel:
    band i rises from point i, peaks at point i + 1 (its centre) and falls to point i + 2."""
    return _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))


def mel_filterbank(spec: FrontendSpec = FrontendSpec()) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) float32 triangular filters, as torchaudio's melscale_fbanks(htk, norm=None).

    Equal (to 1e-5, tests/test_numpy_frontend.py) to librosa.filters.mel(htk=True, norm=None).T,
    which is not called here: it pulls in scipy.signal, and importing it plus its first call take
    ~1.7 s (AMD EPYC, 2 cores), against ~0.06 s to import this whole torch-free runtime.
    """
    n_freqs = spec.n_fft // 2 + 1
    all_freqs = np.linspace(0, spec.sample_rate // 2, n_freqs)
    f_pts = mel_points_hz(spec.n_mels, spec.f_min, spec.f_max)
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - all_freqs[:, None]          # (n_freqs, n_mels + 2)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up)).astype(np.float32)


@lru_cache(maxsize=8)
def cached_filterbank(spec: FrontendSpec) -> np.ndarray:
    fb = mel_filterbank(spec).astype(np.float64)
    fb.flags.writeable = False
    return fb


@lru_cache(maxsize=8)
def analysis_window(spec: FrontendSpec = FrontendSpec()) -> np.ndarray:
    """Periodic Hann window of win_length, zero-padded to n_fft and centred (as torch.stft pads it)."""
    n = np.arange(spec.win_length)
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / spec.win_length)
    left = (spec.n_fft - spec.win_length) // 2
    window = np.zeros(spec.n_fft, dtype=np.float64)
    window[left:left + spec.win_length] = hann
    window.flags.writeable = False  # cached and shared
    return window


def frame_signal(wave: np.ndarray, spec: FrontendSpec = FrontendSpec()) -> np.ndarray:
    """(samples,) -> (frames, n_fft) strided view; frame i starts at sample i * hop_length."""
    frames = spec.num_frames(len(wave))
    if frames == 0:
        return np.zeros((0, spec.n_fft), dtype=wave.dtype)
    return np.lib.stride_tricks.sliding_window_view(wave, spec.n_fft)[::spec.hop_length][:frames]


def log_mel(wave: np.ndarray, spec: FrontendSpec = FrontendSpec(),
            filterbank: np.ndarray | None = None) -> np.ndarray:
    """Mono waveform (samples,) in [-1, 1] at spec.sample_rate -> log-mel (frames, n_mels) float32.

    Fewer than n_fft samples give zero frames (shape (0, n_mels)), as LogMel would refuse them.
    `filterbank` defaults to mel_filterbank(spec) (built once per spec and cached).
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"log_mel expects a mono waveform (samples,), got shape {wave.shape}")
    return frames_to_log_mel(frame_signal(wave, spec), spec, filterbank)


def frames_to_log_mel(frames: np.ndarray, spec: FrontendSpec = FrontendSpec(),
                      filterbank: np.ndarray | None = None) -> np.ndarray:
    """(n, n_fft) sample frames -> (n, n_mels) log-mel float32: the step shared by whole signals and streams."""
    fb = cached_filterbank(spec) if filterbank is None else np.asarray(filterbank, dtype=np.float64)
    # float64 throughout: quiet mel bands next to loud ones keep their precision
    spectrum = np.fft.rfft(np.asarray(frames, dtype=np.float64) * analysis_window(spec), n=spec.n_fft, axis=-1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    return np.log(power @ fb + LOG_FLOOR).astype(np.float32)
