"""`speechseq-listen`: live keyword spotting on a microphone, through speechseq.Recognizer.

`speechseq-listen checkpoint=PATH [device=INDEX|NAME] [list_devices=true] [runtime=torch|onnx|numpy]`
On a terminal: a live view (rich). Piped: `<seconds> <label> <score>` per detection.
Ctrl-C prints a summary (detections, overflows, mean compute per hop) to stderr.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

from speechseq.cli import hydra_entry, run_guarded
from speechseq.streaming.api import choose_runtime, recognizer_for_config
from speechseq.streaming.backends import check_runtime_fits, resolve_checkpoint
from speechseq.streaming.live_view import PlainView, RichView
from speechseq.streaming.recognizer import hop_timing_summary, settings_from_config
from speechseq.streaming.sources import (
    MicrophoneSource,
    SourceError,
    import_sounddevice,
    input_devices,
)
from speechseq.streaming.stream_cmd import describe_detector

VIEWS = ("auto", "rich", "plain")


def list_devices(out) -> int:
    sd = import_sounddevice()
    devices = input_devices(sd)
    if not devices:
        raise SourceError("no audio input devices found (is a microphone connected? on a headless machine, "
                          "see docs/streaming.md for a virtual microphone)")
    try:
        default = sd.default.device[0]
    except Exception:  # no default set
        default = None
    for d in devices:
        mark = "*" if d["index"] == default else " "
        print(f"{mark} {d['index']:3d}  {d['name']}  ({d['max_input_channels']} ch, "
              f"{d['default_samplerate']:.0f} Hz)", file=out)
    return 0


@contextmanager
def stop_on_sigint(source):
    """Ctrl-C asks the source to stop instead of raising KeyboardInterrupt at a random point.

    An exception thrown into the main thread while it holds the queue's lock would leave the
    audio callback blocked on it, and stopping the stream then waits for that callback forever.
    A second Ctrl-C interrupts at once.
    """
    stopper = getattr(source, "request_stop", None)
    if stopper is None or threading.current_thread() is not threading.main_thread():
        yield None
        return
    state = {"stopped": False}

    def handler(signum, frame):
        if state["stopped"]:
            raise KeyboardInterrupt
        state["stopped"] = True
        stopper()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def run_listen(cfg, classifier=None, source=None, stdout=None, stderr=None) -> dict | None:
    """Feed the microphone (or `source`) to a speechseq.Recognizer until Ctrl-C; return a summary dict.

    `classifier`: a backend already loaded (tests inject one) instead of cfg.checkpoint.
    """
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if cfg.view not in VIEWS:
        raise ValueError(f"view={cfg.view!r}: choose one of {list(VIEWS)}")
    if cfg.list_devices:
        list_devices(stdout)
        return None
    settings_from_config(cfg.stream)  # bad knobs fail before the device or the model opens
    if classifier is None:  # a model file the runtime cannot read, too, fails before the microphone opens
        runtime = choose_runtime(cfg.checkpoint, cfg.runtime)
        check_runtime_fits(resolve_checkpoint(cfg.checkpoint, runtime), runtime)
    if source is None:  # find the device before the (slower) model load
        source = MicrophoneSource(cfg.device, block_ms=cfg.block_ms)
    recognizer = recognizer_for_config(cfg, classifier)  # null knobs: the model's calibrated values
    rich_view = cfg.view == "rich" or (cfg.view == "auto" and stdout.isatty())
    name = source.device_name or (str(cfg.device) if cfg.device is not None else "default input")
    view = RichView(stdout, name) if rich_view else PlainView(stdout)
    detections, interrupted, error = [], False, None
    try:
        with stop_on_sigint(source) as sigint:
            source.start()
            print(f"speechseq-listen: listening on {name} ({describe_stream(recognizer)}); Ctrl-C to stop",
                  file=stderr, flush=True)
            with view:
                for block in source:
                    for det in recognizer.process(block, source.sample_rate):
                        detections.append(det)
                        view.detection(det)
                    view.refresh(recognizer, source)
            interrupted = bool(sigint and sigint["stopped"])
    except KeyboardInterrupt:
        interrupted = True
    except SourceError as exc:  # the device went away: still say what was heard
        error = exc
    finally:
        source.close()
    summary = listen_summary(recognizer, source, len(detections), interrupted)
    print(format_listen_summary(summary), file=stderr, flush=True)
    if error is not None:
        raise error
    return summary


def describe_stream(recognizer) -> str:
    """The mode, hop and detector of a Recognizer, for the line that starts listening."""
    settings = recognizer.settings
    return (f"{'stateful' if recognizer.stream.stateful else 'window'} mode, hop {settings.hop_ms:.0f} ms, "
            f"{describe_detector(settings.smoothing)}")


def listen_summary(recognizer, source, detections: int, interrupted: bool) -> dict:
    return {"seconds": recognizer.stream.samples_seen / recognizer.sample_rate,
            "detections": detections, "overflows": getattr(source, "overflows", 0),
            "dropped_blocks": getattr(source, "dropped_blocks", 0),
            "per_hop": hop_timing_summary(recognizer.stream.hop_seconds), "interrupted": interrupted}


def format_listen_summary(summary: dict) -> str:
    hop = summary["per_hop"]
    compute = (f"mean compute per hop {hop['mean_ms']:.2f} ms (p99 {hop['p99_ms']:.2f} ms, {hop['hops']} hops)"
               if hop.get("hops") else "no hop computed yet")
    return (f"speechseq-listen: {summary['seconds']:.1f} s heard, {summary['detections']} detection(s), "
            f"{summary['overflows']} overflow(s), {summary['dropped_blocks']} dropped block(s); {compute}")


@hydra_entry("listen")
def main(cfg) -> None:
    run_guarded("speechseq-listen", lambda: run_listen(cfg) and None, debug=cfg.debug)


if __name__ == "__main__":
    main()
