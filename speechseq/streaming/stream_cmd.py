"""`speechseq-stream`: a speechseq.Recognizer over a file or stdin; detections as CSV.

`speechseq-stream checkpoint=PATH input=FILE.wav|- [output=FILE.csv] [realtime=true] [runtime=torch|onnx|numpy]`
On stdin: a WAV or FLAC file, or raw s16le PCM (`stream.input_rate`, `stream.input_channels`). When the
input ends the recognizer is flushed, so a word at its very end is reported too.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from speechseq.cli import hydra_entry, run_guarded
from speechseq.streaming.api import recognizer_for_config
from speechseq.streaming.recognizer import hop_timing_summary, settings_from_config
from speechseq.streaming.sources import WavFileSource
from speechseq.streaming.stdin_source import open_stdin

CSV_HEADER = "time_ms,label,score"


def open_source(input_path: str, sample_rate: int, block_ms: float, realtime: bool, stdin=None,
                raw_rate: int = 16000, raw_channels: int = 1):
    """The file, or stdin (a sound file or raw PCM at `raw_rate` Hz, `raw_channels` channels)."""
    if input_path == "-":
        return open_stdin(stdin, block_ms, realtime, raw_rate, raw_channels)
    return WavFileSource(input_file(input_path), block_ms=block_ms, realtime=realtime, sample_rate=sample_rate)


def input_file(input_path: str) -> Path:
    """The sound file `input=` names, or FileNotFoundError saying what is there instead."""
    path = Path(input_path).expanduser()
    if path.is_dir():
        raise FileNotFoundError(f"input={path} is a folder; give a sound file in it (e.g. input={path}/stream.wav), "
                                f"or input=- for PCM on stdin")
    if not path.is_file():
        raise FileNotFoundError(f"input={path} does not exist (give a WAV file, or input=- for PCM on stdin)")
    return path


def run_stream(cfg, classifier=None, stdin=None, stdout=None, stderr=None) -> dict:
    """Run cfg.input through a speechseq.Recognizer; write CSV rows as they fire; return a summary dict.

    `classifier`: a backend already loaded (tests inject one) instead of cfg.checkpoint.
    """
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if not cfg.input:
        raise ValueError("pass input=FILE.wav, or input=- for a WAV/FLAC file or raw 16-bit PCM on stdin")
    settings_from_config(cfg.stream)  # bad knobs, and a missing input, fail before the model loads
    if cfg.input != "-":
        input_file(cfg.input)
    recognizer = recognizer_for_config(cfg, classifier)  # null knobs: the model's calibrated values
    source = open_source(cfg.input, recognizer.sample_rate, cfg.block_ms, cfg.realtime, stdin,
                         cfg.stream.input_rate, cfg.stream.input_channels)
    out = open(cfg.output, "w", newline="") if cfg.output else stdout
    writer = DetectionWriter(out)
    compute_s, interrupted = 0.0, False
    wall0 = time.perf_counter()
    try:
        try:
            for block in source:
                t0 = time.perf_counter()
                fired = process_block(recognizer, block, source.sample_rate, cfg.input)
                compute_s += time.perf_counter() - t0
                writer.write(fired)  # at once: a pipe reader sees it live, an interrupt loses nothing
        except KeyboardInterrupt:
            interrupted = True
        if not interrupted:  # the input ended: its last word is scored as any other
            writer.write(recognizer.flush())
    finally:
        source.close()
        if out is not stdout:
            out.close()
    summary = stream_summary(recognizer, source, writer.detections, compute_s, time.perf_counter() - wall0,
                             interrupted)
    print(format_summary(summary), file=stderr)
    if summary["dropped_bytes"]:
        print(f"speechseq-stream: warning: input ended with {summary['dropped_bytes']} odd byte(s), part of a "
              f"sample; dropped them", file=stderr)
    return summary


class DetectionWriter:
    """The CSV header once the first block was accepted (a refused input prints nothing), then rows."""

    def __init__(self, out):
        self.out, self.detections, self.started = out, [], False

    def write(self, fired: list) -> None:
        if not self.started:
            print(CSV_HEADER, file=self.out, flush=True)
            self.started = True
        for det in fired:
            print(csv_row(det), file=self.out, flush=True)
        self.detections.extend(fired)


def process_block(recognizer, block, sample_rate: int, input_name: str) -> list:
    """`recognizer.process`, its refusal of the samples naming the input and where in it."""
    try:
        return recognizer.process(block, sample_rate)
    except ValueError as exc:
        if str(exc).startswith(input_name):  # the file source already named it
            raise
        at = recognizer.stream.samples_seen / recognizer.sample_rate
        raise ValueError(f"input={input_name} at {at:.1f} s: {exc}") from None


def csv_row(det) -> str:
    """`time_ms,label,score` of one KeywordDetection."""
    return f"{det.time_ms:.0f},{det.label},{det.score:.4f}"


def stream_summary(recognizer, source, detections: list, compute_s: float, wall_s: float, interrupted: bool) -> dict:
    """What a run heard and what it cost (printed by format_summary, returned by run_stream)."""
    stream = recognizer.stream
    audio_s = stream.samples_seen / recognizer.sample_rate
    return {"audio_seconds": audio_s, "wall_seconds": wall_s,
            "compute_seconds": compute_s, "real_time_factor": compute_s / audio_s if audio_s else None,
            "detections": [{"time_ms": d.time_ms, "label": d.label, "score": d.score} for d in detections],
            "interrupted": interrupted, "per_hop": hop_timing_summary(stream.hop_seconds),
            "mode": "stateful" if stream.stateful else "window",
            "dropped_bytes": getattr(source, "dropped_bytes", 0),
            "detector": describe_detector(recognizer.settings.smoothing)}


def format_summary(s: dict) -> str:
    hop = s["per_hop"]
    rtf = f"{s['real_time_factor']:.4f}" if s["real_time_factor"] is not None else "n/a"
    text = (f"{'interrupted after' if s['interrupted'] else 'processed'} {s['audio_seconds']:.1f} s of audio: "
            f"{len(s['detections'])} detection(s); real-time factor {rtf} "
            f"(compute {s['compute_seconds']:.2f} s / audio {s['audio_seconds']:.1f} s)")
    if hop.get("hops"):
        text += (f"; {hop['hops']} hops ({s['mode']} mode), per hop median {hop['median_ms']:.2f} ms, "
                 f"p99 {hop['p99_ms']:.2f} ms")
    if s.get("detector"):
        text += f"; {s['detector']}"
    return text


def describe_detector(smoothing) -> str:
    """One phrase for the detector in use, e.g. for a summary line."""
    per_class = f", per-class {dict(smoothing.class_thresholds)}" if smoothing.class_thresholds else ""
    return (f"detector {smoothing.detector}, average {smoothing.average_window_ms:g} ms, "
            f"threshold {smoothing.threshold:g}{per_class}")


@hydra_entry("stream")
def main(cfg) -> None:
    run_guarded("speechseq-stream", lambda: run_stream(cfg) and None, debug=cfg.debug)


if __name__ == "__main__":
    main()
