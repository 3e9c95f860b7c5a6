"""The recurrent classifier: normalised log-mel frames -> stacked RNN/GRU/LSTM -> pooling -> logits.

Pooling runs over all time steps (mean or attention): a bidirectional RNN's last step has seen
only one frame in its backward direction, so classifying from it throws information away.
"""

from __future__ import annotations

import torch
from torch import nn

from speechseq.models.spec import POOLINGS, ModelSpec  # noqa: F401  (re-exported: torch-free home)

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}  # the keys are model_spec.CELL_NAMES


class AttentionPooling(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.score = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, D)
        weights = torch.softmax(self.score(x).squeeze(-1), dim=1)
        return torch.bmm(weights.unsqueeze(1), x).squeeze(1)


class RecurrentClassifier(nn.Module):
    """Features (batch, frames, n_inputs) -> logits (batch, n_classes).

    `feature_mean` / `feature_std` are buffers, so the normalisation fitted on the training
    split travels with the weights.
    """

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        self.register_buffer("feature_mean", torch.zeros(spec.n_inputs))
        self.register_buffer("feature_std", torch.ones(spec.n_inputs))
        extra = {"nonlinearity": spec.nonlinearity} if spec.cell == "rnn" else {}
        self.rnn = CELLS[spec.cell](
            input_size=spec.n_inputs * spec.frame_stack, hidden_size=spec.hidden_size, num_layers=spec.num_layers,
            batch_first=True, bidirectional=spec.bidirectional,
            dropout=spec.dropout if spec.num_layers > 1 else 0.0, **extra,
        )
        out_dim = spec.output_size
        self.pool = AttentionPooling(out_dim) if spec.pooling == "attention" else None
        self.dropout = nn.Dropout(spec.dropout)
        self.head = nn.Linear(out_dim, spec.n_classes)

    def normalize(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.feature_mean) / self.feature_std

    def stack_frames(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, T // k, k * F); a trailing partial group is dropped."""
        k = self.spec.frame_stack
        if k == 1:
            return x
        batch, frames, feats = x.shape
        usable = frames - frames % k
        return x[:, :usable].reshape(batch, usable // k, k * feats)

    def encode(self, normalized: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.stack_frames(normalized))
        return out

    def classify(self, outputs: torch.Tensor) -> torch.Tensor:
        pooled = outputs.mean(dim=1) if self.pool is None else self.pool(outputs)
        return self.head(self.dropout(pooled))

    def forward(self, features: torch.Tensor, normalized: bool = False) -> torch.Tensor:
        x = features if normalized else self.normalize(features)
        return self.classify(self.encode(x))

    @torch.no_grad()
    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(std.clamp_min(1e-5))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
