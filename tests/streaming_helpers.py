"""Numpy-only stand-ins for the streaming tests: a tone classifier and tone streams."""

from __future__ import annotations

import numpy as np

from speechseq.features.spec import FrontendSpec


def compose_app(name: str, overrides: list[str]):
    """A composed config for an app without an output folder (stream, listen)."""
    from hydra import compose, initialize_config_dir

    from speechseq.config import PACKAGE_CONF_DIR, register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(PACKAGE_CONF_DIR), version_base="1.3"):
        return compose(config_name=name, overrides=overrides)

SR = 16000
TONE_HZ = {"low": 300.0, "high": 5000.0}


class ToneClassifier:
    """Scores 'low' / 'high' from mean log-mel energy in low / high bands of the window.

    Deterministic, fast and torch-free: it exercises the loop, not a model.
    """

    labels = ["_silence_", "_unknown_", "low", "high"]
    frontend = FrontendSpec()

    def __init__(self):
        self.calls = 0

    def __call__(self, features: np.ndarray) -> np.ndarray:
        self.calls += 1
        low = features[:, :8].mean()
        high = features[:, 32:].mean()
        logits = np.array([0.0, -3.0, 2.0 * (low + 3.0), 3.0 * (high + 2.5)])
        e = np.exp(logits - logits.max())
        return e / e.sum()


def tone_stream(words: list[str], gap_s: float = 2.0, word_s: float = 0.8, lead_s: float = 1.5,
                seed: int = 0) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """Tones for `words` ('low'/'high') every `gap_s` over faint noise; (wave, [(word, start_ms)])."""
    rng = np.random.default_rng(seed)
    total = lead_s + gap_s * len(words) + 1.5
    wave = rng.normal(0, 0.003, int(total * SR)).astype(np.float32)
    t = np.arange(int(word_s * SR)) / SR
    starts = []
    for i, word in enumerate(words):
        start = int((lead_s + i * gap_s) * SR)
        wave[start:start + len(t)] += (0.3 * np.sin(2 * np.pi * TONE_HZ[word] * t)).astype(np.float32)
        starts.append((word, start * 1000 / SR))
    return wave, starts
