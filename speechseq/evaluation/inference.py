"""Batched prediction over a split: waveforms -> frontend (LogMel or SpeechEmbedding) -> model -> probabilities."""

from __future__ import annotations

import numpy as np
import torch

from speechseq.data.batches import batch_indices, gather_batch
from speechseq.data.splits import NoiseBank, SplitData
from speechseq.errors import DatasetError
from speechseq.progress import Progress


def evaluation_indices(split: SplitData, seed: int) -> np.ndarray:
    """The fixed selection an evaluation split is scored on (same seed, same clips)."""
    return split.draw(np.random.default_rng(seed))


def clip_speakers(split: SplitData, indices: np.ndarray) -> list[str | None]:
    """The speaker of each scored clip (`data.layout.speaker_of`); None for a silence slot drawn from noise."""
    from speechseq.data.layout import speaker_of
    from speechseq.data.splits import SILENCE_INDEX

    return [None if i == SILENCE_INDEX else speaker_of(split.paths[i]) for i in np.asarray(indices).tolist()]


@torch.no_grad()
def predict_split(model: torch.nn.Module, frontend: torch.nn.Module, split: SplitData, indices: np.ndarray,
                  noise: NoiseBank, batch_size: int, device: torch.device, seed: int = 0,
                  progress: bool = False, transform=None) -> tuple[np.ndarray, np.ndarray]:
    """(targets, probabilities) for `indices`; silence slots are generated with `seed`.

    `transform(waves, labels) -> waves` alters each batch before the frontend (noise, for
    scoring in noise); it must draw from its own generator, so the silence slots stay the same.
    """
    if len(indices) == 0:
        raise DatasetError(f"the {split.name} split has no clips to score for this model's labels (its words "
                           f"have no clips there, and no unknown or silence slots were drawn)")
    model.eval()
    generator = torch.Generator(device=split.waves.device).manual_seed(seed)
    targets, probs = [], []
    batches = list(batch_indices(indices, batch_size, shuffle_rng=None))
    for idx in Progress(batches, total=len(batches), desc=f"eval {split.name}", unit="batch", enabled=progress):
        idx_t = torch.as_tensor(idx, device=split.waves.device)
        waves, labels = gather_batch(split, idx_t, noise, generator)
        if transform is not None:
            waves = transform(waves, labels)
        logits = model(frontend(waves.to(device)))
        probs.append(torch.softmax(logits.float(), dim=-1).cpu())
        targets.append(labels.cpu())
    return torch.cat(targets).numpy(), torch.cat(probs).numpy()
