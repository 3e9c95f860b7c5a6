#!/usr/bin/env python
"""Torch threads x OpenMP wait policy for one CPU training step of the default model.

Each setting runs in a fresh process (libgomp reads OMP_WAIT_POLICY when torch loads it):
    python scripts/bench_threads.py [--batch 128] [--steps 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

STEP = r"""
import sys, time, torch
from speechseq.models.recurrent import ModelSpec, RecurrentClassifier
threads, batch, steps = map(int, sys.argv[1:4])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = RecurrentClassifier(ModelSpec(40, 12))
opt = torch.optim.AdamW(model.parameters(), 1e-3)
x, y = torch.randn(batch, 97, 40), torch.randint(0, 12, (batch,))
def step():
    loss = torch.nn.functional.cross_entropy(model(x, normalized=True), y)
    opt.zero_grad(); loss.backward(); opt.step()
for _ in range(2):
    step()
t = time.perf_counter()
for _ in range(steps):
    step()
print(batch * steps / (time.perf_counter() - t))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    # "unset": libgomp's default (spin a while, then sleep); the step imports torch before speechseq,
    # so speechseq's own default (PASSIVE) does not apply to it.
    settings = [("unset", 2), ("ACTIVE", 2), ("PASSIVE", 2), ("unset", 1)]
    print(f"default model, batch {args.batch}, fwd+bwd+AdamW, clips/s; load average {os.getloadavg()[0]:.1f}")
    for r in range(args.rounds):
        for policy, threads in settings:
            env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
            if policy != "unset":
                env["OMP_WAIT_POLICY"] = policy
            out = subprocess.run([sys.executable, "-c", STEP, str(threads), str(args.batch), str(args.steps)],
                                 env=env, capture_output=True, text=True, check=True).stdout
            print(f"round {r + 1}  OMP_WAIT_POLICY={policy:<7}  threads={threads}  {float(out):7.1f} clips/s")


if __name__ == "__main__":
    main()
