#!/usr/bin/env python
"""Stateful vs window mode for a unidirectional LSTM, on the synthetic word-tone task.

    python scripts/compare_stateful.py [--checkpoint UNI_CKPT --stream DIR] [--epochs 8] [--out DIR]

Without arguments it trains a small unidirectional LSTM (2x64) on the tests' synthetic word tones
(about 30 s on one core), builds a 122 s stream of 40 tone words (30% fillers) and scores both
modes with the streaming scorer. With --checkpoint (a model.bidirectional=false checkpoint) and
--stream (a folder from make_stream_wav.py) it scores that model on that stream instead.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def synthetic_setup(epochs: int, out: Path):
    sys.path.insert(0, str(REPO))
    from speechseq.labels import COMMANDS_10
    from speechseq.training.train import train
    from tests.conftest import (
        FILLERS,
        compose_config,
        tiny_train_overrides,
        word_tone,
        write_synthetic_dataset,
    )

    root = write_synthetic_dataset(out / "data", clips_per_word=30)
    cfg = compose_config("train", tiny_train_overrides(root, out / "cache", epochs=epochs) + [
        "trainer.test_after_training=false", "model.bidirectional=false", "model.hidden_size=64",
        "model.num_layers=2"], out / "run")
    summary = train(cfg)
    words = COMMANDS_10 + FILLERS
    rng = np.random.default_rng(5)
    seq = list(rng.integers(0, len(words), 40))
    wave = rng.normal(0, 0.003, 16000 * (2 + 3 * len(seq))).astype(np.float32)
    for i, wi in enumerate(seq):
        start = 16000 * (1 + 3 * i)
        wave[start:start + 16000] += word_tone(int(wi), rng)
    truth = [(words[w] if w < 10 else "_unknown_", 1000.0 + 3000 * i) for i, w in enumerate(seq)]
    print(f"trained: validation accuracy {summary['best_val_acc']:.3f}")
    return summary["best_checkpoint"], wave, truth


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint")
    ap.add_argument("--stream", type=Path)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()

    import torch

    from speechseq.streaming.backends import load_classifier
    from speechseq.streaming.recognizer import StreamingRecognizer, StreamSettings
    from speechseq.streaming.scoring import score_detections

    torch.set_num_threads(1)
    if a.checkpoint:
        if not a.stream:
            ap.error("--checkpoint needs --stream DIR (from scripts/make_stream_wav.py)")
        import soundfile as sf

        from speechseq.streaming.synth_stream import read_labels

        ckpt, truth = a.checkpoint, read_labels(a.stream / "labels.csv")
        wave, _ = sf.read(a.stream / "stream.wav", dtype="float32")
    else:
        ckpt, wave, truth = synthetic_setup(a.epochs, a.out or Path(tempfile.mkdtemp(prefix="stateful-")))
    clf = load_classifier(ckpt)
    keywords = {lab for lab in clf.labels if not lab.startswith("_")}
    print("| mode | correct % | wrong % | missed % | false alarms/hour | median latency ms | per hop ms (median, wall) |")
    print("|---|---|---|---|---|---|---|")
    for mode in ("window", "stateful"):
        rec = StreamingRecognizer(clf, StreamSettings(mode=mode))
        dets = rec.feed(wave)
        r = score_detections(dets, truth, keywords, len(wave) / 16000)
        print(f"| {mode} | {r['correct_pct']:.1f} | {r['wrong_pct']:.1f} | {r['missed_pct']:.1f} | "
              f"{r['false_alarms_per_hour']:.0f} | {r['median_latency_ms'] or float('nan'):.0f} | "
              f"{np.median(rec.hop_seconds) * 1000:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
