"""The numpy forward pass against torch: every cell, direction, depth, pooling and frame stack."""

import itertools

import numpy as np
import pytest
import torch

from speechseq.models.numpy_model import NumpyRecurrentClassifier, expected_shapes
from speechseq.models.recurrent import ModelSpec, RecurrentClassifier

TOLERANCE = 1e-5
GRID = list(itertools.product(["lstm", "gru", "rnn"], [False, True], [1, 2, 3], ["mean", "attention"], [1, 2, 3]))


def gap(got: np.ndarray, ref: np.ndarray) -> float:
    """Largest difference, relative to the logits' scale where it exceeds 1 (float32 keeps ~7 digits)."""
    return float(np.abs(got - ref).max() / max(1.0, np.abs(ref).max()))


def random_model(seed=0, **spec_kw) -> RecurrentClassifier:
    torch.manual_seed(seed)
    model = RecurrentClassifier(ModelSpec(40, 7, hidden_size=24, **spec_kw)).eval()
    model.set_normalization(torch.randn(40) * 2 - 8, torch.rand(40) * 3 + 0.5)
    with torch.no_grad():  # larger than the default init, so that the gates saturate and differ
        for name, p in model.rnn.named_parameters():
            p.mul_(2.0)
    return model


def features(batch=3, frames=61, seed=1) -> np.ndarray:
    return (np.random.default_rng(seed).normal(0, 3, (batch, frames, 40)) - 8).astype(np.float32)


def state_dict(model) -> dict:
    return {k: v.numpy() for k, v in model.state_dict().items()}


def torch_outputs(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        logits = model(torch.from_numpy(x))
    return logits.numpy(), torch.softmax(logits, -1).numpy()


@pytest.mark.parametrize("cell,bidirectional,num_layers,pooling,frame_stack", GRID)
def test_numpy_matches_torch_on_random_weights(cell, bidirectional, num_layers, pooling, frame_stack):
    model = random_model(cell=cell, bidirectional=bidirectional, num_layers=num_layers, pooling=pooling,
                         frame_stack=frame_stack)
    x = features()
    ref_logits, ref_probs = torch_outputs(model, x)
    numpy_model = NumpyRecurrentClassifier(model.spec, state_dict(model))
    assert gap(numpy_model.logits(x), ref_logits) < TOLERANCE
    assert np.abs(numpy_model.probabilities(x) - ref_probs).max() < TOLERANCE
    # float64 arithmetic is a reference too (torch's float32 rounding is the only difference)
    assert gap(NumpyRecurrentClassifier(model.spec, state_dict(model), np.float64).logits(x), ref_logits) < TOLERANCE


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_plain_rnn_activation_is_followed(nonlinearity, bidirectional):
    model = random_model(cell="rnn", nonlinearity=nonlinearity, bidirectional=bidirectional, num_layers=2)
    assert model.rnn.nonlinearity == nonlinearity
    x = features()
    ref_logits, _ = torch_outputs(model, x)
    assert gap(NumpyRecurrentClassifier(model.spec, state_dict(model)).logits(x), ref_logits) < TOLERANCE
    other = "relu" if nonlinearity == "tanh" else "tanh"  # the same weights under the other activation differ
    swapped = NumpyRecurrentClassifier(ModelSpec(**{**model.spec.to_dict(), "nonlinearity": other}), state_dict(model))
    assert gap(swapped.logits(x), ref_logits) > 1e-3


def test_gate_order_matters():
    """The check can fail: LSTM gates read in another order than i, f, g, o give other logits."""
    model = random_model(cell="lstm", num_layers=1, bidirectional=False)
    tensors = state_dict(model)
    for name in ("rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"):
        i, f, g, o = np.split(tensors[name], 4)
        tensors[name] = np.concatenate([f, i, g, o])  # i and f swapped
    ref_logits, _ = torch_outputs(model, features())
    assert gap(NumpyRecurrentClassifier(model.spec, tensors).logits(features()), ref_logits) > 1e-3


def test_windows_of_any_length_and_a_trailing_partial_group():
    model = random_model(cell="gru", frame_stack=3)
    numpy_model = NumpyRecurrentClassifier(model.spec, state_dict(model))
    for frames in (3, 4, 5, 98, 200):
        x = features(batch=1, frames=frames, seed=frames)
        assert gap(numpy_model.logits(x), torch_outputs(model, x)[0]) < TOLERANCE
    with pytest.raises(ValueError, match="at least 3 frames"):
        numpy_model.logits(features(batch=1, frames=2))
    with pytest.raises(ValueError, match="40"):
        numpy_model.logits(np.zeros((1, 98, 64), np.float32))


def test_expected_shapes_are_the_torch_state_dict():
    for cell, bidirectional, layers, pooling, k in GRID[::7]:
        model = random_model(cell=cell, bidirectional=bidirectional, num_layers=layers, pooling=pooling, frame_stack=k)
        assert expected_shapes(model.spec) == {n: tuple(t.shape) for n, t in model.state_dict().items()}


def test_mismatched_weights_are_refused_with_the_names():
    model = random_model()
    tensors = state_dict(model)
    del tensors["rnn.bias_hh_l1_reverse"]
    tensors["head.weight"] = tensors["head.weight"][:, :5]
    with pytest.raises(ValueError, match=r"missing \['rnn.bias_hh_l1_reverse'\].*head.weight \(7, 5\)"):
        NumpyRecurrentClassifier(model.spec, tensors)


@pytest.mark.parametrize("kwargs", [dict(nonlinearity="sigmoid"), dict(cell="lstm", nonlinearity="relu"),
                                    dict(cell="gru", nonlinearity="relu")])
def test_bad_nonlinearity_is_rejected(kwargs):
    with pytest.raises(ValueError, match="nonlinearity"):
        ModelSpec(40, 12, **kwargs)
