"""A ring buffer of the last `capacity` rows (feature frames or RNN outputs)."""

from __future__ import annotations

import numpy as np


class FrameRing:
    """Append rows one at a time or in blocks; `window()` is the latest rows in time order.

    Every row is written twice, `capacity` apart, so the window is always one contiguous slice
    (no copy, no concatenation per hop).
    """

    def __init__(self, capacity: int, width: int, dtype=np.float32):
        if capacity < 1:
            raise ValueError(f"ring capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._buf = np.zeros((2 * capacity, width), dtype=dtype)
        self._pos = 0      # next write slot, in [0, capacity)
        self.count = 0     # rows written so far (total, may exceed capacity)

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    @property
    def full(self) -> bool:
        return self.count >= self.capacity

    def push(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows)
        if rows.ndim == 1:
            rows = rows[None]
        if len(rows) > self.capacity:  # only the newest `capacity` rows can survive
            self.count += len(rows) - self.capacity
            rows = rows[-self.capacity:]
        for row in rows:
            self._buf[self._pos] = row
            self._buf[self._pos + self.capacity] = row
            self._pos = (self._pos + 1) % self.capacity
        self.count += len(rows)

    def window(self) -> np.ndarray:
        """(len, width) view of the latest rows, oldest first; valid until the next push."""
        n = len(self)
        end = self._pos + self.capacity
        return self._buf[end - n:end]

    def clear(self) -> None:
        self._pos = 0
        self.count = 0
