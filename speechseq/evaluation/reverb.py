"""Scoring in rooms (far field): the same clips heard from across a room, at given reverberation times.

Each RT60 gets the bank `augment.rooms.reverberate` builds for it (`rooms` simulated shoeboxes,
talker `distance` metres from the microphone, seeded by `seed`, cached under cache_dir), and every
speech clip goes through one of its rooms, drawn per clip from a generator seeded by (seed, RT60),
so a score is the same on every run. With SNRs the reverberant clips are also scored with
background noise mixed in after the room, as training does; the noise segments are those of the
plain noise score at that SNR, so the two rows differ by the room only. Silence slots are left as
they are: there is no talker in them to reverberate.
"""

from __future__ import annotations

from pathlib import Path

import torch

from speechseq.augment.rir_bank import RirBank, RoomSpec, is_cached, load_or_build_bank
from speechseq.augment.rooms import put_in_rooms
from speechseq.data.splits import NoiseBank, SplitData
from speechseq.deploy.checkpoint import LoadedModel
from speechseq.evaluation.inference import evaluation_indices, predict_split
from speechseq.evaluation.metrics import classification_report, headline_scores
from speechseq.evaluation.noise import NoiseAtSnr, accuracy_table_lines
from speechseq.features.logmel import frontend_module

CPU = torch.device("cpu")


def room_spec(rt60: float, distance, rooms: int, seed: int, sample_rate: int = 16000,
              clip_samples: int = 16000) -> RoomSpec:
    """The rooms of one RT60 that clips are scored in (the spec `reverberate` uses too: same cache file)."""
    return RoomSpec(size=int(rooms), rt60=(float(rt60), float(rt60)), distance=(float(distance[0]), float(distance[1])),
                    seed=int(seed), sample_rate=int(sample_rate), max_seconds=max(1.0, clip_samples / sample_rate))


def room_bank(rt60: float, distance, rooms: int, seed: int, sample_rate: int = 16000, clip_samples: int = 16000,
              cache_dir: str | Path | None = None) -> RirBank:
    """The bank `reverberate(clips, rt60, seed, distance, rooms, sample_rate, cache_dir)` uses (same cache file)."""
    return load_or_build_bank(room_spec(rt60, distance, rooms, seed, sample_rate, clip_samples), cache_dir)


def banks_to_simulate(rt60s, cache_dir: str | Path | None, seed: int = 0, distance=(1.0, 4.0), rooms: int = 200,
                      sample_rate: int = 16000, clip_samples: int = 16000) -> int:
    """How many of the RT60s' room banks scoring would have to simulate (not cached yet)."""
    return sum(not is_cached(room_spec(r, distance, rooms, seed, sample_rate, clip_samples), cache_dir) for r in rt60s)


class RoomsAt:
    """A predict_split transform: every non-silence clip through one room of `bank`, drawn per clip."""

    def __init__(self, bank: RirBank, rt60: float, silence_label: int | None, seed: int):
        self.bank, self.silence_label = bank, silence_label
        # the same (seed, RT60) gives the same rooms to the same clips, with noise or without
        self.generator = torch.Generator().manual_seed(int(seed) * 100_003 + round(float(rt60) * 1000))

    def __call__(self, waves: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.bank.rirs.device != waves.device:
            self.bank = self.bank.to(waves.device)
        choice = torch.randint(len(self.bank), (len(waves),), generator=self.generator).to(waves.device)
        silence = labels == self.silence_label if self.silence_label is not None else torch.zeros_like(labels, dtype=torch.bool)
        in_room = ~silence & (waves.square().sum(1) > 0)
        wet = put_in_rooms(waves, self.bank, in_room, choice)
        return torch.where(in_room[:, None], wet.clamp(-1.0, 1.0), waves)  # a recording stops at full scale


def in_sequence(*transforms):
    """One predict_split transform that applies `transforms` in order (room first, then noise)."""
    def apply(waves: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        for transform in transforms:
            waves = transform(waves, labels)
        return waves
    return apply


def score_in_rooms(model: torch.nn.Module, frontend: torch.nn.Module, labels: list[str], split: SplitData, noise: NoiseBank,
                   rt60s, distance=(1.0, 4.0), rooms: int = 200, snrs=(), device: torch.device = CPU,
                   batch_size: int = 512, seed: int = 0, progress: bool = False, sample_rate: int = 16000,
                   cache_dir: str | Path | None = None) -> list[dict]:
    """Per RT60 a row in the room alone, then one per SNR in the room with noise (none without noise):
    {rt60_s, distance_m: [lo, hi], snr_db (None: no noise), accuracy, balanced_accuracy (with their _ci), macro_f1, n}."""
    indices = evaluation_indices(split, seed)
    with_noise = [float(s) for s in snrs] if len(noise) else []
    rows = []
    for rt60 in rt60s:
        bank = room_bank(rt60, distance, rooms, seed, sample_rate, split.waves.shape[1], cache_dir)
        for snr in [None, *with_noise]:
            transform = RoomsAt(bank, rt60, split.silence_label, seed)
            if snr is not None:
                transform = in_sequence(transform, NoiseAtSnr(noise, snr, split.silence_label, seed))
            targets, probs = predict_split(model, frontend, split, indices, noise, batch_size, device, seed=seed,
                                           progress=progress, transform=transform)
            report = classification_report(targets, probs.argmax(1), labels)
            rows.append({"rt60_s": float(rt60), "distance_m": [float(distance[0]), float(distance[1])],
                         "snr_db": snr, **headline_scores(report)})
    return rows


def add_reverb_scores(report: dict, loaded: LoadedModel, split: SplitData, noise: NoiseBank, rt60s,
                      distance=(1.0, 4.0), rooms: int = 200, snrs=(), device: torch.device = CPU,
                      batch_size: int = 512, seed: int = 0, progress: bool = True,
                      cache_dir: str | Path | None = None) -> None:
    """report["reverb"]: the split scored again in rooms of each RT60 in `rt60s` (s), alone and with
    background noise at each SNR in `snrs` (dB); nothing when `rt60s` is empty."""
    if not len(rt60s):
        return
    frontend = frontend_module(loaded.frontend).to(device)
    report["reverb"] = score_in_rooms(loaded.model.to(device), frontend, loaded.labels, split, noise,
                                      [float(r) for r in rt60s], [float(d) for d in distance], int(rooms),
                                      [float(s) for s in snrs], device, batch_size, seed, progress,
                                      loaded.frontend.sample_rate, cache_dir)


def reverb_condition(row: dict) -> str:
    """'room RT60 0.6 s', with ' + 10.0 dB SNR' when noise was mixed in too."""
    room = f"room RT60 {row['rt60_s']:g} s"
    return room if row["snr_db"] is None else f"{room} + {round(row['snr_db'], 1)} dB SNR"


def format_reverb_table(clean_accuracy: float, rows: list[dict], clean_balanced: float | None = None) -> str:
    """Accuracy per room condition; a class-balanced column too when given the clean figure and rows that have it."""
    low, high = rows[0]["distance_m"] if rows else (0.0, 0.0)
    balanced = clean_balanced is not None and all("balanced_accuracy" in r for r in rows)
    return "\n".join(accuracy_table_lines(f"condition (talker {low:g}-{high:g} m away)",
                                          ["clean", *(reverb_condition(r) for r in rows)],
                                          [clean_accuracy, *(r["accuracy"] for r in rows)],
                                          [clean_balanced, *(r["balanced_accuracy"] for r in rows)] if balanced else None))
