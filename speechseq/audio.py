"""Reading audio: soundfile decode, mono mixdown, resampling to 16 kHz, fixed length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000


class AudioReadError(Exception):
    """A file that cannot be decoded as audio (empty, truncated, not audio at all)."""


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, torch_free: bool = False) -> np.ndarray:
    """Decode any soundfile-readable file to mono float32 in [-1, 1] at `sample_rate`.

    Odd but readable input is converted (8/24-bit, float, stereo, other rates);
    NaN and inf samples become 0 and the result is clipped. Raises AudioReadError otherwise.
    `torch_free=True` resamples with numpy (same filter) instead of torchaudio, for the ONNX runtime.
    """
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types (LibsndfileError, RuntimeError, ...)
        raise AudioReadError(f"{path}: cannot decode audio ({exc})") from None
    if data.shape[0] == 0:
        raise AudioReadError(f"{path}: no samples")
    return to_mono_16k(data, rate, sample_rate, torch_free)


def to_mono_16k(data: np.ndarray, rate: int, sample_rate: int = SAMPLE_RATE,
                torch_free: bool = False) -> np.ndarray:
    """(frames, channels) or (frames,) float array at `rate` -> mono float32 at `sample_rate`."""
    data = np.asarray(data, dtype=np.float32)
    mono = data.mean(axis=1) if data.ndim == 2 else data
    mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
    if rate != sample_rate:
        mono = (resample_numpy if torch_free else resample)(mono, rate, sample_rate)
    return np.clip(mono, -1.0, 1.0).astype(np.float32, copy=False)


def resample(wave: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    import torch
    import torchaudio.functional as AF

    out = AF.resample(torch.from_numpy(np.ascontiguousarray(wave)), int(orig_rate), int(new_rate))
    return out.numpy()


def resample_numpy(wave: np.ndarray, orig_rate: int, new_rate: int, lowpass_filter_width: int = 6,
                   rolloff: float = 0.99) -> np.ndarray:
    """torchaudio.functional.resample (sinc_interp_hann, its defaults) in numpy, for torch-free runtimes.

    Same windowed-sinc kernels, padding and output length, so a file read here gives the same
    samples (to float rounding) as read_audio's torchaudio path used in training.
    """
    from math import ceil, gcd

    g = gcd(int(orig_rate), int(new_rate))
    orig, new = int(orig_rate) // g, int(new_rate) // g
    base = min(orig, new) * rolloff
    width = ceil(lowpass_filter_width * orig / base)
    idx = np.arange(-width, width + orig, dtype=np.float64) / orig
    t = (np.arange(0, -new, -1, dtype=np.float64)[:, None] / new + idx[None, :]) * base
    t = np.clip(t, -lowpass_filter_width, lowpass_filter_width)
    window = np.cos(t * np.pi / lowpass_filter_width / 2) ** 2
    t *= np.pi
    safe_t = np.where(t == 0, 1.0, t)
    kernels = np.where(t == 0, 1.0, np.sin(safe_t) / safe_t) * window * (base / orig)  # (new, 2*width + orig)
    length = len(wave)
    padded = np.pad(np.asarray(wave, dtype=np.float64), (width, width + orig))
    blocks = np.lib.stride_tricks.sliding_window_view(padded, kernels.shape[1])[::orig]
    out = (blocks @ kernels.T).reshape(-1)
    return out[:ceil(new * length / orig)].astype(np.float32)


def fix_length(wave: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad at the end or crop the middle to exactly `length` samples."""
    n = len(wave)
    if n == length:
        return wave
    if n < length:
        return np.pad(wave, (0, length - n))
    start = (n - length) // 2
    return wave[start:start + length]


def float_to_int16(wave: np.ndarray) -> np.ndarray:
    return np.round(np.clip(wave, -1.0, 1.0) * 32767.0).astype(np.int16)


def int16_to_float(wave: np.ndarray) -> np.ndarray:
    return wave.astype(np.float32) / 32767.0
