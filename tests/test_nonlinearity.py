"""model.nonlinearity=tanh|relu for model=rnn: config, training, and every runtime on the checkpoint."""

import numpy as np
import pytest
import torch

from speechseq.config import ConfigError, validate_train
from speechseq.models.spec import ModelSpec
from tests.conftest import compose_config


@pytest.mark.parametrize("overrides,message", [
    (["model=lstm", "model.nonlinearity=relu"], "model.cell=rnn only"),
    (["model=rnn", "model.nonlinearity=sigmoid"], "not tanh or relu"),
])
def test_bad_nonlinearity_is_a_config_error(tmp_path, overrides, message):
    cfg = compose_config("train", overrides, tmp_path)
    with pytest.raises(ConfigError, match=f"model.nonlinearity: .*{message}"):
        validate_train(cfg)


def test_rnn_config_composes_with_either_activation(tmp_path):
    assert compose_config("train", ["model=rnn"], tmp_path).model.nonlinearity == "tanh"
    cfg = compose_config("train", ["model=rnn", "model.nonlinearity=relu"], tmp_path)
    validate_train(cfg)
    assert compose_config("train", [], tmp_path).model.nonlinearity == "tanh"  # the LSTM default


def test_old_metadata_without_the_key_is_a_tanh_rnn():
    assert ModelSpec.from_dict({"n_inputs": 40, "n_classes": 12, "cell": "rnn"}).nonlinearity == "tanh"


def test_a_relu_rnn_trains_and_runs_the_same_in_torch_numpy_and_onnx(train_cfg, tmp_path):
    from speechseq.deploy.checkpoint import load_inference, read_metadata
    from speechseq.deploy.export import export_onnx
    from speechseq.deploy.numpy_runtime import NumpyClassifier
    from speechseq.deploy.onnx_runtime import OnnxClassifier
    from speechseq.training.train import train

    summary = train(train_cfg("model=rnn", "model.nonlinearity=relu", "trainer.test_after_training=false", epochs=1))
    checkpoint = summary["best_checkpoint"]
    assert read_metadata(checkpoint)["model"]["nonlinearity"] == "relu"
    model = load_inference(checkpoint).model
    assert isinstance(model.rnn, torch.nn.RNN) and model.rnn.nonlinearity == "relu"
    feats = (np.random.default_rng(0).normal(0, 3, (3, 98, 40)) - 8).astype(np.float32)
    with torch.no_grad():
        ref = torch.softmax(model(torch.from_numpy(feats)), -1).numpy()
    assert np.abs(NumpyClassifier(checkpoint).batch(feats) - ref).max() < 1e-5
    export_onnx(checkpoint, tmp_path / "model.onnx")
    assert np.abs(OnnxClassifier(tmp_path / "model.onnx").classify_batch(feats) - ref).max() < 1e-4
