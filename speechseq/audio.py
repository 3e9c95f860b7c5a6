"""Reading audio: soundfile decode, mono mixdown, resampling to 16 kHz, fixed length."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
MIN_SAMPLE_RATE = 1000  # below this a "WAV" is not audio we can use
# Exact sinc resampling builds a (new/g, old/g) kernel, g = gcd: gigabytes for a rate like
# 44101 Hz. Above this many kernel elements the source rate is rounded (10 Hz, 100 Hz, ...).
MAX_RESAMPLE_KERNEL = 2_000_000


class AudioReadError(Exception):
    """A file that cannot be decoded as audio (empty, truncated, not audio at all)."""


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None,
               torch_free: bool = False) -> np.ndarray:
    """Decode any soundfile-readable file to mono float32 in [-1, 1] at `sample_rate`.

    Odd but readable input is converted (8/24-bit, float, stereo, other rates);
    NaN and inf samples become 0 and the result is clipped. `max_seconds` reads only the
    centred window of a longer file (what `fix_length` would keep anyway), so a stray
    hour-long recording costs no more than a clip. Raises AudioReadError otherwise.
    `torch_free=True` resamples with numpy (same filter) instead of torchaudio, for the ONNX runtime.
    """
    try:
        with sf.SoundFile(str(path)) as fh:
            rate = fh.samplerate
            if rate < MIN_SAMPLE_RATE:
                raise AudioReadError(f"{path}: sample rate {rate} Hz is too low to be speech audio")
            start, frames = 0, -1
            if max_seconds is not None and fh.seekable() and fh.frames > max_seconds * rate:
                frames = int(max_seconds * rate)
                start = (fh.frames - frames) // 2
                fh.seek(start)
            data = fh.read(frames, dtype="float32", always_2d=True)
    except AudioReadError:
        raise
    except Exception as exc:  # soundfile raises several types (LibsndfileError, RuntimeError, ...)
        reason = getattr(exc, "error_string", None) or str(exc)  # libsndfile's reason, without the path again
        raise AudioReadError(f"{path}: cannot decode audio ({reason})") from None
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

    orig_rate = workable_rate(int(orig_rate), int(new_rate))
    if orig_rate == new_rate:
        return wave
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(wave)), orig_rate, int(new_rate))
    return out.numpy()


def workable_rate(orig_rate: int, new_rate: int) -> int:
    """`orig_rate`, or the nearest multiple of 10, 100, ... whose resampling kernel stays small.

    Rounding 44101 Hz to 44100 Hz shifts pitch by 0.002%; exact resampling would need a
    16000 x 44101 kernel (2.8 GB) and minutes per clip.
    """
    step, rate = 1, orig_rate
    while True:
        g = math.gcd(rate, new_rate)
        if (new_rate // g) * (rate // g) <= MAX_RESAMPLE_KERNEL:
            return rate
        step *= 10
        rate = max(step, round(orig_rate / step) * step)


def resample_numpy(wave: np.ndarray, orig_rate: int, new_rate: int, lowpass_filter_width: int = 6,
                   rolloff: float = 0.99) -> np.ndarray:
    """torchaudio.functional.resample (sinc_interp_hann, its defaults) in numpy, for torch-free runtimes.

    Same windowed-sinc kernels, padding and output length, so a file read here gives the same
    samples (to float rounding) as read_audio's torchaudio path used in training.
    """
    from math import ceil, gcd

    orig_rate = workable_rate(int(orig_rate), int(new_rate))
    if orig_rate == new_rate:
        return np.asarray(wave, dtype=np.float32)
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
