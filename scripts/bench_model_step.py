#!/usr/bin/env python
"""Where a CPU training step of the default model spends its time: forward alone, and
forward + backward + AdamW, with oneDNN's LSTM kernels (torch's default on CPU) on and off,
or (--compare precision) in fp32 against bf16 autocast (what trainer.precision=auto picks on
a CPU with native bf16).

    python scripts/bench_model_step.py [--batch 128] [--steps 6] [--frame-stack 1] [--threads 0]
    python scripts/bench_model_step.py --compare precision --frame-stack 2 --batch 64
    python scripts/bench_model_step.py --frame-stack 3 --batch 64 --hidden-size 96 --threads 1
    python scripts/bench_model_step.py --compare precision --frame-stack 2 --batch 64 --threads 1 --pooling attention
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # speechseq's default; libgomp reads it when torch loads

import torch  # noqa: E402

from speechseq.models.recurrent import ModelSpec, RecurrentClassifier  # noqa: E402


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
    ap.add_argument("--hidden-size", type=int, default=128)
    ap.add_argument("--num-layers", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.1, help="between the LSTM layers (the model's default)")
    ap.add_argument("--pooling", choices=("mean", "attention"), default="mean")
    ap.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch's default (all cores)")
    ap.add_argument("--compare", choices=("onednn", "precision"), default="onednn")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = RecurrentClassifier(ModelSpec(n_inputs=40, n_classes=12, frame_stack=args.frame_stack,
                                          hidden_size=args.hidden_size, num_layers=args.num_layers,
                                          dropout=args.dropout, pooling=args.pooling))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.randn(args.batch, 97, 40), torch.randint(0, 12, (args.batch,))

    bf16 = {"on": False}

    def train_step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16["on"]):
            logits = model(x, normalized=True)
        loss = torch.nn.functional.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def forward() -> None:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16["on"]):
            model(x, normalized=True)

    print(f"BiLSTM {args.num_layers}x{args.hidden_size} (frame_stack {args.frame_stack}, dropout {args.dropout:g}, "
          f"{args.pooling} pooling), "
          f"batch {args.batch}, {torch.get_num_threads()} torch threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
          f"load average {os.getloadavg()[0]:.1f}")
    for setting in (True, False, True, False):  # twice each, alternating: the spread is the noise
        onednn = setting if args.compare == "onednn" else True
        bf16["on"] = args.compare == "precision" and not setting
        with torch.backends.mkldnn.flags(enabled=onednn):
            step_ms, fwd_ms = per_call_ms(train_step, args.steps), per_call_ms(forward, args.steps)
        name = f"oneDNN {'on ' if onednn else 'off'}" if args.compare == "onednn" else ("bf16" if bf16["on"] else "fp32")
        print(f"{name}: train step {step_ms:6.0f} ms ({args.batch / step_ms * 1000:5.0f} "
              f"clips/s), forward alone {fwd_ms:5.0f} ms")


if __name__ == "__main__":
    main()
