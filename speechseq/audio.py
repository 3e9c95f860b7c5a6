"""Reading audio: soundfile decode, mono mixdown, resampling to 16 kHz, fixed length; and the one
rule for samples that the API and the commands share (`checked_floats`).

Errors are the standard classes: a missing file raises FileNotFoundError (`AudioFileNotFoundError`),
an undecodable one OSError (`AudioReadError`), samples the model cannot use ValueError (from a file:
`InvalidAudioError`, which is also an AudioReadError).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
MIN_SAMPLE_RATE = 1000  # below this a "WAV" is not audio we can use
# Float audio beyond this is not a waveform in [-1, 1] but integer PCM stored as floats (a silent
# failure otherwise: the model hears a wall of noise and detects nothing). Up to it, clipped.
FLOAT_PEAK_LIMIT = 2.0
EXPECTED = "int16 PCM or float samples in [-1, 1]"


class AudioReadError(OSError):
    """A file that cannot be read as audio (missing, empty, truncated, not audio at all)."""


class AudioFileNotFoundError(AudioReadError, FileNotFoundError):
    """The audio file (or a folder on its path) does not exist."""


class InvalidAudioError(AudioReadError, ValueError):
    """A file that decodes, to samples the model cannot use (NaN, floats far beyond full scale)."""


def checked_floats(floats: np.ndarray, what: str = "audio", is_float: bool = True,
                   error: type[Exception] = ValueError) -> np.ndarray:
    """The one rule for samples, arrays and files alike: NaN or infinite samples are refused, and so
    are floats beyond +-FLOAT_PEAK_LIMIT (integer PCM stored as floats); floats up to it are clipped
    to [-1, 1]. `is_float`: the samples came as floats (integer PCM scaled to [-1, 1) needs no peak check)."""
    if not floats.size:
        return floats
    peak = float(np.max(np.abs(floats)))
    if not np.isfinite(peak):
        raise error(f"{what}: expected {EXPECTED}, got NaN or infinite samples")
    if is_float and peak > FLOAT_PEAK_LIMIT:
        raise error(f"{what}: expected {EXPECTED}, got float samples reaching {peak:g}; integer PCM stored "
                    f"as floats? Give it as int16, or divide by 32768")
    return np.clip(floats, -1.0, 1.0) if peak > 1.0 else floats


def open_sound_file(path: str | Path) -> sf.SoundFile:
    """soundfile's reader for `path`; FileNotFoundError / IsADirectoryError / AudioReadError otherwise."""
    where = Path(path)
    if where.is_dir():
        raise AudioReadError(f"{path} is a folder, not a sound file")
    if not where.exists():
        raise AudioFileNotFoundError(f"{path}: no such file")
    try:
        return sf.SoundFile(str(path))
    except Exception as exc:  # soundfile raises several types (LibsndfileError, RuntimeError, ...)
        reason = getattr(exc, "error_string", None) or str(exc)  # libsndfile's reason, without the path again
        raise AudioReadError(f"{path}: cannot decode audio ({reason})") from None


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None,
               strict: bool = False) -> np.ndarray:
    """Decode any soundfile-readable file to mono float32 in [-1, 1] at `sample_rate`.

    Odd but readable input is converted (8/24-bit, float, stereo, other rates). `strict` (the API
    and the commands): samples follow `checked_floats`, as an array would, so NaN or a float file
    far beyond full scale raises InvalidAudioError; else (training data, which goes on past odd
    files) NaN and inf samples become 0 and the result is clipped. `max_seconds` reads only the
    centred window of a longer file (what `fix_length` would keep anyway), so a stray hour-long
    recording costs no more than a clip. Raises AudioReadError otherwise. Needs no torch.
    """
    try:
        with open_sound_file(path) as fh:
            rate = fh.samplerate
            if rate < MIN_SAMPLE_RATE:
                raise AudioReadError(f"{path}: sample rate {rate} Hz is too low to be speech audio")
            start, frames = 0, -1
            if max_seconds is not None and fh.seekable() and fh.frames > max_seconds * rate:
                frames = int(max_seconds * rate)
                start = (fh.frames - frames) // 2
                fh.seek(start)
            data = fh.read(frames, dtype="float32", always_2d=True)
            is_float = fh.subtype in ("FLOAT", "DOUBLE")
    except AudioReadError:
        raise
    except Exception as exc:  # soundfile raises several types (LibsndfileError, RuntimeError, ...)
        reason = getattr(exc, "error_string", None) or str(exc)  # libsndfile's reason, without the path again
        raise AudioReadError(f"{path}: cannot decode audio ({reason})") from None
    if data.shape[0] == 0:
        raise AudioReadError(f"{path}: no samples")
    if strict:
        data = checked_floats(data, str(path), is_float, InvalidAudioError)
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
