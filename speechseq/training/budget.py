"""trainer.max_minutes: fit the number of epochs (and so the LR schedule) to a time budget.

The plan is made from measured times: after the first `probe_steps` steps from the step time
(validation guessed at `val_guess` of an epoch), then after every epoch from the epoch's whole
wall time (training + validation). Time is kept back for the final test pass. The schedule's
total length follows the plan, so the cosine decay ends when the budget does. `max_epochs` caps
the plan: where that many epochs fit, the run is the fixed-epoch run (the same LR at every step).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass
class TimeBudget:
    minutes: float
    steps_per_epoch: int
    reserve_seconds: float = 0.0      # kept back for what follows training (the test report)
    probe_steps: int = 10
    val_guess: float = 0.15
    start: float = field(default_factory=time.perf_counter)
    planned_epochs: int = 1
    max_epochs: int | None = None     # the plan never exceeds it
    step_seconds: float | None = None
    epoch_seconds: float | None = None

    @property
    def deadline(self) -> float:
        return self.start + self.minutes * 60.0

    def left(self, now: float | None = None) -> float:
        return self.deadline - (time.perf_counter() if now is None else now)

    def total_steps(self) -> int:
        return self.planned_epochs * self.steps_per_epoch

    def _plan(self, epochs_done: int, epoch_seconds: float, now: float) -> int:
        usable = self.left(now) - self.reserve_seconds
        fits = self._capped(epochs_done + max(0, math.floor(usable / epoch_seconds)))
        self.planned_epochs = max(fits, max(1, epochs_done))
        return self.planned_epochs

    def _capped(self, epochs: int) -> int:
        return epochs if self.max_epochs is None else min(epochs, self.max_epochs)

    def after_probe(self, probe_started: float, now: float | None = None) -> int:
        """First plan, from the time of the first `probe_steps` steps (the first is the slowest)."""
        now = time.perf_counter() if now is None else now
        self.step_seconds = (now - probe_started) / self.probe_steps
        guess = self.step_seconds * self.steps_per_epoch * (1.0 + self.val_guess)
        usable = self.left(now) - self.reserve_seconds + (now - probe_started)  # the probe is part of epoch 1
        self.planned_epochs = max(1, self._capped(math.floor(usable / guess)))
        return self.planned_epochs

    def after_epoch(self, epochs_done: int, epoch_seconds: float, now: float | None = None) -> int:
        """Re-plan from the last whole epoch (training + validation); never below what is done."""
        now = time.perf_counter() if now is None else now
        self.epoch_seconds = epoch_seconds
        return self._plan(epochs_done, epoch_seconds, now)

    def must_stop(self, now: float | None = None) -> bool:
        """Out of time for more steps: what is left is the reserve for the test pass."""
        return self.left(now) <= self.reserve_seconds

    def summary(self, epochs_done: int) -> dict:
        return {"max_minutes": self.minutes, "max_epochs": self.max_epochs, "epochs": epochs_done,
                "planned_epochs": self.planned_epochs, "step_seconds": self.step_seconds,
                "epoch_seconds": self.epoch_seconds, "reserve_seconds": self.reserve_seconds}
