"""Random smooth equalisation on log-mel features (`augment.eq_db`).

A microphone, a room's absorption and a talker's own timbre each tilt and shape the spectrum
smoothly. Adding a smooth random curve across the mel bands of each clip's log-power features
(an equaliser in the log domain is a sum) teaches the model that such colourings do not change
the word. The curve is a sum of the lowest cosines over the band index, so it has no narrow
notches that would erase a formant; its peak magnitude is at most `eq_db` decibels.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# Cosines 1..COMPONENTS over the bands: a tilt, a bump, a wave; nothing narrower.
COMPONENTS = 3
# log-mel features are natural logs of power: one decibel is ln(10) / 10 of them.
NEPER_PER_DB = math.log(10.0) / 10.0


class RandomEQ(nn.Module):
    """Per-clip smooth gain curve over the mel bands of (clips, frames, n_mels); identity at eq_db=0."""

    def __init__(self, eq_db: float, n_mels: int):
        super().__init__()
        self.eq_db = float(eq_db)
        band = (torch.arange(n_mels, dtype=torch.float32) + 0.5) / n_mels
        shapes = torch.stack([torch.cos(math.pi * k * band) for k in range(1, COMPONENTS + 1)])
        self.register_buffer("shapes", shapes, persistent=False)             # (components, n_mels)

    def curves(self, clips: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        """(clips, n_mels) gains in log-power units, each at most eq_db dB in magnitude."""
        weights = torch.rand(clips, COMPONENTS, device=device, generator=generator) * 2.0 - 1.0
        return weights @ self.shapes.to(device) * (self.eq_db * NEPER_PER_DB / COMPONENTS)

    def forward(self, logmel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.eq_db <= 0:
            return logmel
        gains = self.curves(logmel.shape[0], logmel.device, generator)
        return logmel + gains.unsqueeze(1).to(logmel.dtype)
