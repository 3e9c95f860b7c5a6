"""augment.eq_db: a smooth random equaliser per clip on the log-mel features."""

import math

import pytest
import torch

from speechseq.augment.eq import RandomEQ
from speechseq.augment.transforms import build_augmenters
from speechseq.config import ConfigError, validate_train
from speechseq.data.splits import NoiseBank
from speechseq.features.spec import FrontendSpec
from tests.conftest import compose_config


def test_zero_db_is_the_identity_and_draws_nothing():
    feats = torch.randn(2, 5, 40)
    g = torch.Generator().manual_seed(0)
    before = g.get_state()
    assert RandomEQ(0.0, 40)(feats, g) is feats
    assert torch.equal(g.get_state(), before)


def test_each_clip_gets_one_curve_for_all_its_frames_within_the_bound():
    feats = torch.randn(16, 7, 40)
    out = RandomEQ(6.0, 40)(feats, torch.Generator().manual_seed(1))
    gains = out - feats
    assert torch.allclose(gains, gains[:, :1].expand_as(gains), atol=1e-5)  # same curve in every frame
    peak_db = gains[:, 0].abs().amax(dim=1) * 10.0 / math.log(10.0)
    assert (peak_db <= 6.0 + 1e-4).all() and peak_db.max() > 2.0
    assert len({round(float(p), 4) for p in peak_db}) == 16                 # clips differ


def test_the_curve_is_smooth_across_bands():
    """No notch: neighbouring bands differ by a small share of the peak (three cosines over 40 bands)."""
    curves = RandomEQ(12.0, 40).curves(64, torch.device("cpu"), torch.Generator().manual_seed(2))
    step = curves.diff(dim=1).abs().amax()
    assert step < 0.25 * 12.0 * math.log(10.0) / 10.0


def test_the_draw_follows_the_generator():
    eq, feats = RandomEQ(6.0, 40), torch.zeros(4, 3, 40)
    a = eq(feats, torch.Generator().manual_seed(5))
    assert torch.equal(a, eq(feats, torch.Generator().manual_seed(5)))
    assert not torch.equal(a, eq(feats, torch.Generator().manual_seed(6)))


def test_the_recipe_turns_it_on_before_the_normalisation(tmp_path):
    cfg = compose_config("train", ["augment.eq_db=6", "features.n_mels=32"], tmp_path)
    validate_train(cfg)
    _, spec_aug = build_augmenters(cfg.augment, NoiseBank(torch.zeros(0, 16000)), ["a", "b"], FrontendSpec(n_mels=32))
    assert spec_aug.eq is not None and spec_aug.eq.shapes.shape == (3, 32)
    logmel = torch.zeros(2, 4, 32)
    assert not torch.equal(spec_aug.warp_logmel(logmel, torch.Generator().manual_seed(0)), logmel)
    default = compose_config("train", [], tmp_path).augment
    assert build_augmenters(default, NoiseBank(torch.zeros(0, 16000)), ["a", "b"], FrontendSpec())[1].eq is None


@pytest.mark.parametrize("value", ["-1", "30"])
def test_out_of_range_fails_with_the_key(tmp_path, value):
    cfg = compose_config("train", [f"augment.eq_db={value}"], tmp_path)
    with pytest.raises(ConfigError, match="augment.eq_db"):
        validate_train(cfg)
