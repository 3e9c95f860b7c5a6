"""augment.vtlp: each clip's frequency axis scaled on the log-mel features (vocal tract length)."""

import pytest
import torch

from speechseq.augment.transforms import build_augmenters
from speechseq.augment.warp import MelWarp, hz_to_mel, mel_centres
from speechseq.config import ConfigError, validate_train
from speechseq.data.splits import NoiseBank
from speechseq.features.spec import FrontendSpec
from tests.conftest import compose_config

BANDS = (40, 20.0, 7600.0)


def one_band(band: int, n_mels: int = 40) -> torch.Tensor:
    feats = torch.zeros(1, 3, n_mels)
    feats[0, :, band] = 1.0
    return feats


def test_factor_one_changes_nothing():
    feats = torch.randn(4, 7, 40)
    assert torch.allclose(MelWarp([1.0, 1.0], *BANDS)(feats), feats, atol=1e-4)


def test_no_factors_is_the_identity_and_draws_nothing():
    feats = torch.randn(2, 5, 40)
    g = torch.Generator().manual_seed(3)
    before = g.get_state()
    assert MelWarp([], *BANDS)(feats, g) is feats
    assert torch.equal(g.get_state(), before)


@pytest.mark.parametrize("factor, moves", [(1.2, 1), (0.83, -1)])
def test_a_formant_moves_with_the_factor(factor, moves):
    """A longer vocal tract (factor < 1) puts the formants lower; a shorter one higher."""
    band = 15
    warped = MelWarp([factor, factor], *BANDS)(one_band(band))
    peak = int(warped[0, 0].argmax())
    assert (peak - band) * moves > 0
    mels = hz_to_mel(mel_centres(*BANDS))
    # the peak lands at the band nearest (in mel) the scaled frequency
    assert peak == int((mels - hz_to_mel(mel_centres(*BANDS)[band] * factor)).abs().argmin())


def test_every_band_reads_inside_the_spectrum_and_in_order():
    warp = MelWarp([0.8, 1.25], *BANDS)
    positions = warp.band_positions(torch.tensor([0.8, 0.9, 1.1, 1.25]))
    assert positions.min() >= 0 and positions.max() <= 39
    assert (positions.diff(dim=1) > 0).all()
    assert torch.allclose(positions[:, -1], torch.full((4,), 38.5), atol=1.0)  # f_max stays near f_max


def test_the_draw_follows_the_generator_and_differs_per_clip():
    warp, feats = MelWarp([0.9, 1.1], *BANDS), torch.randn(8, 4, 40)
    a = warp(feats, torch.Generator().manual_seed(1))
    b = warp(feats, torch.Generator().manual_seed(1))
    c = warp(feats, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len({round(float((a[i] - feats[i]).abs().sum()), 3) for i in range(8)}) > 1


def test_the_recipe_turns_it_on_for_the_frontend_bands(tmp_path):
    cfg = compose_config("train", ["augment.vtlp=[0.9,1.1]", "features.n_mels=32"], tmp_path)
    validate_train(cfg)
    spec = FrontendSpec(n_mels=32)
    _, spec_aug = build_augmenters(cfg.augment, NoiseBank(torch.zeros(0, 16000)), ["a", "b"], spec)
    assert spec_aug.warp is not None and spec_aug.warp.factors == (0.9, 1.1)
    assert len(spec_aug.warp.centres) == 32
    default = compose_config("train", [], tmp_path).augment
    assert build_augmenters(default, NoiseBank(torch.zeros(0, 16000)), ["a", "b"], FrontendSpec())[1].warp is None


@pytest.mark.parametrize("value", ["[1.1,0.9]", "[0.5,1.1]", "[0.9,1.6]", "[0.9]"])
def test_bad_factors_fail_with_the_key(tmp_path, value):
    cfg = compose_config("train", [f"augment.vtlp={value}"], tmp_path)
    with pytest.raises(ConfigError, match="augment.vtlp"):
        validate_train(cfg)
