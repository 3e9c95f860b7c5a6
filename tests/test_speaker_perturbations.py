"""Speaker-variety perturbations (augment.speed_factors, augment.pitch_semitones, augment.vtlp, augment.eq_db):
each is the same for the same seed, keeps the clip's length (samples, or frames and bands), is off by
default without drawing, and an out-of-range value is one line on stderr, exit 2, before any data is read."""

from __future__ import annotations

import math

import pytest
import torch

import speechseq.training.train as train_mod
from speechseq.augment.eq import RandomEQ
from speechseq.augment.pitch import pitch_perturb, shift_pitch, source_rates
from speechseq.augment.transforms import WaveAugment, WaveAugmentConfig, speed_perturb
from speechseq.augment.warp import MelWarp
from speechseq.data.splits import NoiseBank
from tests.conftest import compose_config
from tests.console import assert_one_error_line, run_main

SR = 16000


def _speech_like(n: int = 6, seed: int = 0) -> torch.Tensor:
    """Clips with a harmonic tone burst in the middle (a word between silences)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(SR) / SR
    f0 = 120 + 100 * torch.rand(n, 1, generator=g)
    voiced = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 6))
    return 0.2 * voiced * ((t > 0.3) & (t < 0.7)).float()


# each perturbation as f(input, generator) on what it acts on: waveforms, or log-mel (clips, frames, bands)
PERTURBATIONS = {
    "speed_factors": (lambda x, g: speed_perturb(x, (0.9, 1.0, 1.1), SR, g), "wave"),
    "pitch_semitones": (lambda x, g: pitch_perturb(x, (-2.0, 2.0), SR, generator=g), "wave"),
    "vtlp": (lambda x, g: MelWarp([0.9, 1.1], 40, 20.0, 7600.0)(x, g), "logmel"),
    "eq_db": (lambda x, g: RandomEQ(6.0, 40)(x, g), "logmel"),
}


def _input(kind: str) -> torch.Tensor:
    return _speech_like() if kind == "wave" else torch.randn(6, 97, 40, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("name", PERTURBATIONS)
def test_same_seed_same_output_and_the_length_is_kept(name):
    perturb, kind = PERTURBATIONS[name]
    x = _input(kind)
    a = perturb(x, torch.Generator().manual_seed(1))
    b = perturb(x, torch.Generator().manual_seed(1))
    c = perturb(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.dtype == x.dtype  # same samples, or frames and bands
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, x)
    assert torch.isfinite(a).all()


@pytest.mark.parametrize("semitones", [2.0, -2.0, 0.5])
def test_pitch_moves_by_the_semitones_and_the_word_stays_where_it_was(semitones):
    t = torch.arange(SR) / SR
    burst = ((t > 0.3) & (t < 0.6)).float()
    tone = (torch.sin(2 * math.pi * 440 * t) * burst)[None]
    rate = int(source_rates(torch.tensor([semitones]), SR)[0])
    shifted = shift_pitch(tone, rate, SR)[0]
    peak_hz = float(torch.fft.rfft(shifted).abs().argmax()) * SR / len(shifted)
    assert peak_hz == pytest.approx(440 * 2 ** (semitones / 12), abs=2.5)  # 1 Hz bins; the rate grid is 1 %
    energy = shifted.square()
    where = torch.nonzero(energy > 0.1 * energy.max()).squeeze(1) / SR
    assert float(where.min()) == pytest.approx(0.3, abs=0.015) and float(where.max()) == pytest.approx(0.6, abs=0.015)


def test_pitch_off_by_default_draws_nothing_and_spares_silence():
    default = WaveAugmentConfig()
    assert default.pitch_semitones is None
    g = torch.Generator().manual_seed(0)
    x = _speech_like()
    assert pitch_perturb(x, None, SR, generator=g) is x and pitch_perturb(x, (), SR, generator=g) is x
    assert torch.equal(g.get_state(), torch.Generator().manual_seed(0).get_state())
    silence = torch.tensor([True, False, True, False, False, False])
    out = pitch_perturb(x, (1.0, 2.0), SR, skip=silence, generator=g)
    assert torch.equal(out[silence], x[silence]) and not torch.equal(out[~silence], x[~silence])


def test_the_recipe_turns_pitch_on(tmp_path):
    from speechseq.config import validate_train

    cfg = compose_config("train", ["augment.pitch_semitones=[-2,2]"], tmp_path)
    validate_train(cfg)
    config = WaveAugmentConfig.from_cfg(cfg.augment)
    assert config.pitch_semitones == (-2.0, 2.0)
    assert WaveAugmentConfig.from_cfg(compose_config("train", [], tmp_path).augment).pitch_semitones is None
    augment = WaveAugment(NoiseBank(torch.zeros(0, SR)), SR, config, silence_label=0)
    labels = torch.tensor([0, 1, 2, 3, 4, 5])
    x = _speech_like()
    out, _, _ = augment(x, labels, torch.Generator().manual_seed(0))
    again, _, _ = augment(x, labels, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.equal(out, again)


@pytest.mark.parametrize("override,key", [
    ("augment.speed_factors=[0.4,1.0]", "augment.speed_factors"), ("augment.speed_factors=[1.0,2.5]", "augment.speed_factors"),
    ("augment.pitch_semitones=[-6,2]", "augment.pitch_semitones"), ("augment.pitch_semitones=[2,-2]", "augment.pitch_semitones"),
    ("augment.pitch_semitones=[1]", "augment.pitch_semitones"),
    ("augment.vtlp=[0.5,1.1]", "augment.vtlp"), ("augment.eq_db=30", "augment.eq_db"),
])
def test_an_out_of_range_factor_is_one_config_line_before_any_data(tmp_path, monkeypatch, capsys, override, key):
    def must_not_read(*args, **kwargs):
        raise AssertionError("read the data before checking the config")

    monkeypatch.setattr(train_mod, "prepare_data", must_not_read)
    code, _, err = run_main(train_mod.main, "speechseq-train", [override, f"data.root={tmp_path}", "trainer.device=cpu"],
                            tmp_path / "run", monkeypatch, capsys)
    assert code == 2
    assert_one_error_line(err, "speechseq-train", key)
