"""`speechseq-stream`: a speechseq.Recognizer over a file or stdin; detections as CSV.

`speechseq-stream checkpoint=PATH input=FILE.wav|- [output=FILE.csv] [realtime=true] [runtime=torch|onnx|numpy]`
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from speechseq.cli import hydra_entry, run_guarded
from speechseq.streaming.api import recognizer_for_config
from speechseq.streaming.recognizer import hop_timing_summary, settings_from_config
from speechseq.streaming.sources import SAMPLE_RATE, StdinPcmSource, WavFileSource

CSV_HEADER = "time_ms,label,score"


def open_source(input_path: str, sample_rate: int, block_ms: float, realtime: bool, stdin=None):
    if input_path == "-":
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"input=- carries {SAMPLE_RATE} Hz PCM, but the model wants {sample_rate} Hz; "
                             f"give a WAV file instead")
        return StdinPcmSource(stdin, block_ms=block_ms, realtime=realtime)
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
        raise ValueError("pass input=FILE.wav, or input=- for raw 16-bit 16 kHz mono PCM on stdin")
    settings_from_config(cfg.stream)  # bad knobs, and a missing input, fail before the model loads
    if cfg.input != "-":
        input_file(cfg.input)
    recognizer = recognizer_for_config(cfg, classifier)  # null knobs: the model's calibrated values
    source = open_source(cfg.input, recognizer.sample_rate, cfg.block_ms, cfg.realtime, stdin)
    out = open(cfg.output, "w", newline="") if cfg.output else stdout
    detections, compute_s, interrupted = [], 0.0, False
    wall0 = time.perf_counter()
    try:
        print(CSV_HEADER, file=out, flush=True)
        try:
            for block in source:
                t0 = time.perf_counter()
                fired = recognizer.process(block, source.sample_rate)
                compute_s += time.perf_counter() - t0
                for det in fired:  # written at once: a pipe reader sees it live, an interrupt loses nothing
                    print(csv_row(det), file=out, flush=True)
                detections.extend(fired)
        except KeyboardInterrupt:
            interrupted = True
    finally:
        source.close()
        if out is not stdout:
            out.close()
    summary = stream_summary(recognizer, source, detections, compute_s, time.perf_counter() - wall0, interrupted)
    print(format_summary(summary), file=stderr)
    if summary["dropped_bytes"]:
        print("speechseq-stream: warning: input ended with an odd byte (half a 16-bit sample); dropped it",
              file=stderr)
    return summary


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
