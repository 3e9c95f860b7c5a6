"""One-second windows of real speech: what `_unknown_` must learn that the dataset's filler words lack.

A short take (a wake word, a phrase: at most WHOLE_TAKE_SECONDS) gives its loudest second; a longer
recording (read sentences, talk) gives windows at random offsets, about `per_second` of them a
second of audio, each kept only where enough of it is speech (frames within ACTIVE_DB of the
recording's loudest), so a pause is not taught as a word. Windows start anywhere, so many hold
parts of words and two words. Everything is drawn from a generator seeded by (seed, file name), so
the same files and seed give the same windows. Files that cannot be read, or hold no samples, are
skipped and listed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speechseq.audio import AudioReadError, float_to_int16, read_audio
from speechseq.progress import Progress

FRAME = 160                 # 10 ms at 16 kHz: the unit the energy gate looks at
ACTIVE_DB = 35.0            # a frame is speech when within this of the recording's loudest frame
WHOLE_TAKE_SECONDS = 1.5    # a take up to this long is one window (its loudest second)


@dataclass
class WindowSet:
    waves: np.ndarray                       # (N, clip_samples) int16
    sources: list[str]                      # the file each window came from
    failed: list[dict] = field(default_factory=list)   # {"path", "error"} of files left out

    def __len__(self) -> int:
        return len(self.sources)

    def keep(self, mask: np.ndarray) -> "WindowSet":
        """The windows where `mask` is true (the failures kept)."""
        idx = np.flatnonzero(mask)
        return WindowSet(self.waves[idx], [self.sources[i] for i in idx], self.failed)

    @classmethod
    def empty(cls, clip_samples: int = 16000) -> "WindowSet":
        return cls(np.zeros((0, clip_samples), np.int16), [])

    @classmethod
    def join(cls, sets: list["WindowSet"], clip_samples: int = 16000) -> "WindowSet":
        if not sets:
            return cls.empty(clip_samples)
        return cls(np.concatenate([s.waves for s in sets]), [p for s in sets for p in s.sources],
                   [f for s in sets for f in s.failed])


def frame_energy(wave: np.ndarray) -> np.ndarray:
    n = len(wave) // FRAME
    return np.square(wave[:n * FRAME].reshape(n, FRAME), dtype=np.float64).mean(axis=1)


def loudest_window(wave: np.ndarray, length: int) -> np.ndarray:
    """The `length` samples of `wave` with the most energy (zero-padded around a shorter wave)."""
    if len(wave) <= length:
        pad = length - len(wave)
        return np.pad(wave, (pad // 2, pad - pad // 2))
    energy = frame_energy(wave)
    per_window = length // FRAME
    if len(energy) <= per_window:
        start = (len(wave) - length) // 2
    else:
        sums = np.convolve(energy, np.ones(per_window), mode="valid")
        start = min(int(np.argmax(sums)) * FRAME, len(wave) - length)
    return wave[start:start + length]


def active_share(energy: np.ndarray, floor: float) -> float:
    return float(np.mean(energy > floor)) if len(energy) else 0.0


def windows_of(wave: np.ndarray, rng: np.random.Generator, length: int, per_second: float,
               min_active: float) -> list[np.ndarray]:
    """The windows one recording gives (see the module docstring)."""
    if len(wave) <= WHOLE_TAKE_SECONDS * length:  # length is one second of samples
        return [loudest_window(wave, length)]
    energy = frame_energy(wave)
    if not len(energy) or energy.max() <= 0:
        return []
    floor = energy.max() * 10.0 ** (-ACTIVE_DB / 10.0)
    wanted = max(1, int(round(len(wave) / 16000 * per_second)))
    out = []
    for start in rng.integers(0, len(wave) - length + 1, size=wanted):
        window = wave[start:start + length]
        if active_share(energy[start // FRAME:(start + length) // FRAME], floor) >= min_active:
            out.append(window)
    return out


def file_rng(seed: int, path: Path) -> np.random.Generator:
    """A generator of its own per file: adding or removing one file changes no other file's windows."""
    return np.random.default_rng([seed, zlib.crc32(path.name.encode())])


def speech_windows(paths: list[Path], seed: int = 0, per_second: float = 1.0, min_active: float = 0.3,
                   sample_rate: int = 16000, clip_samples: int = 16000, progress: bool = True,
                   desc: str = "speech windows") -> WindowSet:
    """1 s windows of every recording in `paths` (int16), deterministic for `seed`."""
    waves, sources, failed = [], [], []
    for path in Progress(paths, total=len(paths), desc=desc, unit="file", enabled=progress):
        try:
            wave = read_audio(path, sample_rate)
        except AudioReadError as exc:
            failed.append({"path": str(path), "error": str(exc)})
            continue
        if not np.any(wave):
            failed.append({"path": str(path), "error": f"{path}: digital silence"})
            continue
        got = windows_of(wave, file_rng(seed, Path(path)), clip_samples, per_second, min_active)
        waves += [float_to_int16(w) for w in got]
        sources += [str(path)] * len(got)
    if not waves:
        return WindowSet(np.zeros((0, clip_samples), np.int16), [], failed)
    return WindowSet(np.stack(waves), sources, failed)
