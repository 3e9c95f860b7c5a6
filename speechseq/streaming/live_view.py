"""The terminal views of speechseq-listen: a rich live panel, or one plain line per detection.

Both take the speechseq.Recognizer that speechseq-listen feeds and its KeywordDetections.
"""

from __future__ import annotations

import time
from collections import deque

from speechseq.streaming.api import KeywordDetection, Recognizer


def detection_line(det: KeywordDetection) -> str:
    """`<seconds> <label> <score>`: what speechseq-listen (piped) and speechseq-serve print."""
    return f"{det.time_s:.2f} {det.label} {det.score:.3f}"


class PlainView:
    """`<seconds since start> <label> <score>` per detection, flushed at once (for pipes)."""

    def __init__(self, out):
        self.out = out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def detection(self, det: KeywordDetection) -> None:
        print(detection_line(det), file=self.out, flush=True)

    def refresh(self, recognizer: Recognizer, source) -> None:
        pass


class RichView:
    """Input level, the current top-3 classes and the recent detections, redrawn ~10 times a second."""

    def __init__(self, out, device_name: str, recent: int = 8, fps: float = 10.0):
        from rich.console import Console

        self.console = Console(file=out)
        self.device_name = device_name
        self.recent: deque[KeywordDetection] = deque(maxlen=recent)
        self.period = 1.0 / fps
        self._last = 0.0
        self._live = None

    def __enter__(self):
        from rich.live import Live

        self._live = Live(console=self.console, auto_refresh=False, transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc):
        self._live.__exit__(*exc)
        return False

    def detection(self, det: KeywordDetection) -> None:
        self.recent.appendleft(det)

    def refresh(self, recognizer: Recognizer, source) -> None:
        now = time.monotonic()
        if now - self._last < self.period:
            return
        self._last = now
        self._live.update(self.render(recognizer, source), refresh=True)

    def render(self, recognizer: Recognizer, source):
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        level_dbfs = recognizer.stream.level_dbfs
        level = max(-60.0, min(0.0, level_dbfs))
        width = 30
        filled = int(round((level + 60) / 60 * width))
        meter = Text("level ")
        meter.append("#" * filled, style="green" if level < -6 else "red")
        meter.append("." * (width - filled), style="dim")
        meter.append(f" {level_dbfs:6.1f} dBFS")
        top = Table(title="now", show_header=False, box=None, padding=(0, 1))
        for label, p in top_scores(recognizer.latest_scores, 3):
            top.add_row(label, f"{p:.2f}", Text("|" * int(p * 20), style="cyan"))
        recent = Table(title="detections", show_header=True, box=None, padding=(0, 1))
        recent.add_column("time s", justify="right")
        recent.add_column("word")
        recent.add_column("score", justify="right")
        for d in self.recent:
            recent.add_row(f"{d.time_s:.2f}", d.label, f"{d.score:.2f}")
        seconds = recognizer.stream.samples_seen / recognizer.sample_rate
        footer = Text(f"{seconds:7.1f} s  overflows {getattr(source, 'overflows', 0)}  "
                      f"dropped {getattr(source, 'dropped_blocks', 0)}  Ctrl-C to stop", style="dim")
        return Panel(Group(meter, top, recent, footer), title=f"speechseq-listen: {self.device_name}")


def top_scores(scores: dict[str, float], k: int) -> list[tuple[str, float]]:
    """The k most likely classes of a Recognizer's `latest_scores`, most likely first."""
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)[:k]
