"""speechseq-bench's inputs: real or synthetic training waveforms, WAV files for the per-clip baseline, timing."""

from __future__ import annotations

import itertools
import logging
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from omegaconf import DictConfig

from speechseq.data.batches import batch_indices
from speechseq.data.loader import move_split
from speechseq.data.splits import NoiseBank, SplitData
from speechseq.features.logmel import FrontendSpec

log = logging.getLogger(__name__)

FULL_V2_CLIPS = 105_829  # every utterance of Speech Commands v0.02
CPU_SYNTHETIC_CLIPS = 8_192
N_CLASSES = 12


@dataclass
class BenchData:
    split: SplitData          # the training waveforms, on the device when it is a GPU
    noise: NoiseBank          # on the device
    wav_paths: list[Path]     # files for the decode section and the per-clip baseline
    wav_labels: np.ndarray
    source: str
    n_classes: int = N_CLASSES


# ----------------------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# ------------------------------------------------------------------------------------------- data


def synthetic_waves(n: int, samples: int, device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-dependent tones in noise as int16, generated on `device` in chunks."""
    g = torch.Generator(device=device).manual_seed(seed)
    labels = torch.randint(0, N_CLASSES, (n,), generator=g, device=device)
    waves = torch.empty((n, samples), dtype=torch.int16, device=device)
    t = torch.arange(samples, device=device) / 16000.0
    for start in range(0, n, 4096):
        lab = labels[start:start + 4096]
        freq = (200.0 + 170.0 * lab.float())[:, None]
        amp = 0.2 + 0.3 * torch.rand(len(lab), 1, generator=g, device=device)
        x = amp * torch.sin(2 * torch.pi * freq * t) + 0.01 * torch.randn(len(lab), samples, generator=g, device=device)
        waves[start:start + 4096] = (x.clamp(-1, 1) * 32767).round().to(torch.int16)
    return waves, labels


def _write_wavs(folder: Path, waves: torch.Tensor, labels: torch.Tensor, sample_rate: int) -> list[Path]:
    import soundfile as sf

    paths = []
    for i, (w, lab) in enumerate(zip(waves.cpu().numpy(), labels.cpu().tolist())):
        path = folder / f"class{lab:02d}" / f"clip{i:06d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, w, sample_rate, subtype="PCM_16")
        paths.append(path)
    return paths


def _split_of(waves: torch.Tensor, labels: torch.Tensor, n_silence: int, name: str = "train") -> SplitData:
    n = waves.shape[0]
    return SplitData(name=name, waves=waves, labels=labels.long(), paths=[], keyword_idx=np.arange(n),
                     unknown_idx=np.zeros(0, np.int64), n_unknown=0, n_silence=n_silence,
                     silence_label=N_CLASSES - 1 if n_silence else None)


def load_bench_data(cfg: DictConfig, spec: FrontendSpec, device: torch.device, scratch: Path) -> BenchData:
    if cfg.synthetic:
        n = cfg.synthetic_clips or (FULL_V2_CLIPS if device.type == "cuda" else CPU_SYNTHETIC_CLIPS)
        waves, labels = synthetic_waves(n, spec.sample_rate, device, cfg.seed)
        n_files = min(n, max(cfg.decode_clips, cfg.batch_size * (cfg.baseline_steps + 1)))
        paths = _write_wavs(scratch / "wavs", waves[:n_files], labels[:n_files], spec.sample_rate)
        g = torch.Generator().manual_seed(cfg.seed + 1)
        noise = NoiseBank(0.05 * torch.randn(60, spec.sample_rate, generator=g)).to(device)
        return BenchData(_split_of(waves, labels, n_silence=n // 10), noise, paths,
                         labels[:n_files].cpu().numpy(), f"synthetic ({n:,} clips)")

    from speechseq.training.train import load_data_split, open_dataset

    label_set, index = open_dataset(cfg.data)
    split = load_data_split(index, "train", label_set, cfg.data, spec)
    noise = NoiseBank.from_files(index.noise_files, spec.sample_rate, spec.sample_rate).to(device)
    paths = [index.root / p for p in split.paths]
    labels = split.labels.numpy()
    if device.type == "cuda":
        split = move_split(split, device)
    return BenchData(split, noise, paths, labels, f"{index.root} (train split, {len(paths):,} clips)",
                     len(label_set))


def endless_batches(split: SplitData, batch_size: int, seed: int) -> Iterator[np.ndarray]:
    """Epoch after epoch of shuffled full batches, as the trainer draws them."""
    for epoch in itertools.count():
        rng = np.random.default_rng([seed, epoch])
        yield from batch_indices(split.draw(rng), batch_size, rng, drop_last=True)


def loader_schedule(workers: int, warmup: int, steps: int, prefetch_factor: int = 2) -> tuple[int, int]:
    """(warm-up, timed) batch counts that time a DataLoader in its steady state.

    W workers hold up to W * prefetch_factor finished batches, and they work in rounds of W. Timing
    batches that were made during warm-up credits the loader with work done before the clock
    started (this once showed a per-clip baseline at 58x its real rate), so warm-up eats that
    backlog and both counts are whole rounds.
    """
    if workers <= 0:
        return warmup, steps
    rounds = -(-(warmup + workers * prefetch_factor) // workers)
    return rounds * workers, -(-max(steps, workers) // workers) * workers
