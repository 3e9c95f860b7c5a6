import pytest
import torch

from speechseq.models.recurrent import ModelSpec, RecurrentClassifier, count_parameters


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("pooling", ["mean", "attention"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_every_cell_and_pooling_gives_logits(cell, pooling, bidirectional):
    model = RecurrentClassifier(ModelSpec(40, 12, cell=cell, pooling=pooling, bidirectional=bidirectional,
                                          hidden_size=16, num_layers=2))
    logits = model(torch.randn(4, 98, 40))
    assert logits.shape == (4, 12)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_default_is_a_stacked_bilstm_under_one_million_parameters():
    model = RecurrentClassifier(ModelSpec(40, 12))
    assert isinstance(model.rnn, torch.nn.LSTM) and model.rnn.bidirectional and model.rnn.num_layers >= 2
    assert count_parameters(model) < 1_000_000


def test_output_uses_every_frame_not_only_the_last():
    torch.manual_seed(0)
    model = RecurrentClassifier(ModelSpec(8, 3, hidden_size=8)).eval()
    x = torch.randn(1, 20, 8)
    y = x.clone()
    y[:, 0] += 5.0  # change only the first frame
    assert not torch.allclose(model(x), model(y))


def test_frame_stack_halves_the_steps():
    model = RecurrentClassifier(ModelSpec(40, 5, frame_stack=2, hidden_size=8))
    assert model.stack_frames(torch.randn(2, 99, 40)).shape == (2, 49, 80)
    assert model(torch.randn(2, 99, 40)).shape == (2, 5)


@pytest.mark.parametrize("kwargs", [dict(cell="transformer"), dict(pooling="last"), dict(hidden_size=0),
                                    dict(dropout=1.5), dict(frame_stack=0)])
def test_bad_specs_are_rejected(kwargs):
    with pytest.raises(ValueError):
        ModelSpec(40, 12, **kwargs)
