#!/usr/bin/env python
"""What room augmentation adds to a training step on a CPU, measured side by side: the whole
step of experiment=mini (waveform augmentation, log-mel, SpecAugment, BiLSTM forward + backward +
AdamW, batch 64) with augment.room_prob=0 and with room_prob (default 0.5), alternating A B A B
so both see the same machine. With --speed-factors both sides have the rooms and B adds speed
perturbation (augment.speed_factors) instead, with --pitch-semitones pitch perturbation
(augment.pitch_semitones); with --ema-decay B adds the weight average's update after each optimiser
step (optim.ema_decay).

    python scripts/bench_rooms.py [--room-prob 0.5] [--speed-factors 0.9,1.0,1.1 | --pitch-semitones -2,2 | --ema-decay 0.999]
                                  [--steps 20] [--threads 1] [--bank-size 500] [--bf16]

The bank (RT60 0.2-1.0 s, 0.5-5 m, as augment=far) comes from ~/.cache/speechseq/rirs when a run
built it, else it is simulated first (not timed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from speechseq.augment.rir_bank import RoomSpec, load_or_build_bank  # noqa: E402
from speechseq.augment.transforms import SpecAugment, WaveAugment, WaveAugmentConfig  # noqa: E402
from speechseq.data.splits import NoiseBank  # noqa: E402
from speechseq.features.logmel import LogMel  # noqa: E402
from speechseq.features.spec import FrontendSpec  # noqa: E402
from speechseq.models.recurrent import ModelSpec, RecurrentClassifier  # noqa: E402
from speechseq.training.average import weight_average  # noqa: E402

MINI_RECIPE = dict(time_shift_ms=100.0, noise_prob=0.8, snr_db=(-5.0, 25.0), gain_db=(-12.0, 6.0),
                   silence_dbfs=(-75.0, -5.0), fragment_prob=0.05)


def step_fn(room_prob: float, bank, batch: int, bf16: bool, speed_factors: tuple[float, ...] = (),
            ema_decay: float = 0.0, pitch: tuple[float, float] | None = None):
    g = torch.Generator().manual_seed(0)
    noise = NoiseBank(torch.randn(64, 16000, generator=g) * 0.05)
    aug = WaveAugment(noise, 16000, WaveAugmentConfig(room_prob=room_prob, speed_factors=speed_factors,
                                                      pitch_semitones=pitch, **MINI_RECIPE), 0, 1,
                      rooms=bank if room_prob > 0 else None)
    frontend, masks = LogMel(FrontendSpec()), SpecAugment()
    model = RecurrentClassifier(ModelSpec(n_inputs=40, n_classes=12, frame_stack=2, pooling="attention"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    average = weight_average(model, ema_decay, None)
    waves = torch.randn(batch, 16000, generator=g) * 0.1
    labels = torch.randint(2, 12, (batch,), generator=g)
    labels[: batch // 10] = 0  # ~10% silence, as in training

    def step() -> None:
        x, y, _ = aug(waves, labels, g)
        feats = masks(frontend(x), g)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(feats)
        loss = torch.nn.functional.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if average is not None:
            average.update(model)
    return step


def median_ms(fn, steps: int) -> float:
    fn()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--room-prob", type=float, default=0.5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--bank-size", type=int, default=500)
    ap.add_argument("--speed-factors", default="", help="e.g. 0.9,1.0,1.1: compare rooms against rooms + speed")
    ap.add_argument("--pitch-semitones", default="", help="e.g. -2,2: compare rooms against rooms + pitch shifts")
    ap.add_argument("--ema-decay", type=float, default=0.0, help="e.g. 0.999: compare rooms against rooms + weight average")
    ap.add_argument("--bf16", action="store_true", help="autocast as trainer.precision=auto does on a bf16 CPU")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    bank = load_or_build_bank(RoomSpec(size=a.bank_size), "~/.cache/speechseq")
    speed = tuple(float(x) for x in a.speed_factors.split(",") if x)
    pitch = tuple(float(x) for x in a.pitch_semitones.split(",")) if a.pitch_semitones else None
    if pitch:
        steps = {f"room_prob {a.room_prob:g}": step_fn(a.room_prob, bank, a.batch, a.bf16),
                 f"+ pitch_semitones {list(pitch)}": step_fn(a.room_prob, bank, a.batch, a.bf16, pitch=pitch)}
    elif speed:
        steps = {f"room_prob {a.room_prob:g}": step_fn(a.room_prob, bank, a.batch, a.bf16),
                 f"+ speed_factors {list(speed)}": step_fn(a.room_prob, bank, a.batch, a.bf16, speed)}
    elif a.ema_decay > 0:
        steps = {f"room_prob {a.room_prob:g}": step_fn(a.room_prob, bank, a.batch, a.bf16),
                 f"+ ema_decay {a.ema_decay:g}": step_fn(a.room_prob, bank, a.batch, a.bf16, ema_decay=a.ema_decay)}
    else:
        steps = {f"room_prob {p:g}": step_fn(p, bank, a.batch, a.bf16) for p in (0.0, a.room_prob)}
    print(f"batch {a.batch}, {a.threads} thread(s), {'bf16' if a.bf16 else 'fp32'}, bank of {len(bank)} rooms, "
          f"load average {os.getloadavg()[0]:.1f}")
    results = {name: [] for name in steps}
    for _ in range(2):
        for name, fn in steps.items():
            results[name].append(median_ms(fn, a.steps))
            print(f"{name}: step {results[name][-1]:.0f} ms")
    (name_a, a_ms), (name_b, b_ms) = ((k, statistics.mean(v)) for k, v in results.items())
    print(f"{name_b} adds {b_ms - a_ms:+.0f} ms per step to {name_a} ({(b_ms / a_ms - 1) * 100:+.1f}%)")


if __name__ == "__main__":
    main()
