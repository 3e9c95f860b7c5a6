"""The one log-mel frontend, shared by training, evaluation, streaming and export.

`center=False` and a plain log (no `top_db`, which depends on the whole clip) make every frame
a function of its own samples only, so a stream computed hop by hop equals the offline features.
"""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

from speechseq.features.spec import LOG_FLOOR, FrontendSpec

__all__ = ["LOG_FLOOR", "FrontendSpec", "LogMel", "frontend_module"]


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


def frontend_module(spec) -> nn.Module:
    """The torch frontend `spec` describes: LogMel, or SpeechEmbedding for an EmbeddingSpec
    (features=speech_embedding; raises EmbeddingUnavailable naming what to install)."""
    if spec.kind == "speech_embedding":
        from speechseq.features.speech_embedding import SpeechEmbedding

        return SpeechEmbedding(spec)
    return LogMel(spec)
