#!/usr/bin/env python
"""Streaming speed: per-hop compute (median, p99), real-time factor, latency, stateful mode.

    python scripts/bench_stream.py [--checkpoint CKPT] [--stream DIR] [--seconds 60] [--threads 1]

Models timed: the default config (2-layer BiLSTM, hidden 128, randomly initialised: speed does
not depend on the weights), the checkpoint if given, and a 2-layer unidirectional LSTM of the same
size in window and stateful mode. Audio goes through StreamingRecognizer in 50 ms blocks, as from
a microphone, as fast as possible. With --stream DIR (from scripts/make_stream_wav.py: stream.wav,
words.csv) and --checkpoint, it also measures the latency from the end of each correctly
detected word to its detection. Writes --out (JSON) and prints a markdown table.
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np


def make_audio(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    wave = rng.normal(0, 0.01, n).astype(np.float32)
    t = np.arange(8000) / 16000
    for start in range(16000, n - 8000, 48000):  # a tone burst every 3 s
        wave[start:start + 8000] += (0.2 * np.sin(2 * np.pi * 600 * t)).astype(np.float32)
    return wave


class CpuTimed:
    """Wraps a classifier and records the thread CPU time of each call.

    On a shared machine wall-clock hops include time spent waiting for a core; CPU time does
    not, so it is the better estimate of the cost on a quiet core.
    """

    def __init__(self, inner):
        self.inner, self.cpu_ms = inner, []
        self.labels, self.frontend, self.stateful = inner.labels, inner.frontend, getattr(inner, "stateful", False)

    def _timed(self, fn, *args):
        t0 = time.thread_time()
        out = fn(*args)
        self.cpu_ms.append((time.thread_time() - t0) * 1000)
        return out

    def __call__(self, features):
        return self._timed(self.inner, features)

    def step(self, frames):
        return self._timed(self.inner.step, frames)

    def reset(self, **kw):
        self.inner.reset(**kw)


def time_stream(classifier, wave, hop_ms, mode="window", block_ms=50.0, warmup_hops=5):
    from speechseq.streaming.recognizer import StreamingRecognizer, StreamSettings

    classifier = CpuTimed(classifier)
    rec = StreamingRecognizer(classifier, StreamSettings(hop_ms=hop_ms, mode=mode))
    block = int(block_ms * 16)
    feed_s = 0.0
    for i in range(0, len(wave), block):
        t0 = time.perf_counter()
        rec.feed(wave[i:i + block])
        feed_s += time.perf_counter() - t0
    hops = np.asarray(rec.hop_seconds[warmup_hops:]) * 1000
    cpu = np.asarray(classifier.cpu_ms[warmup_hops:])
    return {"hop_ms": hop_ms, "mode": mode, "hops": int(hops.size), "median_ms": float(np.median(hops)),
            "p99_ms": float(np.percentile(hops, 99)), "mean_ms": float(hops.mean()),
            "cpu_median_ms": float(np.median(cpu)), "cpu_p99_ms": float(np.percentile(cpu, 99)),
            "real_time_factor": feed_s / (len(wave) / 16000)}


def random_classifier(bidirectional: bool, frame_stack: int = 1):
    import torch

    from speechseq.features.logmel import FrontendSpec
    from speechseq.labels import make_label_set
    from speechseq.models.recurrent import ModelSpec, RecurrentClassifier
    from speechseq.streaming.backends import TorchClassifier

    torch.manual_seed(0)
    labels = make_label_set("v2_12").names
    model = RecurrentClassifier(ModelSpec(40, len(labels), hidden_size=128, num_layers=2,
                                          bidirectional=bidirectional, frame_stack=frame_stack))
    return TorchClassifier(model, labels, FrontendSpec())


def word_latency(classifier, stream_dir: Path, knobs: dict) -> dict:
    """Latency from word end (words.csv end_ms) to detection, for correctly detected words."""
    import csv

    import soundfile as sf

    from speechseq.streaming.offline import replay, window_posteriors
    from speechseq.streaming.recognizer import settings_for

    wave, _ = sf.read(stream_dir / "stream.wav", dtype="float32")
    with open(stream_dir / "words.csv") as fh:
        words = [(r["label"], float(r["start_ms"]), float(r["end_ms"])) for r in csv.DictReader(fh)]
    times, probs = window_posteriors(classifier, wave, knobs["hop_ms"])
    cfg = settings_for(classifier, knobs).smoothing  # null knobs: the model's calibrated values
    dets = replay(times, probs, classifier.labels, cfg)
    lat_end, lat_start = [], []
    starts = [s for _, s, _ in words]
    import bisect
    used = set()
    for d in dets:
        i = bisect.bisect_right(starts, d.time_ms) - 1
        if i >= 0 and i not in used and d.time_ms - starts[i] <= 2000 and words[i][0] == d.label:
            used.add(i)
            lat_end.append(d.time_ms - words[i][2])
            lat_start.append(d.time_ms - words[i][1])
    if not lat_end:
        return {"correct": 0}
    return {"correct": len(lat_end), "median_from_word_end_ms": float(np.median(lat_end)),
            "p90_from_word_end_ms": float(np.percentile(lat_end, 90)),
            "median_from_word_start_ms": float(np.median(lat_start)), "settings": knobs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint")
    ap.add_argument("--stream", type=Path, help="folder from make_stream_wav.py (latency needs --checkpoint)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hops", type=float, nargs="+", default=[100.0, 30.0])
    ap.add_argument("--out", default="runs/bench_stream.json")
    a = ap.parse_args()

    import torch
    from omegaconf import OmegaConf

    from speechseq.config import PACKAGE_CONF_DIR
    from speechseq.streaming.backends import load_classifier

    torch.set_num_threads(a.threads)
    wave = make_audio(a.seconds)
    models = [("BiLSTM 2x128 (default config)", random_classifier(True), "window")]
    if a.checkpoint:
        clf = load_classifier(a.checkpoint, num_threads=a.threads)
        spec = clf.model.spec
        models.append((f"checkpoint ({'Bi' if spec.bidirectional else ''}{spec.cell.upper()} {spec.num_layers}x"
                       f"{spec.hidden_size}, frame_stack {spec.frame_stack})", clf, "window"))
    uni = random_classifier(False)
    models += [("LSTM 2x128 unidirectional", uni, "window"), ("LSTM 2x128 unidirectional", uni, "stateful")]
    results = []
    for name, clf, mode in models:
        for hop in a.hops:
            r = time_stream(clf, wave, hop, mode)
            r["model"] = name
            results.append(r)
            print(f"{name:45s} {mode:8s} hop {hop:5.0f} ms: median {r['median_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
                  f"(CPU {r['cpu_median_ms']:.2f} / {r['cpu_p99_ms']:.2f} ms), RTF {r['real_time_factor']:.4f}", file=sys.stderr)
    latency = None
    if a.stream and a.checkpoint:
        knobs = OmegaConf.to_container(OmegaConf.load(PACKAGE_CONF_DIR / "stream" / "default.yaml"))
        latency = word_latency(models[1][1], a.stream, knobs)
    report = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                          "torch": torch.__version__, "threads": a.threads,
                          "note": "shared machine unless stated otherwise; rerun when quiet"},
              "audio_seconds": a.seconds, "block_ms": 50, "results": results, "latency": latency}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2))
    print("| model | mode | hop ms | per-hop median ms | per-hop p99 ms | CPU median ms | CPU p99 ms | real-time factor |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['model']} | {r['mode']} | {r['hop_ms']:.0f} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{r['cpu_median_ms']:.2f} | {r['cpu_p99_ms']:.2f} | {r['real_time_factor']:.4f} |")
    if latency:
        print(f"\nlatency ({latency.get('correct')} correct detections, settings {latency.get('settings')}): "
              f"median {latency.get('median_from_word_end_ms', float('nan')):.0f} ms from word end "
              f"(p90 {latency.get('p90_from_word_end_ms', float('nan')):.0f} ms), "
              f"{latency.get('median_from_word_start_ms', float('nan')):.0f} ms from word start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
