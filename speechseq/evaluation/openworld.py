"""The open-world report: how a model treats what is not a command, and commands where people live.

On one split of a folder laid out as ../shared/data/real_world (speechseq.data.real_world: split by
speaker, word, sound and room) and the same split of a Speech Commands folder:
- other words: other people's takes of other words (the loudest second of each), and the share
  taken for a command;
- sounds: 1 s pieces of recorded everyday noise (no speech) at levels over a wide range, and the
  share taken for a command;
- clean, in recorded noise at an SNR, in recorded rooms: the split's clips, plain and
  class-balanced accuracy;
- a stream of commands among other words and talk over recorded noise
  (speechseq.evaluation.openworld_stream).

`python -m speechseq.evaluation.openworld CHECKPOINT REAL_WORLD SPEECH_COMMANDS [--split validation]`
writes openworld.json and prints the table (scripts/openworld_report.sh runs it).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from speechseq.augment.rooms import put_in_rooms
from speechseq.data.real_world import RealWorldIndex, says_a_word
from speechseq.data.splits import NoiseBank, SplitData
from speechseq.data.windows import loudest_window
from speechseq.deploy.checkpoint import LoadedModel
from speechseq.evaluation.inference import evaluation_indices, predict_split
from speechseq.evaluation.metrics import classification_report
from speechseq.evaluation.noise import NoiseAtSnr
from speechseq.features.logmel import frontend_module
from speechseq.labels import SILENCE, UNKNOWN

log = logging.getLogger(__name__)
SOUND_DBFS = (-50.0, -15.0)   # sounds scored at RMS levels uniform in this range
WORD_FOLDERS = ("mycroft_precise",)


def balanced_accuracy(report: dict) -> float:
    """Mean recall over the classes with clips (every class weighs alike)."""
    recalls = [m["recall"] for m in report["per_class"].values() if m["support"] > 0]
    return float(np.mean(recalls)) if recalls else 0.0


@torch.no_grad()
def classify_waves(loaded: LoadedModel, waves: np.ndarray, batch: int = 256) -> np.ndarray:
    """Class probabilities of float clips (N, samples)."""
    model, frontend = loaded.model.eval(), frontend_module(loaded.frontend)
    out = [torch.softmax(model(frontend(torch.from_numpy(np.ascontiguousarray(waves[i:i + batch])))).float(), -1)
           for i in range(0, len(waves), batch)]
    return torch.cat(out).numpy() if out else np.zeros((0, len(loaded.labels)), np.float32)


def taken_for_commands(loaded: LoadedModel, waves: np.ndarray, sources: list[str]) -> dict:
    """How many clips the model's top class calls a command, overall, per command and per source."""
    labels = loaded.labels
    top = classify_waves(loaded, waves).argmax(1) if len(waves) else np.zeros(0, int)
    is_command = np.array([labels[k] not in (SILENCE, UNKNOWN) for k in top], bool)
    by_command: dict[str, int] = {}
    for k in top[is_command]:
        by_command[labels[k]] = by_command.get(labels[k], 0) + 1
    by_source: dict[str, list[int]] = {}
    for src, hit in zip(sources, is_command):
        cell = by_source.setdefault(src, [0, 0])
        cell[0] += int(hit)
        cell[1] += 1
    return {"n": int(len(top)), "as_command": int(is_command.sum()),
            "as_command_pct": 100.0 * float(is_command.mean()) if len(top) else 0.0,
            "by_command": dict(sorted(by_command.items(), key=lambda kv: -kv[1])),
            "by_source": {s: {"as_command": a, "n": n} for s, (a, n) in sorted(by_source.items())},
            "as_silence": int(sum(labels[k] == SILENCE for k in top))}


def other_word_clips(rw: RealWorldIndex, split: str, keywords: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """The loudest second of every take of another word (a transcript or a word folder says what)."""
    from speechseq.audio import AudioReadError, read_audio

    waves, sources = [], []
    for f in rw.select("speech", split):
        said = f.transcript if f.transcript is not None else (
            f.source.rsplit("/", 1)[-1] if any(m in f.source for m in WORD_FOLDERS) else None)
        if said is None or says_a_word(said, keywords):
            continue
        try:
            wave = read_audio(f.path)
        except AudioReadError:
            continue
        if len(wave) > 3 * 16000:  # a sentence, not a word: it belongs in the talk stream
            continue
        waves.append(loudest_window(wave, 16000))
        sources.append(f.source)
    return (np.stack(waves) if waves else np.zeros((0, 16000), np.float32)), sources


def sound_clips(rw: RealWorldIndex, split: str, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """1 s pieces of the split's recorded noise (NoiseBank's cut), each at an RMS level from SOUND_DBFS."""
    files = [f for f in rw.select("noise", split)]
    waves, sources = [], []
    for f in files:
        bank = NoiseBank.from_files([f.path], 16000, 16000)
        waves += list(bank.segments.numpy())
        sources += [f.source] * len(bank)
    if not waves:
        return np.zeros((0, 16000), np.float32), []
    arr = np.stack(waves)
    rms = np.sqrt(np.mean(np.square(arr, dtype=np.float64), axis=1)).clip(1e-9)
    target = 10 ** (np.random.default_rng(seed).uniform(*SOUND_DBFS, size=len(arr)) / 20)
    return np.clip(arr * (target / rms)[:, None], -1, 1).astype(np.float32), sources


def score_clips(loaded: LoadedModel, split: SplitData, noise: NoiseBank, seed: int = 0, transform=None,
                progress: bool = False) -> dict:
    """Plain and class-balanced accuracy of the split's evaluation clips (after `transform`)."""
    frontend = frontend_module(loaded.frontend)
    targets, probs = predict_split(loaded.model, frontend, split, evaluation_indices(split, seed), noise, 512,
                                   torch.device("cpu"), seed=seed, progress=progress, transform=transform)
    report = classification_report(targets, probs.argmax(1), loaded.labels)
    return {"accuracy": report["accuracy"], "balanced_accuracy": balanced_accuracy(report), "n": report["n"],
            "recall": {k: round(v["recall"], 4) for k, v in report["per_class"].items()}}


class InRecordedRooms:
    """A predict_split transform: every clip but silence through one of the bank's recorded rooms."""

    def __init__(self, bank, silence_label: int | None, seed: int):
        self.bank, self.silence_label = bank, silence_label
        self.generator = torch.Generator().manual_seed(int(seed) + 7_777)

    def __call__(self, waves: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        choice = torch.randint(len(self.bank), (len(waves),), generator=self.generator)
        use = labels != self.silence_label if self.silence_label is not None else torch.ones_like(labels, dtype=torch.bool)
        return put_in_rooms(waves, self.bank, use & (waves.square().sum(1) > 0), choice).clamp(-1, 1)


def clip_conditions(loaded: LoadedModel, split: SplitData, rw: RealWorldIndex, rw_split: str, dataset_noise: NoiseBank,
                    snr_db: float = 10.0, seed: int = 0) -> dict:
    """Clean, in the split's recorded noise at `snr_db`, and in its recorded rooms."""
    from speechseq.augment.rir_files import load_recorded_rirs

    out = {"clean": score_clips(loaded, split, dataset_noise, seed)}
    recorded = NoiseBank.from_files([f.path for f in rw.select("noise", rw_split)], 16000, 16000)
    if len(recorded):
        out[f"recorded_noise_{snr_db:g}db"] = score_clips(
            loaded, split, dataset_noise, seed, NoiseAtSnr(recorded, snr_db, split.silence_label, seed))
    rooms = rw.select("rirs", rw_split)
    if rooms:
        bank = load_recorded_rirs(rw.root / "rirs", 16000, split=rw_split).bank
        out["recorded_rooms"] = score_clips(loaded, split, dataset_noise, seed,
                                            InRecordedRooms(bank, split.silence_label, seed))
        out["recorded_rooms"]["rooms"] = len(bank)
    return out
