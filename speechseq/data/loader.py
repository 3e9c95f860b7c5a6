"""Where a split's waveforms live during training, and how its batches reach the model's device.

On a CPU, and on a GPU that holds the whole split (int16, ~3.4 GB for all of v2), batches are
gathered by index where the waveforms are: no copies, no host sync. When the split does not
fit the GPU, a background thread gathers each batch's int16 rows on the host into pinned
memory and the main thread copies them on a side CUDA stream one batch ahead, so the copy of
batch i+1 overlaps the compute of batch i.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Iterable, Iterator

import numpy as np
import torch

from speechseq.config import ON_DEVICE_MODES
from speechseq.data.batches import gather_batch
from speechseq.data.prefetch import Ahead
from speechseq.data.splits import SILENCE_INDEX, NoiseBank, SplitData

log = logging.getLogger(__name__)

# data.on_device=auto keeps the splits on the GPU when they take at most this share of its free
# memory; the rest is left to activations, cuDNN workspaces and the caching allocator.
FIT_FRACTION = 0.5


def normalize_mode(mode) -> str:
    """YAML turns `true`/`false` into booleans; accept those and strings alike."""
    return str(mode).strip().lower()


def splits_nbytes(splits: Iterable[SplitData]) -> int:
    return sum(s.waves.numel() * s.waves.element_size() + s.labels.numel() * 8 for s in splits)


def choose_on_device(mode, device: torch.device, splits: list[SplitData]) -> bool:
    """Whether whole splits should move to `device` (only ever true for a CUDA device)."""
    mode = normalize_mode(mode)
    if mode not in ON_DEVICE_MODES:
        raise ValueError(f"data.on_device={mode!r}: choose auto, true or false")
    if device.type != "cuda" or mode == "false":
        return False
    if mode == "true":
        return True
    need = splits_nbytes(splits)
    free, _total = torch.cuda.mem_get_info(device)
    fits = need <= FIT_FRACTION * free
    log.info("training data %.2f GB, GPU free %.2f GB: waveforms %s", need / 1e9, free / 1e9,
             "stay on the GPU" if fits else "stay on the host (pinned, prefetched batches)")
    return fits


def move_split(split: SplitData, device: torch.device) -> SplitData:
    return replace(split, waves=split.waves.to(device), labels=split.labels.to(device))


def concrete_device(device: torch.device | str) -> torch.device:
    """`cuda` names the current GPU; tensors report `cuda:N`, so compare with the index filled in."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


class BatchSource:
    """Turns batches of split indices into (float waves, labels) on `device`.

    `staged=None` picks the path from where the waveforms are: staged (host gather + copy)
    when they are on the host and `device` is a GPU. Tests force `staged=True` on a CPU to
    check that both paths give the same batches.
    """

    def __init__(self, split: SplitData, noise: NoiseBank, device: torch.device, prefetch: int = 3,
                 staged: bool | None = None):
        self.split, self.noise, self.device = split, noise, concrete_device(device)
        self.staged = (split.waves.device != self.device) if staged is None else staged
        self.prefetch = max(1, prefetch)
        self.cuda = self.device.type == "cuda"

    def __call__(self, batches: Iterable[np.ndarray], generator: torch.Generator | None = None
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches for `batches`; silence noise is drawn from `generator` (the global one when None)."""
        if not self.staged:
            return self._in_place(batches, generator)
        return self._staged(batches, generator)

    def _in_place(self, batches, generator=None):
        where = self.split.waves.device
        for idx in batches:
            idx_t = torch.from_numpy(np.ascontiguousarray(idx))
            if where.type == "cuda":  # a pinned source makes the copy truly asynchronous
                idx_t = idx_t.pin_memory().to(where, non_blocking=True)
            waves, labels = gather_batch(self.split, idx_t, self.noise, generator)
            yield waves.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)

    # -- staged path: host gather (thread) -> pinned -> side-stream copy -> gather_batch on device

    def host_batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """int16 rows, labels and local indices (silence slots kept as SILENCE_INDEX) on the host."""
        safe = torch.from_numpy(np.maximum(idx, 0))
        rows = torch.empty((len(idx), self.split.waves.shape[1]), dtype=self.split.waves.dtype, pin_memory=self.cuda)
        torch.index_select(self.split.waves, 0, safe, out=rows)
        labels = torch.empty(len(idx), dtype=self.split.labels.dtype, pin_memory=self.cuda)
        torch.index_select(self.split.labels, 0, safe, out=labels)
        local = torch.from_numpy(np.where(idx == SILENCE_INDEX, SILENCE_INDEX, np.arange(len(idx))))
        return rows, labels, local.pin_memory() if self.cuda else local

    def _staged(self, batches, generator=None):
        stream = torch.cuda.Stream(self.device) if self.cuda else None
        with Ahead(map(self.host_batch, batches), depth=self.prefetch, name="batch-prefetch") as hosts:
            pending = None
            for host in hosts:
                copied = self._copy(host, stream)
                if pending is not None:
                    yield self._finish(pending, generator)
                pending = copied
            if pending is not None:
                yield self._finish(pending, generator)

    def _copy(self, host, stream):
        if stream is None:
            return tuple(t.to(self.device) for t in host), None
        with torch.cuda.stream(stream):
            dev = tuple(t.to(self.device, non_blocking=True) for t in host)
            done = torch.cuda.Event()
            done.record(stream)
        return dev, done

    def _finish(self, copied, generator=None):
        dev, done = copied
        if done is not None:
            current = torch.cuda.current_stream(self.device)
            current.wait_event(done)  # this batch's copy only, not the one issued after it
            for t in dev:  # the caching allocator must not reuse these before `current` is done
                t.record_stream(current)
        rows, labels, local = dev
        return gather_batch(replace(self.split, waves=rows, labels=labels), local, self.noise, generator)
