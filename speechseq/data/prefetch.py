"""Run an iterator a few items ahead in a background thread (torch ops release the GIL).

Used for the host gather of the staged GPU path and, on a CPU with a spare core, for the next
batch's augmentation and log-mel while the current batch trains.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_END = object()


class Ahead(Iterator[T]):
    """Yields what `items` yields, in order, computed up to `depth` items ahead in a thread.

    An exception in the thread is raised in the consumer at the item where it happened.
    `close()` (or leaving a `with` block) stops the thread even when the consumer stops early.
    """

    def __init__(self, items: Iterable[T], depth: int = 2, name: str = "prefetch"):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._done = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._produce, args=(iter(items),), name=name, daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        """Hand `item` over, waiting for room; False once the consumer has gone."""
        while not self._done.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                if not self._put(item):
                    return
            last = _END
        except BaseException as exc:  # handed to the consumer, raised there
            last = exc
        self._put(last)

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self.close()
            raise StopIteration
        if isinstance(item, BaseException):
            self.close()
            raise item
        return item

    def close(self) -> None:
        self._finished = True
        self._done.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> "Ahead[T]":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
