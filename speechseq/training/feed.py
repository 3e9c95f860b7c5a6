"""The training feed: index batches -> (features, labels, weights) ready for the update.

On a CPU with a core the training step leaves idle (`trainer.num_threads=1` on 2 cores), the
next batch's augmentation and log-mel run in a background thread while this batch trains
(`trainer.prefetch`). Every random draw of the feed comes from one generator per epoch, so a run
with the feed ahead ends with the same weights as one without it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterable, Iterator

import numpy as np
import torch

from speechseq.config import PREFETCH_MODES
from speechseq.data.loader import BatchSource, normalize_mode
from speechseq.data.prefetch import Ahead
from speechseq.training.step import TrainStep


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def use_prefetch(mode, device: torch.device) -> bool:
    """auto: on for CPU training that leaves a core free; true is refused on CUDA (its copies overlap already)."""
    mode = normalize_mode(mode)
    if mode not in PREFETCH_MODES:
        raise ValueError(f"trainer.prefetch={mode!r}: choose auto, true or false")
    if mode == "true" and device.type != "cpu":
        raise ValueError("trainer.prefetch=true prepares batches on a spare CPU core: it is for CPU training "
                         f"(device here: {device}); on CUDA the batch source already overlaps copies with compute")
    if mode == "auto":
        return device.type == "cpu" and torch.get_num_threads() < available_cores()
    return mode == "true"


def epoch_generator(seed: int, epoch: int, rank: int, device: torch.device) -> torch.Generator | None:
    """The feed's random source for one epoch on a CPU; None on CUDA (the device's global one, seeded per epoch)."""
    if device.type != "cpu":
        return None
    return torch.Generator().manual_seed(seed * 100003 + epoch * 1009 + rank + 7919)


@contextmanager
def feature_batches(step: TrainStep, source: BatchSource, batches: Iterable[np.ndarray],
                    generator: torch.Generator | None, prefetch: bool) -> Iterator[Iterator[tuple]]:
    """Yields an iterator of (features, labels, weights, soft targets); ahead in a thread when `prefetch`."""
    prepared = (step.features(waves, labels, generator) for waves, labels in source(batches, generator))
    if not prefetch:
        yield prepared
        return
    with Ahead(prepared, depth=2, name="feature-prefetch") as ahead:
        yield ahead
