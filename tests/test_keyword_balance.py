"""optim.keyword_balance: loss weights that lift the rarer commands."""

from __future__ import annotations

import pytest
import torch

from speechseq.training.step import keyword_class_weights


def test_weights_follow_the_inverse_counts_and_average_one():
    labels = torch.tensor([0, 1, 2, 2, 2, 2, 2, 2, 3, 3])   # silence, unknown, a word x6, a word x2
    w = keyword_class_weights(labels, list(range(2, 10)), 4, [2, 3], power=1.0)
    assert w[0] == 1 and w[1] == 1
    assert w[3] / w[2] == pytest.approx(3.0)           # a third of the clips: three times the weight
    assert (w[2] + w[3]) / 2 == pytest.approx(1.0)
    half = keyword_class_weights(labels, list(range(2, 10)), 4, [2, 3], power=0.5)
    assert half[3] / half[2] == pytest.approx(3 ** 0.5)
    assert keyword_class_weights(labels, list(range(2, 10)), 4, [2, 3], power=0.0) is None


def test_the_weights_reach_the_loss(train_cfg):
    from speechseq.training.data import frontend_spec, prepare_data
    from speechseq.training.setup import _keyword_weights

    cfg = train_cfg("optim.keyword_balance=1.0")
    data = prepare_data(cfg, frontend_spec(cfg), load_test=False)
    w = _keyword_weights(cfg, data)
    assert w is not None and w[0] == 1 and w[1] == 1
    assert _keyword_weights(train_cfg(), data) is None


def test_out_of_range_is_a_config_error(train_cfg):
    from speechseq.config import ConfigError, validate_train

    with pytest.raises(ConfigError, match="optim.keyword_balance"):
        validate_train(train_cfg("optim.keyword_balance=3"))


def logits_step():
    """A TrainStep whose model passes its input through as logits (plus a bias), so a test picks the logits."""
    from torch import nn

    from speechseq.training.step import TrainStep

    class Fixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.zeros(3))

        def forward(self, x, normalized=True):
            return x + self.bias

    model = Fixed()
    return TrainStep(model, nn.Identity(), torch.optim.SGD(model.parameters(), lr=0.0), torch.device("cpu"), "fp32")


def test_update_weighs_each_clip_by_its_class():
    from torch import nn

    step = logits_step()
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    labels = torch.tensor([1, 2])
    per_clip = nn.functional.cross_entropy(logits, labels, reduction="none")
    plain, _ = step.update(logits, labels)
    step.class_weights = torch.tensor([1.0, 1.0, 3.0])
    weighted, _ = step.update(logits, labels)
    assert plain.item() == pytest.approx(per_clip.mean().item())
    assert weighted.item() == pytest.approx(((per_clip[0] + 3 * per_clip[1]) / 4).item())
