"""The one log-mel frontend, shared by training, evaluation, streaming and export.

`center=False` and a plain log (no `top_db`, which depends on the whole clip) make every frame
a function of its own samples only, so a stream computed hop by hop equals the offline features.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torchaudio
from torch import nn

LOG_FLOOR = 1e-6


@dataclass(frozen=True)
class FrontendSpec:
    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 480   # 30 ms
    hop_length: int = 160   # 10 ms
    n_mels: int = 40
    f_min: float = 20.0
    f_max: float = 7600.0

    def num_frames(self, num_samples: int) -> int:
        """Frames in `num_samples` samples: each frame spans n_fft samples (the window sits centred in it)."""
        if num_samples < self.n_fft:
            return 0
        return 1 + (num_samples - self.n_fft) // self.hop_length

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FrontendSpec":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class LogMel(nn.Module):
    """Waveforms (batch, samples) -> log-mel features (batch, frames, n_mels)."""

    def __init__(self, spec: FrontendSpec = FrontendSpec()):
        super().__init__()
        self.spec = spec
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=spec.sample_rate, n_fft=spec.n_fft, win_length=spec.win_length,
            hop_length=spec.hop_length, f_min=spec.f_min, f_max=spec.f_max, n_mels=spec.n_mels,
            power=2.0, center=False, norm=None, mel_scale="htk",
        )

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        # STFT in float32 even under autocast: fp16 power spectra overflow.
        with torch.autocast(device_type=waves.device.type, enabled=False):
            mel = self.mel(waves.float())
        return torch.log(mel + LOG_FLOOR).transpose(-1, -2)

    def filterbank(self) -> torch.Tensor:
        """(n_freqs, n_mels) matrix, for frontends re-implemented outside torch."""
        return self.mel.mel_scale.fb.detach().clone()
