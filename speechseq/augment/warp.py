"""Vocal tract length perturbation on log-mel features (`augment.vtlp`).

A talker with a shorter or longer vocal tract has every formant scaled by about the same factor.
Each clip's frequency axis is scaled by a factor drawn uniformly from `augment.vtlp` (Jaitly and
Hinton, 2013), piecewise linearly so that f_max stays f_max. Unlike speed perturbation it keeps
the tempo, and it costs a gather on the features instead of a resampling of the waveform.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from speechseq.features.numpy_logmel import mel_points_hz

# The warp is linear up to this share of f_max (scaled by the factor), then bends to keep f_max.
KNEE = 0.8


def hz_to_mel(f: torch.Tensor | float) -> torch.Tensor:
    """HTK mel scale, as the LogMel frontend uses (mel_scale="htk"), on the tensor's device."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(f, dtype=torch.float32) / 700.0)


def mel_centres(n_mels: int, f_min: float, f_max: float) -> torch.Tensor:
    """Centre frequencies (Hz) of the frontend's triangular mel bands."""
    return torch.from_numpy(mel_points_hz(n_mels, f_min, f_max)[1:-1]).float()


def source_frequency(f: torch.Tensor, factor: torch.Tensor, f_max: float) -> torch.Tensor:
    """Where the warped spectrum at frequency `f` (Hz, (1, bands)) reads the original, per clip ((clips, 1)).

    Formants scaled by `factor` put the original's content at f / factor; above the knee the map
    runs linearly to (f_max, f_max), so no band reads beyond the spectrum.
    """
    inverse = 1.0 / factor
    knee = KNEE * f_max * torch.clamp(inverse, max=1.0) / inverse  # output frequency where the bend starts
    at_knee = knee * inverse
    bent = at_knee + (f - knee) * (f_max - at_knee) / (f_max - knee)
    return torch.where(f <= knee, f * inverse, bent)


class MelWarp(nn.Module):
    """Per-clip frequency warp of log-mel features (clips, frames, n_mels); identity when `factors` is empty."""

    def __init__(self, factors: tuple[float, float] | list[float] | None, n_mels: int, f_min: float, f_max: float):
        super().__init__()
        self.factors = tuple(float(x) for x in factors) if factors else ()
        self.f_min, self.f_max = float(f_min), float(f_max)
        self.register_buffer("centres", mel_centres(n_mels, f_min, f_max), persistent=False)
        self.mel_min = float(hz_to_mel(f_min))
        self.mel_step = (float(hz_to_mel(f_max)) - self.mel_min) / (n_mels + 1)

    def band_positions(self, factor: torch.Tensor) -> torch.Tensor:
        """Fractional band index (clips, n_mels) each output band reads from, for each clip's factor."""
        centres = self.centres.to(factor.device)[None, :]
        source = source_frequency(centres, factor[:, None], self.f_max).clamp(self.f_min, self.f_max)
        position = (hz_to_mel(source) - self.mel_min) / self.mel_step - 1.0
        return position.clamp(0.0, len(self.centres) - 1.0)

    def forward(self, feats: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not self.factors:
            return feats
        low, high = self.factors
        # uniform in log: a factor and its inverse are equally likely
        u = torch.rand(feats.shape[0], device=feats.device, generator=generator)
        factor = torch.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        position = self.band_positions(factor)                           # (clips, mels)
        below = position.floor().long()
        above = (below + 1).clamp(max=feats.shape[2] - 1)
        weight = (position - below).unsqueeze(1).to(feats.dtype)        # (clips, 1, mels)
        frames = feats.shape[1]
        lo = feats.gather(2, below.unsqueeze(1).expand(-1, frames, -1))
        hi = feats.gather(2, above.unsqueeze(1).expand(-1, frames, -1))
        return lo + (hi - lo) * weight
