"""Shared fixtures: a tiny synthetic Speech Commands folder written by the tests themselves."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from speechseq.config import PACKAGE_CONF_DIR, register_configs
from speechseq.labels import COMMANDS_10

SR = 16000
REPO = Path(__file__).resolve().parents[1]
# SPEECHSEQ_MINI points elsewhere when the repository is not next to shared/ (e.g. a git worktree).
MINI = Path(os.environ.get("SPEECHSEQ_MINI") or REPO.parent / "shared" / "data" / "speech_commands_mini")
FILLERS = ("cat", "dog", "bed")
# SPEECHSEQ_VMIC: the virtual-microphone script (PulseAudio null sink) when shared/ is elsewhere.
VMIC = Path(os.environ.get("SPEECHSEQ_VMIC") or REPO.parent / "shared" / "tools" / "vmic.sh")


def word_tone(word_index: int, rng: np.random.Generator, seconds: float = 1.0) -> np.ndarray:
    """A word-specific two-tone 'utterance' with random timing and level, over faint noise."""
    n = int(SR * seconds)
    t = np.arange(n) / SR
    f1, f2 = 200 + 170 * word_index, 300 + 230 * ((word_index * 7) % 13)
    onset = rng.uniform(0.05, 0.3)
    env = np.clip((t - onset) / 0.05, 0, 1) * np.clip((onset + 0.55 - t) / 0.05, 0, 1)
    wave = env * (np.sin(2 * np.pi * f1 * t) + 0.6 * np.sin(2 * np.pi * f2 * t)) * rng.uniform(0.2, 0.5)
    return (wave + rng.normal(0, 0.003, n)).astype(np.float32)


def write_synthetic_dataset(root: Path, clips_per_word: int = 10, seed: int = 0,
                            words: tuple[str, ...] = COMMANDS_10 + FILLERS, lists: bool = True) -> Path:
    """Speech Commands layout: <word>/<speaker>_nohash_<n>.wav, lists, _background_noise_."""
    rng = np.random.default_rng(seed)
    val, test = [], []
    for wi, word in enumerate(words):
        (root / word).mkdir(parents=True, exist_ok=True)
        for k in range(clips_per_word):
            speaker = f"{(wi * 1000 + k) * 2654435761 % 2**32:08x}"
            rel = f"{word}/{speaker}_nohash_0.wav"
            sf.write(root / rel, word_tone(wi, rng), SR, subtype="PCM_16")
            if k % 5 == 1:
                val.append(rel)
            elif k % 5 == 2:
                test.append(rel)
    noise_dir = root / "_background_noise_"
    noise_dir.mkdir(exist_ok=True)
    sf.write(noise_dir / "white_noise.wav", rng.normal(0, 0.05, SR * 4).astype(np.float32), SR, subtype="PCM_16")
    if lists:
        (root / "validation_list.txt").write_text("\n".join(val) + "\n")
        (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    return root


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic_sc"))


@pytest.fixture(scope="module")
def vmic():
    """A PulseAudio virtual microphone (vmic.sh start), stopped when the module's tests end."""
    if not VMIC.is_file():
        pytest.skip(f"no virtual microphone script at {VMIC}")
    try:
        start = subprocess.run(["bash", str(VMIC), "start"], capture_output=True, text=True, timeout=600)
        assert start.returncode == 0, f"vmic.sh start failed: {start.stderr}"
        yield VMIC
    finally:
        subprocess.run(["bash", str(VMIC), "stop"], capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def mini_root() -> Path:
    if not (MINI / "testing_list.txt").is_file():
        pytest.skip(f"shared mini set not found at {MINI}")
    return MINI


def compose_config(name: str, overrides: list[str], output_dir: Path):
    register_configs()
    with initialize_config_dir(config_dir=str(PACKAGE_CONF_DIR), version_base="1.3"):
        cfg = compose(config_name=name, overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    return cfg


def tiny_train_overrides(root: Path, cache_dir: Path, epochs: int = 2) -> list[str]:
    return [f"data.root={root}", f"data.cache_dir={cache_dir}", f"trainer.max_epochs={epochs}",
            "trainer.batch_size=16", "trainer.device=cpu", "trainer.progress=false",
            "model.hidden_size=32", "model.num_layers=1", "optim.lr=0.01",
            # TensorFlow's milder noise recipe: a toy model learns the tones in a few epochs
            "augment=tf"]


@pytest.fixture
def train_cfg(synthetic_root, tmp_path):
    def make(*extra: str, epochs: int = 2, out: Path | None = None):
        return compose_config("train", tiny_train_overrides(synthetic_root, tmp_path / "cache", epochs) + list(extra),
                              out or tmp_path / "run")
    return make


@pytest.fixture(autouse=True)
def _one_thread_torch():
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    yield


def to_yaml(cfg) -> str:
    return OmegaConf.to_yaml(cfg)
