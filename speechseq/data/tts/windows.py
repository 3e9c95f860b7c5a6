"""A spoken text made into a one-second window like a Speech Commands clip: silence trimmed,
loudness normalised, placed at a random offset (or cut, for a partial-word window)."""

from __future__ import annotations

import numpy as np

from speechseq.audio import SAMPLE_RATE, float_to_int16

WINDOW = SAMPLE_RATE          # one second at 16 kHz
TARGET_RMS_DBFS = -20.0       # the speech's loudness (RMS over its voiced part)
PEAK_DBFS = -1.0              # never louder than this at the peak
TRIM_FLOOR_DB = -40.0         # 10 ms frames this far below the loudest one are silence at the edges
PARTIAL_KEPT = (0.3, 0.7)     # a partial window holds this share of the spoken text


def trim_silence(wave: np.ndarray, floor_db: float = TRIM_FLOOR_DB, frame: int = SAMPLE_RATE // 100) -> np.ndarray:
    """`wave` without the quiet frames at its start and end (all of it when nothing stands out)."""
    n = len(wave) // frame
    if n == 0:
        return wave
    energy = (wave[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    if energy.max() <= 0:
        return wave[:0]
    loud = np.flatnonzero(energy >= energy.max() * 10 ** (floor_db / 10))
    return wave[loud[0] * frame: (loud[-1] + 1) * frame]


def normalise_loudness(wave: np.ndarray, target_dbfs: float = TARGET_RMS_DBFS,
                       peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    """Scaled to `target_dbfs` RMS, less where the peak would pass `peak_dbfs`; silence stays silence."""
    rms = float(np.sqrt(np.mean(wave.astype(np.float64) ** 2))) if len(wave) else 0.0
    peak = float(np.abs(wave).max()) if len(wave) else 0.0
    if rms <= 0 or peak <= 0:
        return np.zeros_like(wave, dtype=np.float32)
    gain = min(10 ** (target_dbfs / 20) / rms, 10 ** (peak_dbfs / 20) / peak)
    return (wave * gain).astype(np.float32)


def place(wave: np.ndarray, offset: int, length: int = WINDOW) -> np.ndarray:
    """A `length`-sample window holding `wave` from sample `offset` on (negative: its start is cut off)."""
    window = np.zeros(length, np.float32)
    start, end = max(offset, 0), min(offset + len(wave), length)
    if end > start:
        window[start:end] = wave[start - offset: end - offset]
    return window


def whole_offset(n_samples: int, rng: np.random.Generator, length: int = WINDOW) -> int:
    """A random offset that keeps the whole text in the window (a random one-second crop when it is longer)."""
    return int(rng.integers(min(0, length - n_samples), max(0, length - n_samples) + 1))


def partial_offset(n_samples: int, rng: np.random.Generator, length: int = WINDOW) -> int:
    """An offset that leaves 30-70 % of the text in the window, cut at the window's start or at its end."""
    kept = int(n_samples * rng.uniform(*PARTIAL_KEPT))
    kept = max(1, min(kept, length))
    if rng.random() < 0.5:
        return kept - n_samples          # the text began before the window: its last `kept` samples show
    return length - kept                 # the text runs past the window's end: its first `kept` samples show


def to_window(speech: np.ndarray, rng: np.random.Generator, partial: bool = False) -> tuple[np.ndarray, int]:
    """(int16 one-second window, offset of the trimmed speech in it) for speech at 16 kHz."""
    speech = normalise_loudness(trim_silence(np.asarray(speech, np.float32)))
    offset = partial_offset(len(speech), rng) if partial else whole_offset(len(speech), rng)
    return float_to_int16(place(speech, offset)), offset
