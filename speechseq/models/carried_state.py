"""Stateful mode shared by the torch and numpy backends: a unidirectional RNN carries its state
from hop to hop, so each hop runs only the new frames; the posteriors are pooled over a ring of
the last window's RNN outputs (what the model would pool over the same window)."""

from __future__ import annotations

import numpy as np

from speechseq.models.ring import FrameRing


class CarriedState:
    """`reset()` / `step(frames)` over two hooks a backend defines:

    - `_advance(frames)`: raw frames (n, feature_dim), n a multiple of frame_stack -> RNN outputs
      (n // frame_stack, output_size), carrying `self._state` on (None: a fresh stream);
    - `_pool(outputs)`: (steps, output_size) -> (n_classes,) probabilities.
    It needs `self.spec` (ModelSpec) and `self.frontend` (FrontendSpec).
    """

    @property
    def stateful(self) -> bool:
        return not self.spec.bidirectional  # a backward direction needs the future

    def reset(self, window_frames: int | None = None) -> None:
        """Forget the RNN state; `window_frames` sets how many frames the pooling looks back."""
        self._state = None
        self._leftover = np.zeros((0, self.frontend.feature_dim), np.float32)
        steps = max(1, (window_frames or self.frontend.num_frames(self.frontend.sample_rate)) // self.spec.frame_stack)
        self._outputs = FrameRing(steps, self.spec.output_size)

    def step(self, frames: np.ndarray) -> np.ndarray | None:
        """Run the RNN over new frames from the carried state; posteriors pooled over the ring.

        Frames are grouped by `frame_stack` from the start of the stream; an incomplete group
        waits for the next call. Returns None until the first RNN step.
        """
        if not self.stateful:
            raise RuntimeError("step() needs a unidirectional model")
        frames = np.concatenate([self._leftover, np.asarray(frames, np.float32)])
        usable = len(frames) - len(frames) % self.spec.frame_stack
        self._leftover = frames[usable:]
        if usable:
            self._outputs.push(self._advance(frames[:usable]))
        if len(self._outputs) == 0:
            return None
        return self._pool(self._outputs.window())
