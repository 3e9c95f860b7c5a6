"""Positives of a user's own word spoken from its spelling by many voices, speeds and pitches (as
openWakeWord builds its custom words), and written once as FLAC takes into a cache folder.

    >>> waves, manifest = synthetic_takes("lights_on", n=20, seed=0)   # doctest: +SKIP
    >>> manifest[0]["text"], waves.shape                              # doctest: +SKIP
    ('lights on', (20, 16000))
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from speechseq.audio import SAMPLE_RATE
from speechseq.data.tts import render
from speechseq.data.tts.engines import resolve_engines
from speechseq.fsutil import atomic_write_text

FORMAT = 1
MANIFEST = "manifest.json"  # written last: a folder without it is unfinished and made again


def spoken_text(word: str) -> str:
    """The text an engine says for a word folder's name: `lights_on` -> "lights on"."""
    return " ".join(word.replace("_", " ").replace("-", " ").split())


def plan_takes(text: str, n: int, seed: int, table: list[tuple[str, list[str]]]) -> list[dict]:
    rng = np.random.default_rng([int(seed), 1])
    items = []
    for _ in range(n):
        engine, voice = render.draw_voice(table, rng)
        items.append({"text": spoken_text(text), "engine": engine, "voice": voice,
                      "speed": render.draw_factor(render.SPEED_RANGE, rng),
                      "pitch": render.draw_factor(render.PITCH_RANGE, rng), "kind": "take"})
    return items


def synthetic_takes(text: str, n: int, seed: int = 0, engines: str | Sequence[str] = "auto",
                    progress: bool = False) -> tuple[np.ndarray, list[dict]]:
    """`n` one-second int16 windows of `text` (a word folder's name or plain text) and their manifest.

    Each take: an engine (each installed one equally likely), one of its voices, a speed and pitch
    factor, the word at a random offset, loudness normalised; the same for a seed. A missing engine
    asked for by name (or none at all with "auto") is an EngineMissingError naming the package.
    """
    if n < 1:
        raise ValueError(f"n={n}: ask for at least one take")
    chosen = resolve_engines(engines)
    items = plan_takes(text, n, seed, render.voice_table(chosen))
    waves, _ = render.render(items, chosen, seed, progress, desc=f"synthetic takes of {spoken_text(text)!r}")
    return waves, items


def takes_key(text: str, n: int, seed: int, engines: Sequence) -> str:
    spec = {"format": FORMAT, "text": spoken_text(text), "n": int(n), "seed": int(seed),
            "speed": render.SPEED_RANGE, "pitch": render.PITCH_RANGE,
            "engines": {e.name: {"version": e.version(), "voices": e.voices()} for e in engines}}
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def cached_takes(folder: Path, n: int) -> list[Path] | None:
    """The takes of a finished folder, or None."""
    try:
        names = json.loads((folder / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError):
        return None
    paths = [folder / name for name in names]
    return paths if len(paths) == n and all(p.is_file() for p in paths) else None


def write_takes(word: str, n: int, cache_dir: str | Path, seed: int = 0,
                engines: str | Sequence[str] = "auto", progress: bool = True) -> list[Path]:
    """`n` synthetic takes of `word` as 16 kHz FLAC files under `cache_dir/tts/`, made once per recipe."""
    chosen = resolve_engines(engines)
    folder = Path(cache_dir).expanduser() / "tts" / f"takes_{word}_{takes_key(word, n, seed, chosen)}"
    found = cached_takes(folder, n)
    if found is not None:
        return found
    waves, items = synthetic_takes(word, n, seed, [e.name for e in chosen], progress)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # written in a folder of its own and renamed into place whole, so two runs making the same takes at
    # once (two trainings, DDP ranks) never write into or delete each other's folder
    private = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    os.chmod(private, 0o755)  # mkdtemp makes 0700; a shared cache is read by others
    try:
        names = []
        for i, (wave, item) in enumerate(zip(waves, items)):
            name = f"tts_{i:04d}_{item['engine']}.flac"
            sf.write(private / name, wave, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
            names.append(name)
        atomic_write_text(private / MANIFEST, json.dumps({"files": names, "takes": items}, indent=1))
        return _publish(private, folder, n)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _publish(private: Path, folder: Path, n: int) -> list[Path]:
    """Rename the finished `private` folder to `folder`, unless another run has published it first."""
    for _ in range(3):
        try:
            os.rename(private, folder)
            return cached_takes(folder, n)
        except OSError:  # folder exists: another run's finished takes, or an unfinished folder left by a crash
            found = cached_takes(folder, n)
            if found is not None:
                return found
            shutil.rmtree(folder, ignore_errors=True)
    raise OSError(f"cannot publish synthetic takes to {folder}")
