"""Synthetic negatives (`_unknown_`): a corpus of one-second windows of text-to-speech, generated
once and cached under `cache_dir/tts/`, keyed by its recipe.

    >>> waves, manifest = synthetic_negatives("~/.cache/speechseq", seed=0, n_clips=200)  # doctest: +SKIP
    >>> waves.shape, waves.dtype, manifest[0]["kind"]                                     # doctest: +SKIP
    ((200, 16000), dtype('int16'), 'near_miss')

What it says (vocabulary.py): near-misses of the ten commands (40 %), general English words (30 %),
two-word phrases (15 %) and partial words, a word or phrase cut by the window's edge so only
30-70 % of it is heard (15 %). Who says it: each clip an engine (each installed one equally
likely), one of its voices, a speed and a pitch factor, drawn from the seed (render.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from speechseq.data.tts import render, windows
from speechseq.data.tts.engines import resolve_engines
from speechseq.data.tts.vocabulary import general_vocabulary, near_miss_words, vocabulary_digest
from speechseq.fsutil import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

FORMAT = 1  # in the key: a change to how windows are made makes a new corpus
DEFAULT_CLIPS = 4000
SHARES = (("near_miss", 0.40), ("general", 0.30), ("two_word", 0.15), ("partial", 0.15))
KINDS = tuple(kind for kind, _ in SHARES)
PARTIAL_MIN_LETTERS = 6  # a partial window cuts a longer word (or a phrase), so a part of it is a part


@dataclass
class Corpus:
    waves: np.ndarray            # (N, 16000) int16; a read-only memory map when read from the cache
    manifest: list[dict]         # per window: text, engine, voice, speed, pitch, kind, offset
    info: dict = field(default_factory=dict)  # the recipe, per-engine timing, where it is cached
    from_cache: bool = False


def kind_counts(n_clips: int) -> dict[str, int]:
    """Clips of each kind for SHARES (largest remainders, so they add up to n_clips)."""
    exact = [n_clips * share for _, share in SHARES]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[: n_clips - sum(counts)]:
        counts[i] += 1
    return dict(zip(KINDS, counts))


def _draw_text(kind: str, rng: np.random.Generator, near: dict[str, tuple[str, ...]],
               general: tuple[str, ...]) -> str:
    def word() -> str:
        if rng.random() < 0.5:
            return general[int(rng.integers(len(general)))]
        return near_miss()

    def near_miss() -> str:
        words = list(near.values())[int(rng.integers(len(near)))]
        return words[int(rng.integers(len(words)))]

    if kind == "near_miss":
        return near_miss()
    if kind == "general":
        return general[int(rng.integers(len(general)))]
    if kind == "two_word" or rng.random() < 0.5:
        return f"{word()} {word()}"
    longer = [w for w in general if len(w) >= PARTIAL_MIN_LETTERS]
    return longer[int(rng.integers(len(longer)))]


def plan_negatives(n_clips: int, seed: int, table: list[tuple[str, list[str]]],
                   exclude: Sequence[str] = ()) -> list[dict]:
    """What each window says and who says it, drawn from `seed`, in a shuffled order (any prefix is a mix)."""
    rng = np.random.default_rng(seed)
    near = {c: w for c, w in near_miss_words(tuple(exclude)).items() if w}
    general = general_vocabulary(tuple(exclude))
    items = []
    for kind, count in kind_counts(n_clips).items():
        for _ in range(count):
            engine, voice = render.draw_voice(table, rng)
            items.append({"text": _draw_text(kind, rng, near, general), "engine": engine, "voice": voice,
                          "speed": render.draw_factor(render.SPEED_RANGE, rng),
                          "pitch": render.draw_factor(render.PITCH_RANGE, rng), "kind": kind})
    return [items[i] for i in rng.permutation(len(items))]


def recipe(n_clips: int, seed: int, engines: Sequence, exclude: Sequence[str] = ()) -> dict:
    """Everything the corpus depends on; its hash names the cache files."""
    return {"format": FORMAT, "n_clips": int(n_clips), "seed": int(seed), "shares": dict(SHARES),
            "speed": render.SPEED_RANGE, "pitch": render.PITCH_RANGE,
            "window": {"target_rms_dbfs": windows.TARGET_RMS_DBFS, "partial_kept": windows.PARTIAL_KEPT},
            "engines": {e.name: {"version": e.version(), "voices": e.voices()} for e in engines},
            "vocabulary": vocabulary_digest(tuple(exclude)), "exclude": sorted(exclude)}


def recipe_key(spec: dict) -> str:
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def cache_files(cache_dir: str | Path, key: str) -> tuple[Path, Path]:
    folder = Path(cache_dir).expanduser() / "tts"
    return folder / f"negatives_{key}.npy", folder / f"negatives_{key}.json"


def read_cached(wave_file: Path, meta_file: Path, n_clips: int) -> Corpus | None:
    if not (wave_file.is_file() and meta_file.is_file()):
        return None
    try:
        meta = json.loads(meta_file.read_text())
        waves = np.load(wave_file, mmap_mode="r")
        if waves.shape == (n_clips, windows.WINDOW) and len(meta["manifest"]) == n_clips:
            return Corpus(waves, meta["manifest"], meta["info"], from_cache=True)
    except (OSError, ValueError, KeyError):
        pass
    log.warning("synthetic speech cache %s is damaged; generating it again", wave_file)
    return None


def write_cache(corpus: Corpus, wave_file: Path, meta_file: Path) -> None:
    try:
        wave_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(wave_file) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, corpus.waves)
        atomic_write_text(meta_file, json.dumps({"manifest": corpus.manifest, "info": corpus.info}))
    except OSError as exc:  # a read-only or full disk only costs generating it again next time
        log.warning("could not cache the synthetic speech in %s (%s); continuing without it", wave_file.parent, exc)


def build_negatives(cache_dir: str | Path | None, seed: int = 0, n_clips: int = DEFAULT_CLIPS,
                    engines: str | Sequence[str] = "auto", progress: bool = True,
                    exclude: Sequence[str] = ()) -> Corpus:
    """The corpus from the cache when its recipe matches, else generated (and cached when `cache_dir`)."""
    if n_clips < 1:
        raise ValueError(f"n_clips={n_clips}: ask for at least one clip")
    chosen = resolve_engines(engines)
    spec = recipe(n_clips, seed, chosen, exclude)
    key = recipe_key(spec)
    files = cache_files(cache_dir, key) if cache_dir is not None else None
    cached = read_cached(*files, n_clips) if files else None
    if cached is not None:
        return cached
    items = plan_negatives(n_clips, seed, render.voice_table(chosen), exclude)
    waves, timing = render.render(items, chosen, seed, progress, desc="synthetic negatives")
    info = {"recipe": spec, "key": key, "timing": timing, "path": str(files[0]) if files else None}
    corpus = Corpus(waves, items, info)
    if files:
        write_cache(corpus, *files)
    return corpus


def synthetic_negatives(cache_dir: str | Path | None, seed: int = 0, n_clips: int = DEFAULT_CLIPS,
                        engines: str | Sequence[str] = "auto", progress: bool = True,
                        exclude: Sequence[str] = ()) -> tuple[np.ndarray, list[dict]]:
    """`n_clips` one-second windows of synthetic speech that is no command, for `_unknown_`.

    Returns (waves: (n_clips, 16000) int16 at 16 kHz, manifest: one dict per window with text,
    engine, voice, speed, pitch, kind (near_miss | general | two_word | partial) and offset, the
    sample where the trimmed speech starts, negative when cut off). Drawn from `seed`; generated
    once and read from `cache_dir/tts/` afterwards (None: not cached). `engines`: "auto" (every
    installed one), or names among espeak, flite, piper; a missing one is an EngineMissingError
    naming the package. `exclude`: further words never said (a model's own words, e.g. "lights_on").
    """
    corpus = build_negatives(cache_dir, seed, n_clips, engines, progress, exclude)
    return corpus.waves, corpus.manifest


def describe_corpus(corpus: Corpus) -> str:
    """What `speechseq-data tts` prints: where the corpus is, what it holds, how fast it was made."""
    counts: dict[str, dict[str, int]] = {}
    for item in corpus.manifest:
        by_kind = counts.setdefault(item["engine"], {})
        by_kind[item["kind"]] = by_kind.get(item["kind"], 0) + 1
    made = "read from the cache" if corpus.from_cache else "generated"
    lines = [f"{len(corpus.manifest)} synthetic negatives {made}: {corpus.info.get('path') or '(not cached)'}"]
    for engine, timing in corpus.info.get("timing", {}).items():
        rate = timing["clips"] / timing["seconds"] if timing["seconds"] else float("inf")
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(counts.get(engine, {}).items()))
        cpu = timing.get("cpu_seconds")
        lines.append(f"  {engine}: {timing['clips']} clips in {timing['seconds']:.1f} s ({rate:.1f} clips/s"
                     + (f", {cpu:.1f} CPU s" if cpu is not None else "") + f"); {kinds}")
    return "\n".join(lines)
