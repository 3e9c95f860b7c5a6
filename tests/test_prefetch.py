"""The training feed a batch ahead: same batches, same weights, errors and early stops handled."""

import threading

import pytest
import torch
from safetensors.torch import load_file

from speechseq.augment.transforms import (
    SpecAugment,
    WaveAugment,
    WaveAugmentConfig,
    mask_runs,
)
from speechseq.data.prefetch import Ahead
from speechseq.data.splits import NoiseBank
from speechseq.training.feed import use_prefetch
from speechseq.training.train import train
from tests.conftest import compose_config, tiny_train_overrides


def test_ahead_yields_everything_in_order():
    assert list(Ahead(iter(range(50)), depth=3)) == list(range(50))


def test_ahead_raises_the_producers_error_at_its_place():
    def items():
        yield 1
        yield 2
        raise KeyError("bad item")

    got = []
    with pytest.raises(KeyError, match="bad item"):
        for x in Ahead(items()):
            got.append(x)
    assert got == [1, 2]


def test_ahead_stops_its_thread_when_the_consumer_leaves_early():
    before = threading.active_count()
    with Ahead(iter(range(10_000)), depth=2) as ahead:
        assert next(ahead) == 0
    assert threading.active_count() <= before


def test_mask_runs_masks_one_run_within_bounds_per_clip():
    feats = torch.ones(64, 98, 40)
    g = torch.Generator().manual_seed(0)
    for dim, param in ((1, 10), (2, 7)):
        out = mask_runs(feats, dim, param, g)
        other = 3 - dim
        masked = (out == 0).all(other)  # (batch, size along dim): whole rows/columns zeroed
        assert torch.equal((out == 0).any(other), masked)  # nothing partly masked
        widths = masked.sum(1)
        assert widths.max() < param and widths.float().mean() > param / 4
        runs = masked.int().diff(dim=1).abs().sum(1)  # a single run has at most two edges
        assert runs.max() <= 2


def test_augmentation_from_the_same_generator_is_the_same():
    noise = NoiseBank(torch.randn(4, 16000) * 0.1)
    cfg = WaveAugmentConfig(fragment_prob=0.3, gain_db=(-6.0, 6.0), silence_dbfs=(-60.0, -10.0),
                            speed_factors=(0.9, 1.0, 1.1))
    aug, spec = WaveAugment(noise, 16000, cfg, silence_label=0, unknown_label=1), SpecAugment()
    waves, labels = torch.randn(16, 16000) * 0.2, torch.arange(16) % 12

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        w, lab, wt = aug(waves, labels, g)
        torch.rand(1000)  # draws from the global generator in between must not matter
        return w, lab, wt, spec(torch.ones(16, 98, 40), g)

    first, again, other = run(3), run(3), run(4)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])


def test_prefetch_modes():
    cpu = torch.device("cpu")
    assert use_prefetch("true", cpu) and use_prefetch(True, cpu) and not use_prefetch(False, cpu)
    with pytest.raises(ValueError, match="for CPU training"):
        use_prefetch(True, torch.device("cuda"))
    with pytest.raises(ValueError, match="choose auto"):
        use_prefetch("sometimes", cpu)


def test_features_prepared_ahead_train_the_same_weights(synthetic_root, tmp_path):
    weights = []
    for mode in ("false", "true"):
        overrides = tiny_train_overrides(synthetic_root, tmp_path / "cache", epochs=2) + [
            "augment=default", "augment.speed_factors=[0.9,1.0,1.1]", "augment.fragment_prob=0.3",
            "model.dropout=0.2", "model.num_layers=2", "trainer.test_after_training=false",
            f"trainer.prefetch={mode}"]
        weights.append(load_file(str(train(compose_config("train", overrides, tmp_path / mode))["best_checkpoint"])))
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
