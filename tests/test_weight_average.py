"""optim.ema_decay: the average's arithmetic, and that a run validates and saves it."""

import pytest
import torch
from safetensors.torch import load_file

from speechseq.training.average import WeightAverage, weight_average
from speechseq.training.train import train


def _linear(value: float) -> torch.nn.Linear:
    layer = torch.nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.fill_(value)
        layer.bias.fill_(value)
    layer.register_buffer("scale", torch.tensor([value]))
    return layer


def test_each_update_moves_the_average_by_one_minus_the_capped_decay():
    model = _linear(0.0)
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.scale.fill_(7.0)
    average.update(model)  # cap (1+1)/(10+1) = 0.18 < 0.5: moves 82 % of the way
    assert average.model.weight[0, 0].item() == pytest.approx(1 - 2 / 11)
    assert average.model.scale.item() == 7.0  # buffers are copied, not averaged
    for _ in range(50):
        average.update(model)
    assert average.decay_now() == 0.5
    # later updates use the decay itself: after many the average has caught up with a still model
    assert average.model.weight[0, 0].item() == pytest.approx(1.0, abs=1e-9)
    assert average.model.bias[0].item() == pytest.approx(0.0, abs=1e-9)  # the bias never moved
    assert not any(p.requires_grad for p in average.model.parameters())


def test_off_at_zero_and_restored_from_resume_state():
    model = _linear(1.0)
    assert weight_average(model, 0.0, None) is None
    saved = WeightAverage(_linear(3.0), 0.9)
    saved.updates = 12
    restored = weight_average(model, 0.9, {"ema": saved.state_dict()})
    assert restored.updates == 12 and restored.model.weight[0, 0].item() == 3.0
    # resume state written before the average existed: it starts from the resumed weights
    fresh = weight_average(model, 0.9, {"model": model.state_dict()})
    assert fresh.updates == 0 and fresh.model.weight[0, 0].item() == 1.0
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(model, 1.0)


def test_a_run_saves_the_average_as_its_best_checkpoint(train_cfg):
    summary = train(train_cfg("optim.ema_decay=0.9", "trainer.test_after_training=false", epochs=1))
    best = load_file(str(summary["best_checkpoint"]))
    last = torch.load(summary["last_checkpoint"], weights_only=True)
    averaged, trained = last["ema"]["weights"], last["model"]
    assert last["ema"]["updates"] > 0
    assert all(torch.equal(best[k], averaged[k]) for k in best)
    # the saved weights are the average, not the model the optimiser stepped
    assert any(not torch.equal(best[k], trained[k]) for k in best if k in trained)
