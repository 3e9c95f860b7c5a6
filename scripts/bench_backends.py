#!/usr/bin/env python
"""Start-up time, resident memory and per-window latency of the torch, onnx and numpy classifier backends.

    python scripts/bench_backends.py --checkpoint runs/train/X/checkpoints/best.safetensors [--onnx model.onnx]

Backends: torch (speechseq.deploy.checkpoint), onnx (speechseq.deploy.onnx_runtime), numpy (speechseq.deploy.numpy_runtime,
float32 arithmetic) and numpy-float64. Each runs in its own fresh process (so imports and memory are
its own), on one thread:
- start-up: process start -> backend loaded and first window classified (imports included);
- memory: resident set size (VmRSS) after 200 calls, and the peak (ru_maxrss);
- latency: one classifier call on a 1 s window (97 log-mel frames), median and 95th percentile.
Without --onnx the checkpoint is exported to a temporary folder first. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
backend, path, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
import numpy as np
if backend == "torch":
    import torch
    torch.set_num_threads(1)
    from speechseq.deploy.checkpoint import load_inference
    loaded = load_inference(path)
    model, spec = loaded.model, loaded.frontend
    def classify(feats):
        with torch.inference_mode():
            return torch.softmax(model(torch.from_numpy(feats)[None]), -1)[0].numpy()
elif backend.startswith("numpy"):
    from speechseq.deploy.numpy_runtime import NumpyClassifier
    clf = NumpyClassifier(path, dtype="float64" if backend == "numpy-float64" else "float32")
    spec, classify = clf.frontend, clf
else:
    from speechseq.deploy.onnx_runtime import OnnxClassifier
    clf = OnnxClassifier(path, num_threads=1)
    spec, classify = clf.frontend, clf
from speechseq.features.numpy_logmel import log_mel
rng = np.random.default_rng(0)
wave = (rng.normal(0, 0.05, spec.sample_rate)).astype(np.float32)
feats = log_mel(wave, spec)
classify(feats)
startup = time.perf_counter() - t0
times = []
for _ in range(calls):
    t = time.perf_counter(); classify(feats); times.append(time.perf_counter() - t)
fe = []
for _ in range(50):
    t = time.perf_counter(); log_mel(wave, spec); fe.append(time.perf_counter() - t)
# VmHWM, not ru_maxrss: the latter survives exec and would report the (torch-laden) parent's peak.
status = {l.split(":")[0]: int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(("VmRSS", "VmHWM"))}
print(json.dumps({"startup_s": startup, "rss_mib": status["VmRSS"] / 1024, "peak_rss_mib": status["VmHWM"] / 1024,
                  "latency_ms": sorted(times), "frontend_ms": sorted(fe),
                  "torch_imported": "torch" in sys.modules, "ort_imported": "onnxruntime" in sys.modules,
                  "frames": int(feats.shape[0])}))
"""


def run_child(backend: str, path: Path, calls: int) -> dict:
    t0 = time.perf_counter()
    # One thread everywhere, numpy's BLAS included (a small window gains nothing from more).
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, backend, str(path), str(calls)],
                          capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{backend} benchmark failed:\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = time.perf_counter() - t0
    return out


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="inference checkpoint (.safetensors)")
    parser.add_argument("--onnx", help="its export (model.onnx); default: export it to a temporary folder")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per backend, taken in turn "
                        "(best start-up kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        onnx = Path(args.onnx) if args.onnx else Path(tmp) / "model.onnx"
        if not args.onnx:
            from speechseq.deploy.export import export_onnx
            export_onnx(args.checkpoint, onnx)
        results = {}
        backends = [("torch", Path(args.checkpoint)), ("onnx", onnx), ("numpy", Path(args.checkpoint)),
                    ("numpy-float64", Path(args.checkpoint))]
        # round-robin, so that load from other jobs on a shared machine falls on every backend alike
        all_runs = {name: [] for name, _ in backends}
        for _ in range(args.repeats):
            for backend, path in backends:
                all_runs[backend].append(run_child(backend, path, args.calls))
        for backend, runs in all_runs.items():
            best = min(runs, key=lambda r: r["startup_s"])
            lat = sorted(t for r in runs for t in r["latency_ms"])
            fe = sorted(t for r in runs for t in r["frontend_ms"])
            results[backend] = {"startup_s": best["startup_s"], "process_s": best["process_s"],
                                "rss_mib": max(r["rss_mib"] for r in runs),
                                "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
                                "p50_ms": pct(lat, 0.5), "p95_ms": pct(lat, 0.95), "frontend_p50_ms": pct(fe, 0.5),
                                "torch_imported": best["torch_imported"], "ort_imported": best["ort_imported"]}
    print(f"checkpoint {args.checkpoint}; {args.calls} calls x {args.repeats} processes per backend, 1 thread\n")
    print("| backend | imports + load + first window (s) | whole process, calls included (s) | RSS (MiB) | peak RSS (MiB) "
          "| classifier, 1 s window: median (ms) | p95 (ms) | numpy log-mel of 1 s (ms) | torch imported "
          "| onnxruntime imported |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['startup_s']:.2f} | {r['process_s']:.2f} | {r['rss_mib']:.0f} | {r['peak_rss_mib']:.0f} "
              f"| {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['frontend_p50_ms']:.2f} | {r['torch_imported']} "
              f"| {r['ort_imported']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
