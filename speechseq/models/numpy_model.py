"""The whole classifier in numpy: normalisation, frame stacking, stacked (bi)directional LSTM / GRU /
RNN in PyTorch's weight layout, mean or attention pooling, the head and softmax.

It reads the tensors of `RecurrentClassifier.state_dict()` (from a .safetensors checkpoint, see
speechseq.deploy.numpy_runtime) and gives the same numbers as torch; docs/lstm.md sets each line here
beside its equation. Both directions of a layer run in one loop over time: the backward one reads
the time-reversed input, so each step is one batched matmul over (direction, batch).
"""

from __future__ import annotations

import numpy as np

from speechseq.models.spec import ModelSpec

GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # blocks of hidden_size rows in weight_ih / weight_hh


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + e^-x), without overflow for large -x


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# Steps: `xw` is the input part W_ih x_t + b_ih, computed for every t before the loop (for the
# LSTM and the plain RNN b_hh is added there too); `h`, `c` are (directions, batch, hidden).

def lstm_step(xw: np.ndarray, state: tuple, w_hh: np.ndarray, b_hh, act=None):
    """One LSTM step; the gate rows are in PyTorch's order i, f, g, o."""
    h, c = state
    H = h.shape[-1]
    z = xw + h @ w_hh                                  # the four gates' pre-activations
    s = sigmoid(z)                                     # one call for i, f, o (g's share is unused)
    i, f, o = s[..., :H], s[..., H:2 * H], s[..., 3 * H:]
    g = np.tanh(z[..., 2 * H:3 * H])                   # the candidate
    c = f * c + i * g
    h = o * np.tanh(c)
    return h, (h, c)


def gru_step(xw: np.ndarray, state: tuple, w_hh: np.ndarray, b_hh: np.ndarray, act=None):
    """One GRU step, gates r, z, n; the reset gate scales the recurrent part of n (PyTorch's GRU)."""
    (h,) = state
    H = h.shape[-1]
    hw = h @ w_hh + b_hh                               # W_hh h_{t-1} + b_hh, all three gates
    rz = sigmoid(xw[..., :2 * H] + hw[..., :2 * H])
    r, z = rz[..., :H], rz[..., H:]
    n = np.tanh(xw[..., 2 * H:] + r * hw[..., 2 * H:])
    h = n + z * (h - n)                                # = (1 - z) * n + z * h
    return h, (h,)


def rnn_step(xw: np.ndarray, state: tuple, w_hh: np.ndarray, b_hh, act=np.tanh):
    """One plain (Elman) RNN step: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""
    (h,) = state
    h = act(xw + h @ w_hh)
    return h, (h,)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


STEPS = {"lstm": lstm_step, "gru": gru_step, "rnn": rnn_step}
ACTIVATIONS = {"tanh": np.tanh, "relu": relu}
FOLDS_B_HH = {"lstm": True, "rnn": True, "gru": False}  # b_hh is constant in time unless r scales it


class RecurrentLayer:
    """One layer, all its directions: weights stacked as (directions, ...) and transposed for x @ W."""

    def __init__(self, tensors: dict, layer: int, spec: ModelSpec, dtype):
        suffixes = ["", "_reverse"][:spec.directions]

        def stacked(name: str) -> np.ndarray:
            return np.stack([np.asarray(tensors[f"rnn.{name}_l{layer}{s}"], dtype) for s in suffixes])

        self.w_ih = stacked("weight_ih").transpose(0, 2, 1).copy()   # (D, inputs, G*H)
        self.w_hh = stacked("weight_hh").transpose(0, 2, 1).copy()   # (D, H, G*H)
        self.b_ih = stacked("bias_ih")[:, None, None, :]             # (D, 1, 1, G*H)
        self.b_hh = stacked("bias_hh")[:, None, :]                   # (D, 1, G*H)
        if FOLDS_B_HH[spec.cell]:
            self.b_ih, self.b_hh = self.b_ih + self.b_hh[:, None], None
        self.step = STEPS[spec.cell]
        self.act = ACTIVATIONS[spec.nonlinearity]
        self.hidden = spec.hidden_size
        self.cell = spec.cell

    def initial_state(self, batch: int, dtype) -> tuple:
        zeros = np.zeros((len(self.w_hh), batch, self.hidden), dtype)
        return (zeros, zeros.copy()) if self.cell == "lstm" else (zeros,)

    def __call__(self, x: np.ndarray, state: tuple | None = None) -> tuple[np.ndarray, tuple]:
        """(B, T, inputs) -> outputs (B, T, D*H) and the final state ((D, B, H) arrays)."""
        batch, steps, _ = x.shape
        directions = len(self.w_ih)
        # the input projection for every step at once; the backward direction reads time reversed
        xw = np.matmul(x[None], self.w_ih[:, None]) + self.b_ih          # (D, B, T, G*H)
        if directions == 2:
            xw[1] = xw[1, :, ::-1].copy()
        xw = np.ascontiguousarray(xw.transpose(2, 0, 1, 3))              # (T, D, B, G*H): xw[t] contiguous
        state = self.initial_state(batch, x.dtype) if state is None else state
        out = np.empty((steps, directions, batch, self.hidden), x.dtype)
        for t in range(steps):
            out[t], state = self.step(xw[t], state, self.w_hh, self.b_hh, self.act)
        if directions == 2:
            out[:, 1] = out[::-1, 1].copy()                                  # back to forward time order
        return out.transpose(2, 0, 1, 3).reshape(batch, steps, directions * self.hidden), state


class NumpyRecurrentClassifier:
    """`RecurrentClassifier` (inference) from its state_dict tensors, as numpy arrays.

    `dtype` is the arithmetic precision: float32 (as torch computes; within 1e-6 of it on the
    shipped model) or float64 (slower; a reference free of float32 rounding).
    """

    def __init__(self, spec: ModelSpec, tensors: dict, dtype=np.float32):
        self.spec, self.dtype = spec, np.dtype(dtype)
        self._check_shapes(tensors)
        self.mean = np.asarray(tensors["feature_mean"], self.dtype)
        self.std = np.asarray(tensors["feature_std"], self.dtype)
        self.layers = [RecurrentLayer(tensors, k, spec, self.dtype) for k in range(spec.num_layers)]
        self.head_w = np.asarray(tensors["head.weight"], self.dtype).T             # (D*H, classes)
        self.head_b = np.asarray(tensors["head.bias"], self.dtype)
        if spec.pooling == "attention":
            self.score_w = np.asarray(tensors["pool.score.weight"], self.dtype)[0]  # (D*H,)
            self.score_b = np.asarray(tensors["pool.score.bias"], self.dtype)[0]

    def _check_shapes(self, tensors: dict) -> None:
        expected = expected_shapes(self.spec)
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        wrong = [f"{k} {tuple(tensors[k].shape)} (expected {expected[k]})" for k in sorted(set(expected) & set(tensors))
                 if tuple(tensors[k].shape) != expected[k]]
        if missing or unexpected or wrong:
            raise ValueError(f"weights do not match the model described in its metadata "
                             f"(missing {missing}, unexpected {unexpected}, wrong shapes {wrong})")

    def normalize(self, features: np.ndarray) -> np.ndarray:
        return (np.asarray(features, self.dtype) - self.mean) / self.std

    def stack_frames(self, x: np.ndarray) -> np.ndarray:
        """(B, T, F) -> (B, T // k, k * F); a trailing partial group is dropped (as the torch model)."""
        k = self.spec.frame_stack
        batch, frames, feats = x.shape
        usable = frames - frames % k
        return x[:, :usable].reshape(batch, usable // k, k * feats)

    def encode(self, normalized: np.ndarray, state: list | None = None) -> tuple[np.ndarray, list]:
        """Stacked frames through every layer; `state` (one entry per layer) carries a stream on."""
        x = self.stack_frames(normalized)
        if x.shape[1] == 0:
            raise ValueError(f"a window needs at least {self.spec.frame_stack} frames, got {normalized.shape[1]}")
        state = state or [None] * len(self.layers)
        new_state = []
        for layer, layer_state in zip(self.layers, state):
            x, layer_state = layer(x, layer_state)
            new_state.append(layer_state)
        return x, new_state

    def classify(self, outputs: np.ndarray) -> np.ndarray:
        """(B, T, D*H) RNN outputs -> (B, classes) logits."""
        if self.spec.pooling == "attention":
            weights = softmax(outputs @ self.score_w + self.score_b, axis=1)   # (B, T)
            pooled = np.einsum("bt,btd->bd", weights, outputs)
        else:
            pooled = outputs.mean(axis=1)
        return pooled @ self.head_w + self.head_b

    def logits(self, features: np.ndarray) -> np.ndarray:
        """(B, frames, n_inputs) raw log-mel -> (B, classes) logits."""
        features = np.asarray(features)
        if features.ndim != 3 or features.shape[2] != self.spec.n_inputs:
            raise ValueError(f"expected features (batch, frames, {self.spec.n_inputs}), got {features.shape}")
        return self.classify(self.encode(self.normalize(features))[0])

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return softmax(self.logits(features)).astype(np.float32)


def expected_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Every tensor of RecurrentClassifier(spec).state_dict() and its shape."""
    hidden, gates = spec.hidden_size, GATES[spec.cell] * spec.hidden_size
    shapes = {"feature_mean": (spec.n_inputs,), "feature_std": (spec.n_inputs,),
              "head.weight": (spec.n_classes, spec.output_size), "head.bias": (spec.n_classes,)}
    if spec.pooling == "attention":
        shapes.update({"pool.score.weight": (1, spec.output_size), "pool.score.bias": (1,)})
    for layer in range(spec.num_layers):
        inputs = spec.n_inputs * spec.frame_stack if layer == 0 else spec.output_size
        for s in ["", "_reverse"][:spec.directions]:
            shapes.update({f"rnn.weight_ih_l{layer}{s}": (gates, inputs), f"rnn.weight_hh_l{layer}{s}": (gates, hidden),
                           f"rnn.bias_ih_l{layer}{s}": (gates,), f"rnn.bias_hh_l{layer}{s}": (gates,)})
    return shapes
