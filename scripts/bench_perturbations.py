#!/usr/bin/env python
"""What each speaker-variety perturbation costs on a batch, alone: augment.speed_factors and
augment.pitch_semitones on the waveforms, augment.vtlp and augment.eq_db on the log-mel features,
with the log-mel frontend for scale. Median of --repeats calls, in the order given, twice (A B C A B C).

    python scripts/bench_perturbations.py [--batch 64] [--threads 1] [--repeats 15] [--pitch -2,2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from speechseq.augment.eq import RandomEQ  # noqa: E402
from speechseq.augment.pitch import pitch_perturb  # noqa: E402
from speechseq.augment.transforms import speed_perturb  # noqa: E402
from speechseq.augment.warp import MelWarp  # noqa: E402
from speechseq.features.logmel import LogMel  # noqa: E402
from speechseq.features.spec import FrontendSpec  # noqa: E402

SR = 16000


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--pitch", default="-2,2", help="augment.pitch_semitones as low,high")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    waves = torch.randn(a.batch, SR, generator=g) * 0.1
    spec = FrontendSpec()
    frontend = LogMel(spec)
    logmel = frontend(waves)
    low, high = (float(x) for x in a.pitch.split(","))
    warp, eq = MelWarp([0.9, 1.1], spec.n_mels, spec.f_min, spec.f_max), RandomEQ(6.0, spec.n_mels)
    work = {
        "log-mel frontend (for scale)": lambda: frontend(waves),
        "speed_factors [0.9, 1.0, 1.1]": lambda: speed_perturb(waves, (0.9, 1.0, 1.1), SR, g),
        f"pitch_semitones [{low:g}, {high:g}]": lambda: pitch_perturb(waves, (low, high), SR, generator=g),
        "vtlp [0.9, 1.1]": lambda: warp(logmel, g),
        "eq_db 6": lambda: eq(logmel, g),
    }
    print(f"batch {a.batch}, {a.threads} thread(s), load average {os.getloadavg()[0]:.1f}")
    results = {name: [] for name in work}
    for _ in range(2):
        for name, fn in work.items():
            results[name].append(median_ms(fn, a.repeats))
    for name, ms in results.items():
        print(f"{name}: {ms[0]:.1f} / {ms[1]:.1f} ms per batch (first / second pass)")


if __name__ == "__main__":
    main()
