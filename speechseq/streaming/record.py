"""Guided recording of a user's own keywords (`speechseq-record`): the plain parts, no console.

A take is `seconds` of microphone audio. The second around the word is kept (the 1 s window with
the most energy; among the windows that hold nearly as much, the middle one, so a short word sits
in the middle of its second), checked (not clipped, not silent) and written in the Speech Commands
layout: OUT/<word>/<speaker>_nohash_<n>.wav, 16 kHz mono 16-bit, n continuing after the takes
already there. The session loop reads any iterable of float32 blocks (a MicrophoneSource live, a
list of arrays in tests) and reports to a `view` (prompt, level, kept, refused).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from speechseq.audio import float_to_int16
from speechseq.fsutil import atomic_path, atomic_write_text
from speechseq.labels import BACKGROUND_NOISE_DIR, SILENCE, UNKNOWN

SAMPLE_RATE = 16000
KEEP_SAMPLES = SAMPLE_RATE  # one second, as every clip of Speech Commands
RESERVED_NAMES = (SILENCE, UNKNOWN, BACKGROUND_NOISE_DIR)  # folders the data layouts give a meaning
# A folder name on every system; no leading dot or dash (hidden folders are skipped by the data scan).
NAME_PATTERN = re.compile(r"\w[\w.-]{0,63}")
SPEAKER_FILE = ".speaker"  # in OUT: the random speaker id, so later sessions continue its numbering
NEAR_BEST = 0.995  # windows holding this share of the best window's energy count as holding the word
FRAME = SAMPLE_RATE // 10  # 100 ms frames for the loudness check


class RecordError(ValueError):
    """A setting or a session that cannot go on; the message says what to change."""


# --- names ----------------------------------------------------------------------------------------

def check_words(words) -> list[str]:
    """The words as folder names, or RecordError naming the first bad one."""
    if isinstance(words, (str, int)) and not isinstance(words, bool):
        words = [words]
    if not words:
        raise RecordError("words is empty: pass words=[word,...], e.g. words=[lights_on,lights_off]")
    checked = []
    for word in words:
        if isinstance(word, bool) or not isinstance(word, (str, int)):
            raise RecordError(f"words: {word!r} is not a word (quote it: words=['{str(word).lower()}'])")
        word = str(word)
        if word in RESERVED_NAMES:
            raise RecordError(f"words: {word} is reserved for the data layout ({', '.join(RESERVED_NAMES)}); "
                              f"choose another name")
        if not NAME_PATTERN.fullmatch(word):
            raise RecordError(f"words: {word!r} is not a usable folder name: letters, digits, _ . - "
                              f"(not first), at most 64 characters")
        if word in checked:
            raise RecordError(f"words: {word} is listed twice")
        checked.append(word)
    return checked


def check_speaker(speaker) -> str:
    speaker = str(speaker)
    if not NAME_PATTERN.fullmatch(speaker) or "_nohash_" in speaker:
        raise RecordError(f"speaker={speaker!r}: use letters, digits, _ . - only (not _nohash_), "
                          f"e.g. speaker=alice")
    return speaker


def speaker_id(out_dir: Path, speaker=None) -> str:
    """`speaker` if given; else the id stored in OUT, made (8 random hex digits) on the first session."""
    if speaker is not None and str(speaker) != "":
        return check_speaker(speaker)
    stored = out_dir / SPEAKER_FILE
    if stored.is_file():
        return check_speaker(stored.read_text().strip())
    new_id = secrets.token_hex(4)
    atomic_write_text(stored, new_id + "\n")
    return new_id


def take_number(path: Path, speaker: str) -> int | None:
    match = re.fullmatch(re.escape(speaker) + r"_nohash_(\d+)\.wav", path.name)
    return int(match.group(1)) if match else None


def next_take_number(folder: Path, speaker: str) -> int:
    """One past the highest n of the speaker's takes in `folder` (0 for the first)."""
    numbers = [take_number(p, speaker) for p in folder.glob(f"{speaker}_nohash_*.wav")] if folder.is_dir() else []
    numbers = [n for n in numbers if n is not None]
    return max(numbers) + 1 if numbers else 0


def write_take(out_dir: Path, word: str, speaker: str, clip: np.ndarray) -> Path:
    """Write `clip` as the speaker's next take of `word`; an existing file is never replaced."""
    import soundfile as sf

    folder = out_dir / word
    folder.mkdir(parents=True, exist_ok=True)
    n = next_take_number(folder, speaker)
    while True:  # claim the name first (O_EXCL), so a take written meanwhile by another session stays
        path = folder / f"{speaker}_nohash_{n}.wav"
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            break
        except FileExistsError:
            n += 1
    try:
        with atomic_path(path) as tmp:
            sf.write(str(tmp), float_to_int16(clip), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    except BaseException:
        if path.is_file() and path.stat().st_size == 0:
            path.unlink()  # give the claimed name back: no empty take left behind
        raise
    return path


# --- one take: keep the word, check it ------------------------------------------------------------

def kept_start(wave: np.ndarray, keep: int = KEEP_SAMPLES) -> int:
    """Where the kept second starts: the middle of the run of windows holding nearly the most energy."""
    if len(wave) <= keep:
        return 0
    energy = np.concatenate([[0.0], np.cumsum(np.square(wave, dtype=np.float64))])
    windows = energy[keep:] - energy[:-keep]
    best = int(np.argmax(windows))
    outside = np.flatnonzero(windows < windows[best] * NEAR_BEST)
    first = int(outside[outside < best].max()) + 1 if np.any(outside < best) else 0
    last = int(outside[outside > best].min()) - 1 if np.any(outside > best) else len(windows) - 1
    return (first + last) // 2


def keep_word(wave: np.ndarray, keep: int = KEEP_SAMPLES) -> np.ndarray:
    start = kept_start(wave, keep)
    clip = wave[start:start + keep]
    return np.pad(clip, (0, keep - len(clip))).astype(np.float32)


def dbfs(level: float) -> float:
    return 20.0 * float(np.log10(max(level, 1e-6)))


@dataclass(frozen=True)
class TakeLimits:
    """What a take must meet to be kept."""
    clip_level: float = 0.99   # a sample at or above this (of full scale) is clipped: too loud
    min_peak: float = 0.02     # the kept second must peak above this (-34 dBFS): else too quiet
    min_rise_db: float = 10.0  # its loudest 100 ms must stand this far above the take's quiet part


def take_problem(wave: np.ndarray, clip: np.ndarray, limits: TakeLimits) -> str | None:
    """Why the take cannot be kept (clipped, too quiet, no word above the noise), or None."""
    peak = float(np.max(np.abs(clip))) if clip.size else 0.0
    if peak >= limits.clip_level:
        return f"clipped (peak {dbfs(peak):.1f} dBFS): speak softer or further from the microphone"
    if peak < limits.min_peak:
        return (f"too quiet (peak {dbfs(peak):.0f} dBFS, needs {dbfs(limits.min_peak):.0f}): speak up or "
                f"closer, or check the microphone")
    frames = wave[:len(wave) // FRAME * FRAME].reshape(-1, FRAME)
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    rise = dbfs(float(rms.max())) - dbfs(float(np.percentile(rms, 10)))
    if rise < limits.min_rise_db:
        return f"no word heard above the background ({rise:.0f} dB over it, needs {limits.min_rise_db:.0f})"
    return None


# --- the session ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordPlan:
    words: list[str]
    takes: int = 20
    seconds: float = 2.0   # recorded per take; one second of it is kept
    pause: float = 0.5     # before each prompt: a breath between takes, and stale audio dropped
    retries: int = 3       # re-asks of a refused take before the session stops
    limits: TakeLimits = field(default_factory=TakeLimits)


class BlockReader:
    """Exactly n samples at a time from an iterable of blocks of any size."""

    def __init__(self, source: Iterable[np.ndarray]):
        self.blocks: Iterator[np.ndarray] = iter(source)
        self.left = np.zeros(0, np.float32)

    def read(self, n: int, on_block=None) -> np.ndarray | None:
        """n samples (each new block shown to `on_block`), or None when the source ends first."""
        parts, have = [self.left], len(self.left)
        while have < n:
            block = next(self.blocks, None)
            if block is None:
                return None
            block = np.asarray(block, np.float32).reshape(-1)
            if on_block is not None:
                on_block(block)
            parts.append(block)
            have += len(block)
        data = np.concatenate(parts)
        self.left = data[n:]
        return data[:n]


def record_take(plan: RecordPlan, reader: BlockReader, out_dir: Path, speaker: str, word: str, take: int,
                view) -> Path | None:
    """Ask for one take until one is kept (the path), the source ends (None) or the retries run out."""
    problem = None
    for attempt in range(plan.retries + 1):
        if reader.read(round(plan.pause * SAMPLE_RATE)) is None:
            return None
        view.prompt(word, take, plan.takes, attempt)
        wave = reader.read(round(plan.seconds * SAMPLE_RATE), view.level)
        if wave is None:
            return None
        clip = keep_word(wave)
        problem = take_problem(wave, clip, plan.limits)
        if problem is None:
            path = write_take(out_dir, word, speaker, clip)
            view.kept(path, clip)
            return path
        view.refused(problem, attempt < plan.retries)
    raise RecordError(f"take {take}/{plan.takes} of '{word}' refused {plan.retries + 1} times, last: {problem}; "
                      f"check the microphone and its input level (list_devices=true, device=...)")


def record_session(plan: RecordPlan, source: Iterable[np.ndarray], out_dir: Path, speaker: str, view,
                   written: list[Path]) -> bool:
    """Record every take of every word, appending each file to `written` as it lands.

    True when all were recorded; False when the source ended or Ctrl-C came first (the takes
    written stay). A take refused too often raises RecordError (the ones written stay too).
    """
    reader = BlockReader(source)
    try:
        for word in plan.words:
            for take in range(1, plan.takes + 1):
                path = record_take(plan, reader, out_dir, speaker, word, take, view)
                if path is None:
                    return False
                written.append(path)
    except KeyboardInterrupt:
        return False
    return True
