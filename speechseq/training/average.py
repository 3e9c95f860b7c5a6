"""An exponential moving average of the weights (`optim.ema_decay`): the copy validated and saved.

The optimiser keeps training the model itself; after every step the average moves towards it by
(1 - decay). Early on the decay is capped at (1 + n) / (10 + n) after n updates, so the first
epochs are not an average with the random initial weights. Buffers (the feature normalisation)
are copied, not averaged.

    >>> import torch
    >>> model = torch.nn.Linear(2, 1)
    >>> average = WeightAverage(model, decay=0.999)
    >>> with torch.no_grad():
    ...     _ = model.weight.add_(1.0)
    >>> average.update(model)
    >>> round(average.decay_now(), 3)  # 2/11 after one update
    0.182
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """Holds `model`'s average: `.model` is a frozen copy to validate, save and resume."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay, self.updates = decay, 0
        self.model = copy.deepcopy(model).eval()
        self.model.requires_grad_(False)

    def decay_now(self) -> float:
        """The decay the last update used (the warm-up cap, then `decay`)."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards `model`'s current weights (after an optimiser step)."""
        self.updates += 1
        weight = 1.0 - self.decay_now()
        for mine, theirs in zip(self.model.parameters(), model.parameters()):
            mine.lerp_(theirs.detach(), weight)
        for mine, theirs in zip(self.model.buffers(), model.buffers()):
            mine.copy_(theirs)

    def state_dict(self) -> dict:
        return {"updates": self.updates, "weights": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
        self.model.load_state_dict(state["weights"])


def weight_average(model: nn.Module, decay: float, resume_state: dict | None) -> WeightAverage | None:
    """The run's average when `decay` > 0 (None: the model itself is validated and saved).

    Resumed from `resume_state["ema"]` when it has one; a run started without the average begins
    it from the resumed weights.
    """
    if decay <= 0:
        return None
    average = WeightAverage(model, decay)
    if resume_state is not None and "ema" in resume_state:
        average.load_state_dict(resume_state["ema"])
    return average
