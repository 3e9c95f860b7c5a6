"""Training-time augmentation on the batch's device, vectorised over the batch.

Multi-condition training: each clip is shifted (far enough, sometimes, to leave only a fragment
of the word, which is then labelled `_unknown_`), sometimes put in a room (convolved with an
impulse response: speech across a room, not into a headset), mixed with background noise at an
SNR drawn per clip, made louder or quieter, and optionally sped up or slowed down, or shifted in
pitch at the same tempo (augment/pitch.py). Silence clips are background noise at a level drawn
over a wide range, and a share of them digital silence (zeros, or one bit of dither: a muted
microphone). On the features, each clip's frequency
axis may be scaled (vocal tract length, augment/warp.py), and SpecAugment masks them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchaudio.functional as AF
from torch import nn

from speechseq.augment.rir_bank import RirBank
from speechseq.augment.rooms import load_room_bank, put_in_rooms
from speechseq.augment.eq import RandomEQ
from speechseq.augment.pitch import pitch_perturb
from speechseq.augment.warp import MelWarp
from speechseq.data.splits import NoiseBank
from speechseq.features.spec import FrontendSpec

NOISE_MODES = ("snr", "gain")
# Share of the silence clips (with augment.silence_dbfs) made digital silence, half zeros and half one
# least significant bit of int16 dither: what a muted microphone or an idle line delivers, which a
# model trained on background noise alone calls _unknown_.
DIGITAL_SILENCE_SHARE = 0.1


@dataclass(frozen=True)
class WaveAugmentConfig:
    """The waveform half of `augment.*` (see conf/augment/default.yaml for what each knob means)."""

    time_shift_ms: float = 100.0
    noise_prob: float = 0.8
    noise_mode: str = "snr"
    snr_db: tuple[float, float] = (-5.0, 25.0)
    noise_volume: float = 0.1
    gain_db: tuple[float, float] = (0.0, 0.0)
    silence_dbfs: tuple[float, float] | None = None
    fragment_prob: float = 0.0
    fragment_shift_ms: tuple[float, float] = (400.0, 900.0)
    fragment_max_kept: float = 0.5
    whole_min_kept: float = 0.8
    speed_factors: tuple[float, ...] = ()
    pitch_semitones: tuple[float, float] | None = None  # pitch shift range, tempo kept (augment/pitch.py)
    room_prob: float = 0.0   # share of word clips put in a room (needs a RirBank)

    @classmethod
    def from_cfg(cls, a) -> "WaveAugmentConfig":
        def pair(v):
            return None if v is None else (float(v[0]), float(v[1]))

        return cls(time_shift_ms=a.time_shift_ms, noise_prob=a.noise_prob, noise_mode=a.noise_mode,
                   snr_db=pair(a.snr_db), noise_volume=a.noise_volume, gain_db=pair(a.gain_db),
                   silence_dbfs=pair(a.silence_dbfs), fragment_prob=a.fragment_prob,
                   fragment_shift_ms=pair(a.fragment_shift_ms), fragment_max_kept=a.fragment_max_kept,
                   whole_min_kept=a.whole_min_kept, speed_factors=tuple(float(f) for f in a.speed_factors),
                   pitch_semitones=pair(a.pitch_semitones) if a.get("pitch_semitones") else None,
                   room_prob=a.room_prob)


def mix_at_snr(speech: torch.Tensor, noise: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
    """speech + noise scaled so that power(speech) / power(noise) is `snr_db` per row (whole clip)."""
    return AF.add_noise(speech, noise, snr_db)


def uniform(low_high: tuple[float, float], n: int, device, generator=None) -> torch.Tensor:
    low, high = low_high
    return low + (high - low) * torch.rand(n, device=device, generator=generator)


def shift_rows(waves: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Each row moved right by `shift` samples (left when negative), zero-filled."""
    length = waves.shape[1]
    src = torch.arange(length, device=waves.device)[None, :] - shift[:, None]
    valid = (src >= 0) & (src < length)
    return waves.gather(1, src.clamp(0, length - 1)) * valid


def kept_energy(waves: torch.Tensor, shifted: torch.Tensor) -> torch.Tensor:
    """Share of each row's energy still inside the window after a shift (1 for an empty row)."""
    before = waves.square().sum(1)
    after = shifted.square().sum(1)
    return torch.where(before > 0, after / before.clamp_min(1e-12), torch.ones_like(before))


def speed_perturb(waves: torch.Tensor, factors: tuple[float, ...], sample_rate: int,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Rows resampled by a factor drawn from `factors` (pitch and tempo change), centre-cropped/padded."""
    if not factors:
        return waves
    length = waves.shape[1]
    choice = torch.randint(len(factors), (waves.shape[0],), device=waves.device, generator=generator)
    out = waves.clone()
    for k, factor in enumerate(factors):
        rows = torch.nonzero(choice == k).squeeze(1)
        if factor == 1.0 or rows.numel() == 0:
            continue
        fast, _ = AF.speed(waves[rows], sample_rate, factor)
        out[rows] = _fit_length(fast, length)
    return out


def _fit_length(waves: torch.Tensor, length: int) -> torch.Tensor:
    n = waves.shape[1]
    if n >= length:
        start = (n - length) // 2
        return waves[:, start:start + length]
    pad = length - n
    return nn.functional.pad(waves, (pad // 2, pad - pad // 2))


class WaveAugment(nn.Module):
    """(waves, labels) -> (waves, labels, weights): the multi-condition recipe of WaveAugmentConfig.

    `weights` are 0 for clips shifted into the ambiguous zone (part of the word gone, but not
    enough to call it a fragment), which the loss then ignores; 1 otherwise. Every draw comes
    from `generator` when one is given (the global one otherwise), so a batch prepared in a
    background thread is the same as one prepared in the training thread.
    """

    def __init__(self, noise: NoiseBank, sample_rate: int = 16000, config: WaveAugmentConfig = WaveAugmentConfig(),
                 silence_label: int | None = None, unknown_label: int | None = None,
                 rooms: RirBank | None = None):
        super().__init__()
        if config.noise_mode not in NOISE_MODES:
            raise ValueError(f"augment.noise_mode={config.noise_mode!r}: choose one of {list(NOISE_MODES)}")
        self.noise, self.sample_rate, self.cfg = noise, sample_rate, config
        self.silence_label, self.unknown_label = silence_label, unknown_label
        self.max_shift = int(sample_rate * config.time_shift_ms / 1000)
        if config.room_prob > 0 and rooms is None:
            raise ValueError("augment.room_prob > 0 needs a bank of room impulse responses (rooms=...)")
        self.rooms = rooms

    def forward(self, waves: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        is_silence = self._is(labels, self.silence_label)
        waves = speed_perturb(waves, self.cfg.speed_factors, self.sample_rate, generator)
        waves = pitch_perturb(waves, self.cfg.pitch_semitones, self.sample_rate, is_silence, generator)
        waves, labels, weights = self._shift(waves, labels, is_silence, generator)
        waves = self._silence_levels(waves, is_silence, generator)
        waves = self._add_room(waves, is_silence, generator)
        waves = self._add_noise(waves, is_silence, generator)
        if self.cfg.gain_db != (0.0, 0.0):
            gain_db = uniform(self.cfg.gain_db, len(waves), waves.device, generator)
            waves = waves * (10.0 ** (gain_db / 20.0))[:, None]
        return waves.clamp(-1.0, 1.0), labels, weights

    @staticmethod
    def _is(labels: torch.Tensor, label: int | None) -> torch.Tensor:
        return labels == label if label is not None else torch.zeros_like(labels, dtype=torch.bool)

    def _shift(self, waves, labels, is_silence, generator=None):
        batch, device, g = len(waves), waves.device, generator
        weights = torch.ones(batch, device=device)
        shift = torch.randint(-self.max_shift, self.max_shift + 1, (batch,), device=device, generator=g) \
            if self.max_shift else torch.zeros(batch, dtype=torch.long, device=device)
        can_fragment = ~is_silence & ~self._is(labels, self.unknown_label)
        if self.cfg.fragment_prob > 0 and self.unknown_label is not None:
            far = (torch.rand(batch, device=device, generator=g) < self.cfg.fragment_prob) & can_fragment
            far_ms = uniform(self.cfg.fragment_shift_ms, batch, device, g)
            sign = torch.where(torch.rand(batch, device=device, generator=g) < 0.5, -1, 1)
            far_shift = (sign * far_ms * self.sample_rate / 1000).long()
            shift = torch.where(far, far_shift, shift)
        if not bool((shift != 0).any()):
            return waves, labels, weights
        shifted = shift_rows(waves, shift)
        if self.unknown_label is not None:  # only then can a cut word be called "not that word"
            kept = kept_energy(waves, shifted)
            fragment = can_fragment & (kept < self.cfg.fragment_max_kept)
            labels = torch.where(fragment, torch.full_like(labels, self.unknown_label), labels)
            ambiguous = can_fragment & ~fragment & (kept < self.cfg.whole_min_kept)
            weights = torch.where(ambiguous, torch.zeros_like(weights), weights)
        return torch.where(is_silence[:, None], waves, shifted), labels, weights

    def _silence_levels(self, waves, is_silence, generator=None):
        """Silence rows rescaled to an RMS level (dBFS) drawn per clip, a quiet room to a loud one; a
        share of them (DIGITAL_SILENCE_SHARE) digital silence instead."""
        if self.cfg.silence_dbfs is None or not bool(is_silence.any()):
            return waves
        rms = waves.square().mean(1).sqrt()
        low, high = self.cfg.silence_dbfs
        draw = torch.rand(len(waves), device=waves.device, generator=generator)  # as uniform() draws it
        target = 10.0 ** ((low + (high - low) * draw) / 20.0)
        scale = torch.where(is_silence & (rms > 0), target / rms.clamp_min(1e-9), torch.ones_like(rms))
        waves = waves * scale[:, None]
        # which rows go digital: the draw's fine digits, so no extra draw shifts the batch's other ones
        fine = torch.remainder(draw * 997.0, 1.0)
        digital = is_silence & (fine < DIGITAL_SILENCE_SHARE)
        lsb = torch.where(fine[:, None] < DIGITAL_SILENCE_SHARE / 2, 0.0, torch.sign(waves) / 32768.0)
        return torch.where(digital[:, None], lsb, waves)

    def _add_room(self, waves, is_silence, generator=None):
        """A share (room_prob) of the word clips through a bank RIR each; no draws at room_prob=0."""
        if self.cfg.room_prob <= 0:
            return waves
        if self.rooms.rirs.device != waves.device:  # moved once, on the first batch
            self.rooms = self.rooms.to(waves.device)
        batch, device = len(waves), waves.device
        use = (torch.rand(batch, device=device, generator=generator) < self.cfg.room_prob) & ~is_silence
        choice = self.rooms.draw(batch, generator)
        return put_in_rooms(waves, self.rooms, use, choice)

    def _add_noise(self, waves, is_silence, generator=None):
        cfg, g = self.cfg, generator
        if cfg.noise_prob <= 0 or len(self.noise) == 0:
            return waves
        batch, device = len(waves), waves.device
        use = (torch.rand(batch, device=device, generator=g) < cfg.noise_prob) & ~is_silence
        noise = self.noise.sample(batch, generator=g, device=device)
        if cfg.noise_mode == "gain":  # TensorFlow's recipe: the recording's level times U[0, volume]
            gain = torch.rand(batch, 1, device=device, generator=g) * cfg.noise_volume
            return waves + noise * gain * use[:, None]
        speech_power = waves.square().mean(1)
        mixed = mix_at_snr(waves, noise, uniform(cfg.snr_db, batch, device, g))
        return torch.where((use & (speech_power > 0))[:, None], mixed, waves)


def mask_runs(feats: torch.Tensor, dim: int, mask_param: int, generator: torch.Generator | None = None
              ) -> torch.Tensor:
    """One masked run per clip along `dim` (1: frames, 2: mels), filled with 0 (the mean).

    As torchaudio's iid masks: width uniform in [0, mask_param), start uniform over what is left;
    drawn from `generator` so a batch prepared off the training thread is reproducible.
    """
    size, batch = feats.shape[dim], feats.shape[0]
    width = torch.rand(batch, device=feats.device, generator=generator) * min(mask_param, size)
    start = torch.rand(batch, device=feats.device, generator=generator) * (size - width)
    first, last = start.long(), start.long() + width.long()
    pos = torch.arange(size, device=feats.device)[None, :]
    masked = (pos >= first[:, None]) & (pos < last[:, None])          # (batch, size)
    return feats.masked_fill(masked.unsqueeze(3 - dim), 0.0)


class SpecAugment(nn.Module):
    """Frequency and time masks on normalised features (batch, frames, mels); masks fill with 0 (the mean).

    `warp` (augment.vtlp) scales each clip's frequency axis and `eq` (augment.eq_db) colours it;
    both act on the log-mel features before the normalisation (`warp_logmel`), the masks after it
    (`forward`).
    """

    def __init__(self, freq_mask_param: int = 7, num_freq_masks: int = 2, time_mask_param: int = 10,
                 num_time_masks: int = 2, warp: MelWarp | None = None, eq: RandomEQ | None = None):
        super().__init__()
        self.freq_param, self.time_param = freq_mask_param, time_mask_param
        self.num_freq = num_freq_masks if freq_mask_param else 0
        self.num_time = num_time_masks if time_mask_param else 0
        self.warp, self.eq = warp, eq

    def warp_logmel(self, logmel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.warp is not None:
            logmel = self.warp(logmel, generator)
        return logmel if self.eq is None else self.eq(logmel, generator)

    def forward(self, feats: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for _ in range(self.num_freq):
            feats = mask_runs(feats, 2, self.freq_param, generator)
        for _ in range(self.num_time):
            feats = mask_runs(feats, 1, self.time_param, generator)
        return feats


def build_augmenters(a, noise: NoiseBank, labels: list[str], frontend: FrontendSpec
                     ) -> tuple[WaveAugment | None, SpecAugment | None]:
    """The waveform and feature augmenters of `augment.*` for `frontend`'s sample rate and mel bands
    (None, None when augment.enabled=false). For the speech embedding the feature masks take the
    `embedding_*_mask_param` widths."""
    from speechseq.labels import SILENCE, UNKNOWN

    if not a.enabled:
        return None, None
    wave = WaveAugment(noise, frontend.sample_rate, WaveAugmentConfig.from_cfg(a),
                       silence_label=labels.index(SILENCE) if SILENCE in labels else None,
                       unknown_label=labels.index(UNKNOWN) if UNKNOWN in labels else None,
                       rooms=load_room_bank(a, frontend.sample_rate))
    if frontend.kind == "speech_embedding":  # masks sized for 96 numbers and 80 ms frames; no mel bands to warp
        spec = SpecAugment(a.embedding_freq_mask_param, a.num_freq_masks, a.embedding_time_mask_param, a.num_time_masks)
        return wave, spec
    warp = MelWarp(a.vtlp, frontend.n_mels, frontend.f_min, frontend.f_max) if a.vtlp else None
    eq = RandomEQ(a.eq_db, frontend.n_mels) if a.eq_db > 0 else None
    spec = SpecAugment(a.freq_mask_param, a.num_freq_masks, a.time_mask_param, a.num_time_masks, warp, eq)
    return wave, spec
