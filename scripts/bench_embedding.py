#!/usr/bin/env python
"""What features=speech_embedding costs on a CPU, beside the log-mel, measured in alternating rounds
so both see the same machine (thread CPU time, and wall time beside it): the front end per clip (log-mel; the embedding on onnxruntime's
whole-clip graph, which training uses on a CPU; the converted torch network; the unmodified graph on
76-frame windows), the training update of the BiLSTM on each front end's frames, and the streaming
front end per hop. One thread for torch and onnxruntime (experiment=mini's trainer.num_threads=1).

    python scripts/bench_embedding.py [--rounds 7] [--batch 64] [--epoch-clips N] [--bf16]

--epoch-clips: the training clips of one epoch (what `speechseq-train experiment=mini` logs as
"training clips per epoch"), to turn per-clip costs into per-epoch ones.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from speechseq.features.embedding_onnx import OnnxEmbedder  # noqa: E402
from speechseq.features.embedding_spec import EmbeddingSpec  # noqa: E402
from speechseq.features.logmel import LogMel  # noqa: E402
from speechseq.features.spec import FrontendSpec  # noqa: E402
from speechseq.features.speech_embedding import SpeechEmbedding  # noqa: E402
from speechseq.models.recurrent import ModelSpec, RecurrentClassifier  # noqa: E402
from speechseq.streaming.frontend import IncrementalEmbedding, IncrementalLogMel  # noqa: E402


def synthetic_clips(batch: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    t = torch.arange(16000) / 16000
    tones = torch.sin(2 * torch.pi * (200 + 400 * torch.rand(batch, 1, generator=g)) * t)
    return (0.2 * tones * (t > 0.3) * (t < 0.8) + 0.01 * torch.randn(batch, 16000, generator=g)).float()


def update_fn(n_inputs: int, frame_stack: int, feats: torch.Tensor, bf16: bool):
    """One optimiser step of experiment=mini's short-budget BiLSTM (2 x 128, mean pooling, no dropout)."""
    torch.manual_seed(0)
    model = RecurrentClassifier(ModelSpec(n_inputs=n_inputs, n_classes=12, frame_stack=frame_stack, dropout=0.0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    labels = torch.randint(0, 12, (len(feats),), generator=torch.Generator().manual_seed(1))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(feats, normalized=True)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def stream_fn(frontend, hop_samples: int):
    wave = synthetic_clips(8).reshape(-1).numpy().astype(np.float64)
    state = {"i": 0}

    def hop() -> None:
        i = state["i"] % (len(wave) - hop_samples)
        frontend.push(wave[i:i + hop_samples])
        state["i"] = i + hop_samples
    return hop


def timed(fn) -> tuple[float, float]:
    """(thread CPU seconds, wall seconds) of one call: on a shared machine the CPU time is the cost,
    since waiting for a core does not count (torch and onnxruntime run one thread, the caller's)."""
    cpu, wall = time.thread_time(), time.perf_counter()
    fn()
    return time.thread_time() - cpu, time.perf_counter() - wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epoch-clips", type=int, default=4531)
    ap.add_argument("--bf16", action="store_true", help="the update under bf16 autocast (trainer.precision=auto "
                                                        "on a CPU with avx512_bf16/amx_bf16)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    waves = synthetic_clips(args.batch)
    logmel, onnx_engine, torch_engine = LogMel(FrontendSpec()), SpeechEmbedding(), SpeechEmbedding(engine="torch")
    windows = OnnxEmbedder(EmbeddingSpec())
    clips_np = waves.numpy()
    mel_feats, emb_feats = logmel(waves), onnx_engine(waves)
    per_clip = {  # name -> (what runs, clips it handles)
        "log-mel (LogMel, torch)": (lambda: logmel(waves), args.batch),
        "embedding: onnxruntime, whole-clip graph (training on a CPU)": (lambda: onnx_engine(waves), args.batch),
        "embedding: torch, converted network": (lambda: torch_engine(waves), args.batch),
        "embedding: onnxruntime, unmodified graph on 76-frame windows": (
            lambda: [windows(w) for w in clips_np], args.batch),
        "update: BiLSTM 2x128 on log-mel (97 frames, stack 3)": (update_fn(40, 3, mel_feats, args.bf16), args.batch),
        "update: BiLSTM 2x128 on embeddings (3 frames)": (update_fn(96, 1, emb_feats, args.bf16), args.batch),
    }
    per_hop = {
        "stream: log-mel, 100 ms of samples": (stream_fn(IncrementalLogMel(), 1600), 1),
        "stream: embedding, 80 ms of samples (one embedding)": (stream_fn(IncrementalEmbedding(), 1280), 1),
    }
    jobs = {**per_clip, **per_hop}
    results = {name: ([], []) for name in jobs}
    for fn, _ in jobs.values():
        fn()  # warm-up: sessions, kernels, caches
    for _ in range(args.rounds):
        for name, (fn, n) in jobs.items():
            reps = 20 if name in per_hop else 1
            cpu, wall = np.sum([timed(fn) for _ in range(reps)], axis=0) / reps / n
            results[name][0].append(cpu)
            results[name][1].append(wall)
    print(f"threads 1, batch {args.batch}, {args.rounds} rounds (median), bf16 update: {args.bf16}, "
          f"epoch = {args.epoch_clips} clips")
    print("| what | CPU ms per clip (per hop for streams) | CPU s per epoch | wall ms |\n|---|---:|---:|---:|")
    for name, (cpu, wall) in results.items():
        ms = statistics.median(cpu) * 1000
        epoch = f"{ms * args.epoch_clips / 1000:.1f}" if name in per_clip else ""
        print(f"| {name} | {ms:.3f} | {epoch} | {statistics.median(wall) * 1000:.3f} |")


if __name__ == "__main__":
    main()
