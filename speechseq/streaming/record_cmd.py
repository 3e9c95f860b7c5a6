"""`speechseq-record`: record your own keywords on the microphone, in the Speech Commands layout.

`speechseq-record words=[lights_on,lights_off] out=DIR [takes=20] [device=INDEX|NAME] [speaker=ID]`
For each word and take it prompts, records `seconds` (a level meter on a terminal), keeps the
second around the word and writes OUT/<word>/<speaker>_nohash_<n>.wav; a clipped or silent take
is asked again. Ctrl-C stops; the takes written stay. docs/enroll.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from speechseq.cli import hydra_entry, run_guarded
from speechseq.fsutil import ensure_writable_dir
from speechseq.progress import on_terminal
from speechseq.streaming.listen import list_devices, stop_on_sigint
from speechseq.streaming.record import (
    KEEP_SAMPLES,
    SAMPLE_RATE,
    RecordError,
    RecordPlan,
    TakeLimits,
    check_words,
    dbfs,
    record_session,
    speaker_id,
)
from speechseq.streaming.sources import MicrophoneSource

METER_WIDTH = 30
METER_FLOOR_DB = -60.0  # the meter's empty end
BLOCK_MS = 50.0


class RecordView:
    """What the speaker sees: prompts, a level meter redrawn in place (terminal only), a line per take."""

    def __init__(self, out, meter: bool, clip_level: float):
        self.out = out
        self.meter = meter
        self.clip_level = clip_level
        self.drawn = False  # a meter line waits to be blanked

    def prompt(self, word: str, take: int, takes: int, attempt: int) -> None:
        again = " again" if attempt else ""
        print(f"say '{word}'{again} (take {take}/{takes})", file=self.out, flush=True)

    def level(self, block: np.ndarray) -> None:
        if not self.meter or not block.size:
            return
        level = float(np.max(np.abs(block)))
        db = dbfs(level)
        filled = round(METER_WIDTH * min(1.0, max(0.0, 1.0 - db / METER_FLOOR_DB)))
        mark = "  CLIP" if level >= self.clip_level else ""
        bar = "#" * filled + "-" * (METER_WIDTH - filled)
        self.out.write(f"\r  [{bar}] {db:6.1f} dBFS{mark}   ")
        self.out.flush()
        self.drawn = True

    def end_meter(self) -> None:
        """Blank the meter's line, so what follows starts on a clean one."""
        if self.drawn:
            self.out.write("\r" + " " * (METER_WIDTH + 24) + "\r")
            self.out.flush()
            self.drawn = False

    def kept(self, path: Path, clip: np.ndarray) -> None:
        self.end_meter()
        peak = float(np.max(np.abs(clip)))
        print(f"  kept {path.parent.name}/{path.name} (peak {dbfs(peak):.0f} dBFS)", file=self.out, flush=True)

    def refused(self, problem: str, will_ask_again: bool) -> None:
        self.end_meter()
        print(f"  refused: {problem}{'; once more' if will_ask_again else ''}", file=self.out, flush=True)


def number(cfg, key: str, kind=float, minimum: float = 0.0):
    """cfg[key] as `kind`, at least `minimum`, or one line saying what is wanted."""
    value = cfg[key]
    try:
        if isinstance(value, bool) or (kind is int and float(value) != int(value)):
            raise ValueError
        converted = kind(value)
    except (TypeError, ValueError):
        raise RecordError(f"{key}={value!r}: give a{'' if kind is float else ' whole'} number") from None
    if converted < minimum:
        raise RecordError(f"{key}={value}: must be at least {minimum:g}")
    return converted


def plan_from_config(cfg) -> RecordPlan:
    limits = TakeLimits(clip_level=number(cfg, "clip_level"), min_peak=number(cfg, "min_peak"),
                        min_rise_db=number(cfg, "min_rise_db"))
    return RecordPlan(words=check_words(cfg.words), takes=number(cfg, "takes", int, 1),
                      seconds=number(cfg, "seconds", float, KEEP_SAMPLES / SAMPLE_RATE),
                      pause=number(cfg, "pause"), retries=number(cfg, "retries", int), limits=limits)


def run_record(cfg, source=None, stdout=None, stderr=None) -> list[Path] | None:
    """Record the session `cfg` asks for; the files written (None for list_devices=true)."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if cfg.list_devices:
        list_devices(stdout)
        return None
    plan = plan_from_config(cfg)  # bad settings fail before the microphone opens
    out = str(cfg.out)  # a missing out= too
    if source is None:  # no microphone: the source's one line, before anything is written
        source = MicrophoneSource(cfg.device, block_ms=BLOCK_MS)
    out_dir = ensure_writable_dir(out, "output folder", fix="choose another with out=DIR")
    speaker = speaker_id(out_dir, cfg.speaker)
    device = getattr(source, "device_name", None) or (str(cfg.device) if cfg.device is not None else "default input")
    view = RecordView(stdout, meter=on_terminal(stdout), clip_level=plan.limits.clip_level)
    written: list[Path] = []
    started = finished = False
    try:
        with stop_on_sigint(source):
            if hasattr(source, "start"):
                source.start()
            print(f"speechseq-record: {len(plan.words)} word(s) x {plan.takes} take(s) from {device} into "
                  f"{out_dir} as speaker {speaker}; {plan.seconds:g} s per take, 1 s kept; Ctrl-C stops",
                  file=stderr, flush=True)
            started = True
            finished = record_session(plan, source, out_dir, speaker, view, written)
    finally:
        if hasattr(source, "close"):
            source.close()
        view.end_meter()  # stopped mid-take
        if started:  # also before the error line of a take refused too often
            stopped = "" if finished else " (stopped early; the takes written are kept)"
            print(f"speechseq-record: {len(written)} take(s) written to {out_dir} as speaker {speaker}{stopped}",
                  file=stderr, flush=True)
    return written


@hydra_entry("record")
def main(cfg) -> None:
    run_guarded("speechseq-record", lambda: run_record(cfg) and None, debug=cfg.debug)


if __name__ == "__main__":
    main()
