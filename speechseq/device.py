"""Device choice, CPU threads and seeding: shared by training, evaluation and the benchmarks."""

from __future__ import annotations

import random

import numpy as np
import torch


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"trainer.device={name} but CUDA is not available here; use trainer.device=cpu or auto")
    if name == "cuda":
        return torch.device(f"cuda:{local_rank}")
    return torch.device(name)


def configure_threads(num_threads: int) -> None:
    if num_threads > 0:
        torch.set_num_threads(num_threads)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
