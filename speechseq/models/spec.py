"""The classifier's architecture settings, torch-free so light runtimes (ONNX, numpy) can read them."""

from __future__ import annotations

from dataclasses import asdict, dataclass

CELL_NAMES = ("lstm", "gru", "rnn")
POOLINGS = ("mean", "attention")
NONLINEARITIES = ("tanh", "relu")  # the plain RNN's activation (nn.RNN's `nonlinearity`)


@dataclass(frozen=True)
class ModelSpec:
    n_inputs: int
    n_classes: int
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.1
    pooling: str = "mean"
    frame_stack: int = 1  # k > 1: concatenate k consecutive frames (k times fewer, cheaper RNN steps)
    nonlinearity: str = "tanh"  # cell=rnn only: h_t = act(W_ih x_t + W_hh h_{t-1} + b)

    def __post_init__(self):
        if self.cell not in CELL_NAMES:
            raise ValueError(f"model.cell={self.cell!r}: choose one of {sorted(CELL_NAMES)}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"model.pooling={self.pooling!r}: choose one of {list(POOLINGS)}")
        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(f"model.nonlinearity={self.nonlinearity!r}: choose one of {list(NONLINEARITIES)}")
        if self.nonlinearity != "tanh" and self.cell != "rnn":
            raise ValueError(f"model.nonlinearity={self.nonlinearity} applies to model.cell=rnn only "
                             f"(the {self.cell.upper()}'s gates fix its activations)")
        for name in ("n_inputs", "n_classes", "hidden_size", "num_layers", "frame_stack"):
            if getattr(self, name) < 1:
                raise ValueError(f"model.{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {self.dropout}")

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features per time step out of the last RNN layer (both directions side by side)."""
        return self.hidden_size * self.directions

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelSpec":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})
