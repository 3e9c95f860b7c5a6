"""Multi-condition augmentation: SNR mixing, fragments, silence levels, gain, speed; config checks."""

import math

import numpy as np
import pytest
import torch

from speechseq.augment.transforms import (
    WaveAugment,
    WaveAugmentConfig,
    kept_energy,
    mix_at_snr,
    shift_rows,
    speed_perturb,
)
from speechseq.config import ConfigError
from speechseq.data.splits import NoiseBank
from tests.conftest import compose_config

SR = 16000


def _power_db(x: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10(x.double().square().mean(-1))


def _tones(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(SR) / SR
    freqs = 200 + 2000 * torch.rand(n, 1, generator=g)
    env = (t > 0.3) & (t < 0.7)  # a word in the middle of the second, silence around it
    return (0.3 * torch.sin(2 * math.pi * freqs * t) * env).float()


def _noise_bank(n: int = 8, seed: int = 1) -> NoiseBank:
    g = torch.Generator().manual_seed(seed)
    return NoiseBank(torch.randn(n, SR, generator=g) * torch.linspace(0.01, 0.2, n)[:, None])


@pytest.mark.parametrize("snr", [-5.0, 0.0, 7.5, 25.0])
def test_mix_at_snr_hits_the_asked_snr(snr):
    speech = _tones(16)
    noise = _noise_bank(16).segments
    mixed = mix_at_snr(speech, noise, torch.full((16,), snr))
    measured = _power_db(speech) - _power_db(mixed - speech)
    assert torch.all((measured - snr).abs() < 0.1), measured


def _augment(**kw) -> WaveAugment:
    base = dict(time_shift_ms=0.0, noise_prob=0.0, gain_db=(0.0, 0.0))
    base.update(kw)
    return WaveAugment(_noise_bank(), SR, WaveAugmentConfig(**base), silence_label=0, unknown_label=1)


def test_snr_mode_mixes_word_clips_in_the_range_and_leaves_silence_alone():
    torch.manual_seed(0)
    speech = _tones(200)
    labels = torch.full((200,), 5)
    labels[:20] = 0  # silence rows
    aug = _augment(noise_prob=1.0, noise_mode="snr", snr_db=(0.0, 10.0))
    out, out_labels, weights = aug(speech.clone(), labels)
    snr = _power_db(speech[20:]) - _power_db(out[20:] - speech[20:])
    assert snr.min() > -0.1 and snr.max() < 10.1 and snr.std() > 1.0  # drawn per clip over the range
    assert torch.equal(out[:20], speech[:20]) and torch.equal(out_labels, labels) and bool(weights.all())


def test_gain_mode_keeps_tensorflows_recipe():
    torch.manual_seed(0)
    speech = torch.zeros(64, SR)
    aug = _augment(noise_prob=1.0, noise_mode="gain", noise_volume=0.1)
    out, _, _ = aug(speech, torch.full((64,), 5))
    bank = _noise_bank().segments
    ratio = out.abs().max(1).values / bank.abs().max()
    assert 0 < ratio.max() <= 0.1 + 1e-6  # the recording's level times a gain in [0, 0.1]


def test_far_shifts_turn_words_into_unknown_fragments_and_ambiguous_cuts_are_left_out():
    torch.manual_seed(0)
    speech = _tones(400)
    labels = torch.full((400,), 5)
    aug = _augment(fragment_prob=0.5, fragment_shift_ms=(450.0, 900.0), fragment_max_kept=0.5, whole_min_kept=0.8)
    out, out_labels, weights = aug(speech.clone(), labels)
    kept = out.square().sum(1) / speech.square().sum(1)
    fragments = out_labels == 1
    assert 100 < int(fragments.sum()) < 300
    assert torch.all(kept[fragments] < 0.5)
    assert torch.all(kept[out_labels == 5] >= 0.5)
    ambiguous = (out_labels == 5) & (kept < 0.8)
    assert torch.equal(weights == 0, ambiguous)


def test_unknown_and_silence_clips_are_never_relabelled():
    torch.manual_seed(0)
    speech = _tones(100)
    labels = torch.tensor([0] * 50 + [1] * 50)
    _, out_labels, weights = _augment(fragment_prob=1.0)(speech, labels)
    assert torch.equal(out_labels, labels) and bool(weights.all())


def test_shift_and_kept_energy():
    x = torch.zeros(2, 10)
    x[:, 4:6] = 1.0
    moved = shift_rows(x, torch.tensor([5, -2]))
    assert moved[0].nonzero().flatten().tolist() == [9]
    assert moved[1].nonzero().flatten().tolist() == [2, 3]
    assert kept_energy(x, moved).tolist() == [0.5, 1.0]


def test_silence_rows_get_levels_over_the_asked_range():
    torch.manual_seed(0)
    noise = _noise_bank().sample(300)
    aug = _augment(silence_dbfs=(-60.0, -20.0))
    out, _, _ = aug(noise, torch.zeros(300, dtype=torch.long))
    digital = out.abs().amax(1) <= 1 / 32768  # a share is digital silence (zeros, one bit of dither)
    level = 20 * torch.log10(out[~digital].square().mean(1).sqrt())
    assert level.min() > -60.5 and level.max() < -19.5 and level.max() - level.min() > 30
    assert 0.05 < digital.float().mean() < 0.15


def test_gain_perturbation_changes_loudness_within_the_range():
    torch.manual_seed(0)
    speech = _tones(200) * 0.1
    out, _, _ = _augment(gain_db=(-12.0, 6.0))(speech.clone(), torch.full((200,), 5))
    change = _power_db(out) - _power_db(speech)
    assert change.min() > -12.1 and change.max() < 6.1 and change.max() - change.min() > 10


def test_speed_perturbation_keeps_the_clip_length():
    speech = _tones(6)
    out = speed_perturb(speech, (0.9, 1.1), SR)
    assert out.shape == speech.shape and not torch.equal(out, speech)


@pytest.mark.parametrize("override,key", [
    ("augment.snr_db=[10,0]", "augment.snr_db"), ("augment.noise_mode=loud", "augment.noise_mode"),
    ("augment.silence_dbfs=[-40,3]", "augment.silence_dbfs"), ("augment.fragment_prob=2", "augment.fragment_prob"),
    ("augment.speed_factors=[3.0]", "augment.speed_factors"),
])
def test_bad_augment_values_fail_with_the_key(tmp_path, override, key):
    from speechseq.config import validate_train

    cfg = compose_config("train", [override], tmp_path)
    with pytest.raises(ConfigError, match=key):
        validate_train(cfg)


def test_default_recipe_composes(tmp_path):
    a = compose_config("train", [], tmp_path).augment
    cfg = WaveAugmentConfig.from_cfg(a)
    assert cfg.noise_mode == "snr" and cfg.snr_db == (-5.0, 25.0) and cfg.fragment_prob > 0
    tf = WaveAugmentConfig.from_cfg(compose_config("train", ["augment=tf"], tmp_path).augment)
    assert tf.noise_mode == "gain" and tf.fragment_prob == 0 and tf.silence_dbfs is None
    assert np.isclose(tf.noise_volume, 0.1)
