"""From a plan of what to say (text, engine, voice, speed, pitch, kind) to one-second int16 windows.

Every random choice is drawn from the seed: the plan from one generator, each window's offset and
piper's noise scales from a generator of its own (seed, index), piper's sampling noise from
onnxruntime seeded before its voices load. espeak-ng and flite draw nothing, so a plan renders to
the same samples on every run; piper does too when its items run in plan order, one at a time.
"""

from __future__ import annotations

import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

from speechseq.data.tts.windows import WINDOW, to_window
from speechseq.progress import Progress

log = logging.getLogger(__name__)

SPEED_RANGE = (0.8, 1.25)   # speaking rate factors (1: the voice's own)
PITCH_RANGE = (0.85, 1.2)   # pitch factors
SUBPROCESS_WORKERS = 2      # espeak-ng and flite calls at once (each is its own process)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (espeak-ng, flite): a machine's load hardly changes it."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def voice_table(engines: Sequence) -> list[tuple[str, list[str]]]:
    """(engine name, its voices) for each engine."""
    return [(e.name, e.voices()) for e in engines]


def draw_voice(table: list[tuple[str, list[str]]], rng: np.random.Generator) -> tuple[str, str]:
    """An engine, each equally likely, then one of its voices."""
    name, voices = table[int(rng.integers(len(table)))]
    return name, voices[int(rng.integers(len(voices)))]


def draw_factor(bounds: tuple[float, float], rng: np.random.Generator) -> float:
    """A factor drawn evenly on a log scale (as many slower-than-1 as faster), rounded for the manifest."""
    return round(math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1]))), 3)


def item_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(index), 7])


def _render_one(speaker, item: dict, seed: int, index: int) -> tuple[np.ndarray, int]:
    rng = item_rng(seed, index)
    speech = speaker.speak(item["text"], item["voice"], item["speed"], item["pitch"], rng)
    return to_window(speech, rng, partial=item["kind"] == "partial")


def render(items: list[dict], engines: Sequence, seed: int, progress: bool = True,
           desc: str = "text-to-speech") -> tuple[np.ndarray, dict[str, dict]]:
    """(windows (N, 16000) int16, per engine {"clips", "seconds", "cpu_seconds"}); sets each item's "offset".

    Engines run one after another, so each one's time is its own: espeak-ng and flite with
    SUBPROCESS_WORKERS calls at once, piper in plan order in this thread.
    """
    waves = np.zeros((len(items), WINDOW), np.int16)
    timing: dict[str, dict] = {}
    bar = Progress(range(len(items)), total=len(items), desc=desc, unit="clip", enabled=progress, logger=log)
    ticks = iter(bar)
    try:
        _render_engines(items, engines, seed, waves, timing, ticks)
        for _ in ticks:  # lets the bar close (or log its line) once every clip is done
            pass
    finally:
        bar.close()
    return waves, timing


def _render_engines(items: list[dict], engines: Sequence, seed: int, waves: np.ndarray, timing: dict,
                    ticks) -> None:
    for engine in engines:
        indices = [i for i, item in enumerate(items) if item["engine"] == engine.name]
        if not indices:
            continue
        start, cpu_start = time.perf_counter(), cpu_seconds()
        speaker = engine.open(seed)
        if engine.name == "piper":
            results = (_render_one(speaker, items[i], seed, i) for i in indices)
            _collect(indices, results, items, waves, ticks)
        else:
            with ThreadPoolExecutor(SUBPROCESS_WORKERS) as pool:
                results = pool.map(lambda i: _render_one(speaker, items[i], seed, i), indices)
                _collect(indices, results, items, waves, ticks)
        timing[engine.name] = {"clips": len(indices), "seconds": round(time.perf_counter() - start, 2),
                               "cpu_seconds": round(cpu_seconds() - cpu_start, 2)}


def _collect(indices: list[int], results, items: list[dict], waves: np.ndarray, ticks) -> None:
    for i, (window, offset) in zip(indices, results):
        waves[i] = window
        items[i]["offset"] = int(offset)
        next(ticks, None)
