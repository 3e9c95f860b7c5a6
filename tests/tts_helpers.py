"""A stand-in text-to-speech engine for the tests: tones whose pitch and length follow the text,
voice, speed and pitch, counting every call (so a test can tell the cache from the engine)."""

from __future__ import annotations

import shutil
import zlib

import numpy as np
import pytest

from speechseq.data.tts import engines

SR = 16000


class FakeEngine:
    name = "fake"
    calls: list[str] = []  # appended from the render threads (list.append is atomic)

    @staticmethod
    def available() -> bool:
        return True

    def voices(self) -> list[str]:
        return ["low", "high"]

    def version(self) -> str:
        return "fake 1"

    def open(self, seed: int) -> "FakeEngine":
        return self

    def speak(self, text: str, voice: str, speed: float, pitch: float, rng: np.random.Generator) -> np.ndarray:
        FakeEngine.calls.append(text)
        n = int(SR * (0.15 + 0.06 * len(text)) / speed)
        f0 = (150 + zlib.crc32(text.encode()) % 200) * pitch * (2.0 if voice == "high" else 1.0)
        t = np.arange(n) / SR
        return (0.3 * np.sin(2 * np.pi * f0 * t) * (1 + 0.1 * rng.standard_normal(n))).astype(np.float32)


@pytest.fixture
def fake_engine(monkeypatch):
    """The fake engine as the only one installed (`auto` finds it alone); its call list emptied."""
    monkeypatch.setitem(engines.ENGINE_CLASSES, "fake", FakeEngine)
    monkeypatch.setattr(engines, "ENGINE_NAMES", ("fake",))
    FakeEngine.calls = []
    return FakeEngine


@pytest.fixture
def no_engines(monkeypatch):
    """Pretend no engine is installed: no programs on PATH, piper not importable."""
    monkeypatch.setenv("PATH", "")
    monkeypatch.setitem(__import__("sys").modules, "piper", None)


needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")
needs_piper = pytest.mark.skipif(not engines.PiperEngine.available(), reason="piper-tts or its voice not installed")
