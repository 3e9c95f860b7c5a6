#!/usr/bin/env python
"""Where a CPU training step of the default model spends its time: forward alone, and
forward + backward + AdamW, with oneDNN's LSTM kernels (torch's default on CPU) on and off.

    python scripts/bench_model_step.py [--batch 128] [--steps 6] [--frame-stack 1] [--threads 0]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # speechseq's default; libgomp reads it when torch loads

import torch  # noqa: E402

from speechseq.model import ModelSpec, RecurrentClassifier  # noqa: E402


def per_call_ms(fn, steps: int) -> float:
    for _ in range(2):
        fn()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--frame-stack", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch's default (all cores)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = RecurrentClassifier(ModelSpec(n_inputs=40, n_classes=12, frame_stack=args.frame_stack))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.randn(args.batch, 97, 40), torch.randint(0, 12, (args.batch,))

    def train_step() -> None:
        loss = torch.nn.functional.cross_entropy(model(x, normalized=True), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def forward() -> None:
        with torch.no_grad():
            model(x, normalized=True)

    print(f"default model (frame_stack {args.frame_stack}), batch {args.batch}, {torch.get_num_threads()} "
          f"torch threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
          f"load average {os.getloadavg()[0]:.1f}")
    for onednn in (True, False, True, False):  # twice each, alternating: the spread is the noise
        with torch.backends.mkldnn.flags(enabled=onednn):
            step_ms, fwd_ms = per_call_ms(train_step, args.steps), per_call_ms(forward, args.steps)
        print(f"oneDNN {'on ' if onednn else 'off'}: train step {step_ms:6.0f} ms ({args.batch / step_ms * 1000:5.0f} "
              f"clips/s), forward alone {fwd_ms:5.0f} ms")


if __name__ == "__main__":
    main()
