"""Pitch perturbation without a tempo change (`augment.pitch_semitones: [low, high]`).

Each word clip's pitch is shifted by a number of semitones drawn uniformly from [low, high]: the
clip is time-stretched by the shift's frequency factor with a phase vocoder (tempo changed, pitch
kept), then resampled back to its length (pitch and tempo changed together), as
torchaudio.functional.pitch_shift does. Speed perturbation (augment.speed_factors) changes the
tempo too; vocal tract length perturbation (augment.vtlp) scales the spectrum on the features.

To batch the work, the factors are rounded to source rates on a grid of RATE_STEP_HZ (1 % of
16 kHz, 0.17 semitone), whose ratio to the sample rate resamples with a small kernel, and the clips
of one rounded factor are shifted together.
"""

from __future__ import annotations

import math

import torch
import torchaudio.functional as AF

RATE_STEP_HZ = 160   # source rates are multiples of this: the resampling ratio reduces to at most 100:sample_rate/160
N_FFT, HOP = 512, 128  # the phase vocoder's STFT (32 ms windows, 8 ms hop at 16 kHz)


def source_rates(semitones: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """The rate (Hz, on the RATE_STEP_HZ grid) each clip is read at for its shift: sample_rate * 2^(s/12)."""
    factor = torch.pow(2.0, semitones.double() / 12.0)
    return (torch.round(sample_rate * factor / RATE_STEP_HZ) * RATE_STEP_HZ).long()


def phase_vocoder(spec: torch.Tensor, rate: float) -> torch.Tensor:
    """The frames of an STFT (..., bins, frames) read `rate` times as fast: magnitudes interpolated
    between neighbouring frames, phases advanced by each bin's measured frequency.

    torchaudio.functional.phase_vocoder's method, on real tensors: its complex angle, abs and polar
    made it 3x slower on a CPU.
    """
    frames = spec.shape[-1]
    # frames first, bins last and contiguous: the gathers copy whole rows, atan2 runs on dense memory
    parts = torch.view_as_real(spec.transpose(-1, -2).contiguous())
    re, im = parts[..., 0].contiguous(), parts[..., 1].contiguous()
    magnitude = torch.nn.functional.pad(torch.hypot(re, im), (0, 0, 0, 2))
    phase = torch.nn.functional.pad(torch.atan2(im, re), (0, 0, 0, 2))
    steps = torch.arange(0, frames, rate, device=spec.device, dtype=magnitude.dtype)
    first = steps.long()
    alpha = (steps - first)[:, None]
    expected = torch.linspace(0, math.pi * HOP, spec.shape[-2], device=spec.device, dtype=magnitude.dtype)
    delta = phase[..., first + 1, :] - phase[..., first, :] - expected
    delta = delta - 2 * math.pi * torch.round(delta / (2 * math.pi)) + expected
    accumulated = torch.cat([phase[..., :1, :], delta[..., :-1, :]], dim=-2).cumsum(-2)
    mag = magnitude[..., first, :] * (1 - alpha) + magnitude[..., first + 1, :] * alpha
    return torch.complex(mag * torch.cos(accumulated), mag * torch.sin(accumulated)).transpose(-1, -2)


def time_stretch(waves: torch.Tensor, rate: float) -> torch.Tensor:
    """Rows played `rate` times as fast with their pitch kept (phase vocoder); length / rate samples."""
    window = torch.hann_window(N_FFT, device=waves.device, dtype=waves.dtype)
    spec = torch.stft(waves, N_FFT, HOP, window=window, return_complex=True)
    return torch.istft(phase_vocoder(spec, rate), N_FFT, HOP, window=window, length=round(waves.shape[-1] / rate))


def _fit(waves: torch.Tensor, length: int) -> torch.Tensor:
    """Cut or zero-pad the end to `length` samples (resampling leaves a sample more or less)."""
    if waves.shape[-1] >= length:
        return waves[..., :length]
    return torch.nn.functional.pad(waves, (0, length - waves.shape[-1]))


def shift_pitch(waves: torch.Tensor, rate_hz: int, sample_rate: int) -> torch.Tensor:
    """Rows shifted in pitch by rate_hz / sample_rate, tempo and length kept."""
    if rate_hz == sample_rate:
        return waves
    stretched = time_stretch(waves, sample_rate / rate_hz)     # longer when the pitch goes up
    return _fit(AF.resample(stretched, rate_hz, sample_rate), waves.shape[-1])


def pitch_perturb(waves: torch.Tensor, semitones: tuple[float, float] | None, sample_rate: int,
                  skip: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each row not in `skip` shifted by semitones uniform in [low, high]; identity (no draws) when None.

    >>> import torch
    >>> waves = torch.sin(torch.arange(16000) * 2 * math.pi * 440 / 16000).repeat(2, 1)
    >>> pitch_perturb(waves, (-2.0, 2.0), 16000, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 16000])
    """
    if not semitones:
        return waves
    low, high = float(semitones[0]), float(semitones[1])
    drawn = low + (high - low) * torch.rand(len(waves), device=waves.device, generator=generator)
    rates = source_rates(drawn, sample_rate)
    if skip is not None:
        rates = torch.where(skip, torch.full_like(rates, sample_rate), rates)
    out = waves.clone()
    for rate in rates.unique().tolist():
        if rate == sample_rate:
            continue
        rows = torch.nonzero(rates == rate).squeeze(1)
        out[rows] = shift_pitch(waves[rows], int(rate), sample_rate).to(waves.dtype)
    return out
