"""Training-time augmentation on the batch's device: time shift, background noise, SpecAugment."""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

from speechseq.data.splits import NoiseBank


class WaveAugment(nn.Module):
    """Random time shift (zero fill) and background-noise mixing, per clip, vectorised."""

    def __init__(self, noise: NoiseBank, sample_rate: int = 16000, time_shift_ms: float = 100.0,
                 noise_prob: float = 0.8, noise_volume: float = 0.1):
        super().__init__()
        self.noise = noise
        self.max_shift = int(sample_rate * time_shift_ms / 1000)
        self.noise_prob, self.noise_volume = noise_prob, noise_volume

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        batch, length = waves.shape
        device = waves.device
        if self.max_shift > 0:
            shift = torch.randint(-self.max_shift, self.max_shift + 1, (batch, 1), device=device)
            src = torch.arange(length, device=device)[None, :] - shift
            valid = (src >= 0) & (src < length)
            waves = waves.gather(1, src.clamp(0, length - 1)) * valid
        if self.noise_prob > 0 and self.noise_volume > 0 and len(self.noise) > 0:
            use = torch.rand(batch, 1, device=device) < self.noise_prob
            gain = torch.rand(batch, 1, device=device) * self.noise_volume * use
            waves = waves + self.noise.sample(batch, device=device) * gain
        return waves.clamp(-1.0, 1.0)


class SpecAugment(nn.Module):
    """Frequency and time masks on normalised features (batch, frames, mels); masks fill with 0 (the mean)."""

    def __init__(self, freq_mask_param: int = 7, num_freq_masks: int = 2, time_mask_param: int = 10,
                 num_time_masks: int = 2):
        super().__init__()
        self.freq = torchaudio.transforms.FrequencyMasking(freq_mask_param, iid_masks=True) if freq_mask_param else None
        self.time = torchaudio.transforms.TimeMasking(time_mask_param, iid_masks=True) if time_mask_param else None
        self.num_freq, self.num_time = num_freq_masks, num_time_masks

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = feats.transpose(1, 2).unsqueeze(1)  # (B, 1, mels, frames), as torchaudio's masks expect
        for _ in range(self.num_freq if self.freq is not None else 0):
            x = self.freq(x)
        for _ in range(self.num_time if self.time is not None else 0):
            x = self.time(x)
        return x.squeeze(1).transpose(1, 2)
