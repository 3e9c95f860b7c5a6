"""The speech-embedding front end in torch, for training and evaluation on the batch's device.

`SpeechEmbedding(waves) -> (batch, embeddings, 96)`: the mel spectrogram of `embedding_mel`
(the same numbers, in float32) and the embedding network, rebuilt layer by layer from openWakeWord's
`embedding_model.onnx` (needs the `onnx` package to read it). The network is convolutional in time
with a stride of 8 mel frames, so one pass over a clip's mel frames gives every embedding that the
ONNX graph gives on 76-frame windows 8 frames apart, at a third of the work for a one-second clip
(the windows overlap). Its weights are buffers: frozen, outside the classifier's parameters and
state_dict. tests/test_speech_embedding.py checks it against onnxruntime on the ONNX file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from speechseq.features.embedding_mel import (
    INT16_SCALE,
    MEL_HOP,
    MEL_N_FFT,
    POWER_FLOOR,
    TOP_DB,
    analysis_window,
    slaney_filterbank,
)
from speechseq.features.embedding_spec import (
    EMBEDDING_DIM,
    EmbeddingSpec,
    embedding_model_path,
    require_module,
)


class TorchMel(nn.Module):
    """Waves (batch, samples) in [-1, 1] -> scaled mel frames (batch, frames, 32), as embedding_mel."""

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.tensor(analysis_window() * INT16_SCALE, dtype=torch.float32))
        self.register_buffer("filterbank", torch.tensor(slaney_filterbank(), dtype=torch.float32))

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        frames = waves.float().unfold(-1, MEL_N_FFT, MEL_HOP) * self.window
        spectrum = torch.fft.rfft(frames, n=MEL_N_FFT, dim=-1)
        power = spectrum.real.square() + spectrum.imag.square()
        db = 10.0 * torch.log10((power @ self.filterbank).clamp_min(POWER_FLOOR))
        db = torch.maximum(db, db.amax(dim=-1, keepdim=True) - TOP_DB)
        return db / 10.0 + 2.0


class ChannelAffine(nn.Module):
    """An inference-time BatchNormalization: x * scale + shift per channel."""

    def __init__(self, scale: np.ndarray, shift: np.ndarray):
        super().__init__()
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32)[None, :, None, None])
        self.register_buffer("shift", torch.tensor(shift, dtype=torch.float32)[None, :, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


class ClampMin(nn.Module):
    def __init__(self, floor: float):
        super().__init__()
        self.floor = floor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp_min(self.floor)


class FrozenConv(nn.Module):
    """A Conv node: weights as buffers, zero padding on the mel axis only (time stays 'valid')."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None, pads: list[int]):
        super().__init__()
        if pads[0] or pads[2] or pads[1] != pads[3]:
            raise ValueError(f"unexpected Conv padding {pads} in the embedding graph")
        self.register_buffer("weight", torch.tensor(weight, dtype=torch.float32))
        self.register_buffer("bias", None if bias is None else torch.tensor(bias, dtype=torch.float32))
        self.padding = (0, pads[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=self.padding)


def _layer(node, attrs: dict, weights: dict) -> nn.Module | None:
    """One node of the graph's chain as a torch layer; None for the input/output reshapes."""
    op = node.op_type
    if op == "Conv":
        return FrozenConv(weights[node.input[1]], weights.get(node.input[2]) if len(node.input) > 2 else None,
                          list(attrs.get("pads", [0, 0, 0, 0])))
    if op == "Relu":
        return nn.ReLU()
    if op == "LeakyRelu":
        return nn.LeakyReLU(attrs["alpha"])
    if op == "Max":
        return ClampMin(float(weights[node.input[1]].reshape(-1)[0]))
    if op == "MaxPool":
        return nn.MaxPool2d(tuple(attrs["kernel_shape"]), tuple(attrs["strides"]))
    if op == "BatchNormalization":
        gamma, beta, mean, var = (weights[name] for name in node.input[1:5])
        scale = gamma / np.sqrt(var + attrs.get("epsilon", 1e-5))
        return ChannelAffine(scale, beta - mean * scale)
    if op == "Pad":
        if list(weights[node.input[1]]) != [0, 0, 1, 0, 0, 0, 1, 0]:  # NHWC: one band each side of the mel axis
            raise ValueError(f"unexpected Pad {list(weights[node.input[1]])} in the embedding graph")
        return nn.ZeroPad2d((1, 1, 0, 0))
    if op == "Reshape":
        return None
    raise ValueError(f"the embedding graph has a {op} node, which this converter does not know")


def load_network(path: str | Path) -> nn.Sequential:
    """The ONNX graph (a chain of nodes) as an nn.Sequential on (batch, 1, mel frames, 32) input."""
    onnx = require_module("onnx", "onnx", "to read the embedding's weights into torch")
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    layers = []
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        layer = _layer(node, attrs, weights)
        if layer is not None:
            layers.append(layer)
    return nn.Sequential(*layers)


ENGINES = ("auto", "torch", "onnxruntime")
ORT_CHUNK = 8  # clips per onnxruntime call: on a 2-core Xeon 1 to 8 were as fast per clip, 64 about 20 % slower


class SpeechEmbedding(nn.Module):
    """Waveforms (batch, samples) in [-1, 1] -> embeddings (batch, frames, 96), frozen.

    `engine`: `onnxruntime` runs the ONNX graph (rewritten for whole clips, `full_conv_graph`) on
    the CPU, 2-3x faster there than torch's convolutions; `torch` runs the converted network on the
    waves' device; `auto` (default) takes onnxruntime for waves on the CPU and torch elsewhere.
    The mel spectrogram is computed in torch either way.
    """

    def __init__(self, spec: EmbeddingSpec = EmbeddingSpec(), engine: str = "auto"):
        super().__init__()
        if engine not in ENGINES:
            raise ValueError(f"engine={engine!r}: choose one of {list(ENGINES)}")
        self.spec, self.engine = spec, engine
        self.path = embedding_model_path(spec)
        self.mel = TorchMel()
        self._networks: dict = {}   # device -> the torch network, built on first use (not a submodule)
        self._session = None        # the onnxruntime session, made on first use

    def network(self, device: torch.device) -> nn.Sequential:
        if device not in self._networks:
            self._networks[device] = load_network(self.path).to(device)
        return self._networks[device]

    def _onnx_embed(self, mel: torch.Tensor) -> torch.Tensor:
        if self._session is None:
            from speechseq.features.embedding_onnx import full_conv_graph, ort_session

            self._session = ort_session(full_conv_graph(self.path), threads=torch.get_num_threads())
        x = np.ascontiguousarray(mel.numpy()[..., None])
        out = [self._session.run(None, {"input_1": x[i:i + ORT_CHUNK]})[0] for i in range(0, len(x), ORT_CHUNK)]
        return torch.from_numpy(np.concatenate(out))

    def embed_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """Scaled mel frames (batch, frames, 32) -> (batch, (frames - 76) // 8 + 1, 96)."""
        if self.engine == "onnxruntime" or (self.engine == "auto" and mel.device.type == "cpu"):
            return self._onnx_embed(mel.cpu())
        out = self.network(mel.device)(mel[:, None])      # (batch, 96, embeddings, 1)
        return out.squeeze(-1).transpose(1, 2)

    @torch.no_grad()
    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        if waves.shape[-1] < self.spec.n_fft:
            return waves.new_zeros((waves.shape[0], 0, EMBEDDING_DIM))
        with torch.autocast(device_type=waves.device.type, enabled=False):
            return self.embed_mel(self.mel(waves.float())).to(waves.device)
