"""Reading audio: soundfile decode, mono mixdown, resampling to 16 kHz, fixed length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
MIN_SAMPLE_RATE = 1000  # below this a "WAV" is not audio we can use


class AudioReadError(Exception):
    """A file that cannot be decoded as audio (empty, truncated, not audio at all)."""


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> np.ndarray:
    """Decode any soundfile-readable file to mono float32 in [-1, 1] at `sample_rate`.

    Odd but readable input is converted (8/24-bit, float, stereo, other rates);
    NaN and inf samples become 0 and the result is clipped. `max_seconds` reads only the
    centred window of a longer file (what `fix_length` would keep anyway), so a stray
    hour-long recording costs no more than a clip. Raises AudioReadError otherwise.
    Needs no torch (the ONNX runtime uses it too).
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
    wave = to_mono_16k(data, rate, sample_rate)
    if len(wave) == 0:  # e.g. one sample at 44.1 kHz: less than one at 16 kHz
        raise AudioReadError(f"{path}: {data.shape[0]} sample(s) at {rate} Hz are too short to resample")
    return wave


def to_mono_16k(data: np.ndarray, rate: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(frames, channels) or (frames,) float array at `rate` -> mono float32 at `sample_rate`."""
    data = np.asarray(data, dtype=np.float32)
    mono = data.mean(axis=1) if data.ndim == 2 else data
    mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
    if rate != sample_rate:
        mono = resample(mono, rate, sample_rate)
    return np.clip(mono, -1.0, 1.0).astype(np.float32, copy=False)


def resample(wave: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """libsoxr's high-quality resampler (what librosa uses): any pair of rates, torch-free.

    Training, evaluation and every runtime read a file through here, so they get the same samples.
    """
    import soxr

    if int(orig_rate) == int(new_rate):
        return np.asarray(wave, dtype=np.float32)
    return soxr.resample(np.ascontiguousarray(wave, dtype=np.float32), int(orig_rate), int(new_rate),
                         quality="HQ")


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
