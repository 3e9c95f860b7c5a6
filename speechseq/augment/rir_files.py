"""Recorded room impulse responses (`augment.rir_dir`): any soundfile-readable files in a folder.

Channel 0 of each file is taken (a multi-microphone recording is fine), resampled to the training
rate through speechseq.audio, and trimmed like a simulated one (from just before its direct
path, taken as its largest sample, to -60 dB). Unreadable files and odd ones (empty, NaN or inf
samples, silent, longer than MAX_SECONDS) are skipped and counted in one log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speechseq.audio import MIN_SAMPLE_RATE, resample
from speechseq.augment.rir_bank import RirBank, stack_rirs, trim_rir
from speechseq.config.checks import ConfigError

log = logging.getLogger(__name__)
MAX_SECONDS = 5.0  # a longer file is a recording of something else, not one impulse response


@dataclass
class RecordedRirs:
    bank: RirBank
    unreadable: list[str] = field(default_factory=list)   # "path: reason"
    odd: list[str] = field(default_factory=list)


def _read_channel0(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return data[:, 0], int(rate)


def _odd_reason(wave: np.ndarray, rate: int) -> str | None:
    if rate < MIN_SAMPLE_RATE:
        return f"sample rate {rate} Hz"
    if len(wave) == 0:
        return "no samples"
    if not np.all(np.isfinite(wave)):
        return "NaN or inf samples"
    if len(wave) > MAX_SECONDS * rate:
        return f"{len(wave) / rate:.1f} s long (more than {MAX_SECONDS:g} s)"
    if not np.any(wave):
        return "all zeros"
    return None


def load_recorded_rirs(folder: str | Path, sample_rate: int, max_seconds: float = 1.0,
                       split: str | None = None, sources: list[str] | None = None) -> RecordedRirs:
    """Every usable impulse response under `folder` (recursively, hidden files left out), as a bank;
    with `split`, only the rooms speechseq.data.real_world puts in that split (rooms of one folder
    hashed apart, a folder of one hall's responses kept together); with `sources`, only the files
    under those subfolders (e.g. the ones whose licence lets a shipped model train on them).

    Raises ConfigError when the folder does not exist or holds no usable file.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ConfigError(f"augment.rir_dir: {folder} is not a folder")
    rirs, direct, used, unreadable, odd = [], [], [], [], []
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    if sources is not None:
        keep = [s.strip("/") for s in sources]
        files = [p for p in files if any(p.relative_to(root).as_posix().startswith(s + "/") for s in keep)]
    if split is not None:
        from speechseq.data.real_world import AUDIO_SUFFIXES, split_of_files

        audio = [p for p in files if p.suffix.lower() in AUDIO_SUFFIXES]
        placed = split_of_files(root, audio)
        files = [p for p in audio if placed[p] == split]
    for path in files:
        try:
            wave, rate = _read_channel0(path)
        except Exception as exc:  # soundfile raises several types (LibsndfileError, RuntimeError, ...)
            unreadable.append(f"{path}: {getattr(exc, 'error_string', None) or exc}")
            continue
        reason = _odd_reason(wave, rate)
        if reason is None:
            wave = resample(wave, rate, sample_rate)
            reason = None if np.any(wave) else "too short to resample"
        if reason is not None:
            odd.append(f"{path}: {reason}")
            continue
        rir, d = trim_rir(wave, int(np.argmax(np.abs(wave))), sample_rate, max_seconds)
        rirs.append(rir)
        direct.append(d)
        used.append(str(path))
    log.info("augment.rir_dir=%s: %d impulse responses; skipped %d unreadable and %d odd file(s) "
             "(empty, NaN, silent or longer than %g s)", root, len(rirs), len(unreadable), len(odd), MAX_SECONDS)
    if not rirs:
        what = (f"has no room in its {split} split" if split is not None and not files else "is empty" if not files else
                f"has no usable impulse response ({len(unreadable)} unreadable, {len(odd)} odd)")
        raise ConfigError(f"augment.rir_dir: {folder} {what}")
    return RecordedRirs(stack_rirs(rirs, direct, {"source": used}), unreadable, odd)
