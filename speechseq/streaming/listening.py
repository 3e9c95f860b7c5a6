"""A recognizer fed by an audio source in a background thread: what `Recognizer.listen` returns.

The thread reads blocks from the source (the microphone by default), runs them through the
recognizer and calls `on_detection` for each detection, in that thread; when the source ends by
itself (a file), `flush` gives the words at its very end. An exception, in the
source (a microphone unplugged) or in the callback, ends the listening; `stop()` (or leaving the
`with` block) raises it in the caller, so no error is lost.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

STOP_TIMEOUT_S = 5.0  # a microphone source notices a stop request within 0.1 s


class Listening:
    """A running listener: use it as a context manager, or call `stop()` when done.

    `error` holds the exception that ended it early (None while all is well); `running` says
    whether the thread still reads audio; `wait(timeout)` blocks until the source ends (a file).
    """

    def __init__(self, process: Callable, source, on_detection: Callable, flush: Callable | None = None):
        self._process = process
        self._flush = flush
        self.source = source
        self._on_detection = on_detection
        self._stop_requested = threading.Event()
        self._raised = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="speechseq-listen", daemon=True)

    def start(self) -> Listening:
        """Open the source here (so a missing device raises at once), then read it in the thread."""
        opener = getattr(self.source, "start", None)
        if opener is not None:
            try:
                opener()
            except BaseException:
                self.source.close()
                raise
        self._thread.start()
        return self

    def _run(self) -> None:
        rate = self.source.sample_rate
        try:
            for block in self.source:
                if self._stop_requested.is_set():
                    return
                for detection in self._process(block, rate):
                    self._on_detection(detection)
            if self._flush is not None and not self._stop_requested.is_set():  # the input ended
                for detection in self._flush():
                    self._on_detection(detection)
        except BaseException as exc:  # noqa: BLE001  (any of them is handed to the caller by stop())
            self.error = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the source ends or listening fails (or `timeout` s); True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Stop reading, close the source, and raise the exception that ended listening, if any."""
        self._stop_requested.set()
        request_stop = getattr(self.source, "request_stop", None)
        if request_stop is not None:
            request_stop()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(STOP_TIMEOUT_S)
        self.source.close()
        if self.error is not None and not self._raised:
            self._raised = True  # raised once: a second stop() (e.g. __exit__ after stop) stays quiet
            raise self.error

    def __enter__(self) -> Listening:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.stop()
            return
        with contextlib.suppress(Exception):  # the with block's own exception is the one to see
            self.stop()
