"""Progress that suits where it goes: a tqdm bar on a terminal, one plain log line elsewhere.

A bar redraws itself with carriage returns, which fill a redirected log
(`speechseq-train ... > log 2>&1`) with debris. Off a terminal a loop instead ends with one INFO
record, e.g. "decode train: 4000 clips in 12.3 s" (a log line, so it lands in the run's log file
too, and a script that turns logging off stays quiet), or with nothing when the caller logs a
line of its own.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from typing import Iterable, Iterator, TextIO

log = logging.getLogger(__name__)
_bars_allowed = True


@contextmanager
def bars_allowed(allowed: bool) -> Iterator[None]:
    """While inside, `allowed=False` turns every bar into its plain line, also in stages that take
    no progress flag of their own (decoding, room simulation): `trainer.progress=false` on a terminal."""
    global _bars_allowed
    before, _bars_allowed = _bars_allowed, bool(allowed) and _bars_allowed
    try:
        yield
    finally:
        _bars_allowed = before


def on_terminal(stream: TextIO) -> bool:
    """True when `stream` is an interactive terminal (a closed or odd stream counts as not)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def plural(count: int, unit: str) -> str:
    if count == 1:
        return f"1 {unit}"
    return f"{count} {unit}{'es' if unit.endswith(('s', 'x', 'ch', 'sh')) else 's'}"


class Progress:
    """Iterate `iterable` with progress: a bar when `stream` (stderr) is a terminal, else a summary line.

    `enabled=False` shows nothing; `line_off_terminal=False` keeps the bar on a terminal but logs
    no summary line elsewhere (for loops whose caller logs a line of its own). The line goes to
    `logger` (this module's by default) at INFO.
    """

    def __init__(self, iterable: Iterable, total: int | None = None, desc: str = "", unit: str = "it",
                 enabled: bool = True, line_off_terminal: bool = True, stream: TextIO | None = None,
                 mininterval: float = 0.1, logger: logging.Logger | None = None):
        self.stream = stream if stream is not None else sys.stderr  # looked up now: tests swap sys.stderr
        self.logger = logger or log
        self.desc, self.unit, self.count, self.postfix = desc, unit, 0, {}
        self.iterable, self.closed = iterable, False
        terminal = _bars_allowed and on_terminal(self.stream)
        self.line = enabled and line_off_terminal and not terminal
        self.bar = None
        if enabled and terminal:
            from tqdm.auto import tqdm

            self.bar = tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, file=self.stream,
                            mininterval=mininterval)
        self.start = time.perf_counter()

    def __iter__(self) -> Iterator:
        source = self.bar if self.bar is not None else self.iterable
        for item in source:
            self.count += 1
            yield item
        self.close()

    def set_postfix(self, **values) -> None:
        """Figures shown beside the bar, and at the end of the summary line."""
        self.postfix.update(values)
        if self.bar is not None:
            self.bar.set_postfix(**values)

    def summary(self) -> str:
        text = f"{self.desc}: {plural(self.count, self.unit)} in {time.perf_counter() - self.start:.1f} s"
        return text + "".join(f", {k} {v}" for k, v in self.postfix.items())

    def close(self) -> None:
        """End the bar, or log the summary line; a second call does nothing."""
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self.bar.close()
        elif self.line:
            self.logger.info("%s", self.summary())

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
