"""Batches drawn by index from a split's waveform tensor, on whatever device holds it."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from speechseq.data.splits import SILENCE_INDEX, NoiseBank, SplitData


def gather_batch(split: SplitData, indices: torch.Tensor, noise: NoiseBank,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Float waveforms (B, samples) and labels (B,) for `indices` (on the waves' device).

    Silence slots become background-noise segments at a uniform random gain in [0, 1],
    computed for every row and selected with `where` so nothing waits on the device.
    """
    is_silence = indices == SILENCE_INDEX
    safe = indices.clamp_min(0)
    waves = split.waves[safe].float() * (1.0 / 32767.0)
    labels = split.labels[safe]
    if split.n_silence:
        gains = torch.rand(len(indices), 1, generator=generator, device=waves.device)
        silence = noise.sample(len(indices), generator=generator, device=waves.device) * gains
        waves = torch.where(is_silence[:, None], silence, waves)
        labels = torch.where(is_silence, torch.full_like(labels, split.silence_label), labels)
    return waves, labels


def batch_indices(indices: np.ndarray, batch_size: int, shuffle_rng: np.random.Generator | None,
                  rank: int = 0, world_size: int = 1, drop_last: bool = False) -> Iterator[np.ndarray]:
    """Shuffle (when given an rng), give this rank its shard, and cut into batches.

    Every rank shuffles with the same rng, so shards are disjoint; each shard is cut to the
    same length so all ranks take the same number of steps (DDP needs that).
    """
    order = indices[shuffle_rng.permutation(len(indices))] if shuffle_rng is not None else indices
    if world_size > 1:
        per_rank = len(order) // world_size
        order = order[rank::world_size][:per_rank]
    stop = len(order) - (len(order) % batch_size if drop_last else 0)
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]
