"""`speechseq-eval mode=stream`: run the streaming loop over a labelled WAV and score it."""

from __future__ import annotations

import json
from pathlib import Path

from speechseq.fsutil import atomic_write_text
from speechseq.labels import UNKNOWN
from speechseq.streaming.backends import load_classifier
from speechseq.streaming.recognizer import (
    StreamingRecognizer,
    hop_timing_summary,
    settings_from_config,
)
from speechseq.streaming.scoring import format_stream_report, score_detections
from speechseq.streaming.smoothing import NON_KEYWORDS
from speechseq.streaming.sources import WavFileSource
from speechseq.streaming.synth_stream import read_labels


def run_over_file(classifier, wav: str | Path, settings, progress: bool = True):
    """(detections, recognizer) for the whole file, as fast as possible."""
    from tqdm.auto import tqdm

    recognizer = StreamingRecognizer(classifier, settings)
    source = WavFileSource(wav, block_ms=1000, sample_rate=classifier.frontend.sample_rate)
    detections = []
    with tqdm(total=round(source.duration_s), unit="s", desc="stream", leave=False, disable=not progress, mininterval=1.0) as bar:
        for block in source:
            detections += recognizer.feed(block)
            bar.update(len(block) / classifier.frontend.sample_rate)
    return detections, recognizer


def evaluate_stream(cfg) -> dict:
    if not cfg.input or not cfg.labels:
        raise ValueError("mode=stream needs input=STREAM.wav and labels=labels.csv "
                         "(make them with scripts/make_stream_wav.py)")
    for key in ("input", "labels"):
        if not Path(cfg[key]).is_file():
            raise FileNotFoundError(f"{key}={cfg[key]} does not exist")
    settings = settings_from_config(cfg.stream)
    classifier = load_classifier(cfg.checkpoint, "torch", num_threads=1)
    truth = read_labels(cfg.labels)
    detections, recognizer = run_over_file(classifier, cfg.input, settings)
    duration_s = recognizer.samples_seen / classifier.frontend.sample_rate
    keywords = {lab for lab in classifier.labels if lab not in NON_KEYWORDS}
    unknown_labels = sorted({lab for lab, _ in truth if lab not in keywords and lab != UNKNOWN})
    report = score_detections(detections, truth, keywords, duration_s)
    report.update({"checkpoint": str(cfg.checkpoint), "input": str(cfg.input), "labels": str(cfg.labels),
                   "settings": {k: cfg.stream[k] for k in cfg.stream}, "per_hop": hop_timing_summary(recognizer.hop_seconds),
                   "labels_not_in_model": unknown_labels})
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "stream_report.json", json.dumps(report, indent=2))
    atomic_write_text(out / "detections.csv", "time_ms,label,score\n" + "".join(d.csv_row() + "\n" for d in detections))
    print(format_stream_report(report))
    if unknown_labels:
        print(f"note: labels {unknown_labels} are not words of this model; they were scored as unknown words")
    print(f"wrote {out / 'stream_report.json'}")
    return report
