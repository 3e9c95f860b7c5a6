#!/usr/bin/env python
"""How a calibrated detector holds its false-alarm budget on validation streams it was not tuned on.

    python scripts/calibration_holdout.py DATA_ROOT CHECKPOINT [CHECKPOINT ...] [--tune 0,1] [--held-out 2,3]
        [--budget 30] [--out runs/calibration_holdout]

For each stream seed, the pair of validation streams training's calibration builds for that seed
(calibration.* defaults: 10 minutes, loud noise recipe, and the same stream in a simulated room of
RT60 0.6 s with the talker 2.5 m away, a room per seed). Per checkpoint the posteriors are computed once per stream (cached under --out), the
detector is chosen by each rule on the tuning seeds, and scored on each held-out stream alone:

  one-take       calibration.takes=1: the first tuning pair, pooled
  one-take-each  the first pair, every stream within the budget on its own (single threshold)
  all-takes      calibration.takes=len(--tune): every tuning pair, pooled
  all-takes-80   the same at 80 % of the budget (a margin)

Validation only: the test split is for reporting the rule chosen here (docs/farfield.md).
"""

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np


def stream_pairs(root: str, seeds: list[int], out: Path) -> dict:
    """{(condition, seed): stream.wav}: per seed, the pair training's calibration builds for that
    seed (training.calibration.write_validation_streams, one take), once, under out/streams/seed_S."""
    from omegaconf import OmegaConf

    from speechseq.config.training import CalibrationConfig
    from speechseq.data.layout import scan_dataset
    from speechseq.labels import make_label_set
    from speechseq.training.calibration import write_validation_streams

    index, paths = scan_dataset(root, "auto"), {}
    for seed in seeds:
        folder = out / "streams" / f"seed_{seed}"
        if not (folder / "far" / "stream.wav").is_file():
            c = OmegaConf.structured(CalibrationConfig(seed=seed, takes=1))
            write_validation_streams(c, index, make_label_set("v2_12", None), folder)
        paths["near", seed], paths["far", seed] = folder / "near" / "stream.wav", folder / "far" / "stream.wav"
    return paths


def tracks_of(checkpoint: str, streams: dict, out: Path) -> dict:
    """{(condition, seed): PosteriorTrack} of one checkpoint, cached as pickles under out/tracks."""
    from speechseq.evaluation.streams import posterior_track
    from speechseq.streaming.backends import load_classifier
    from speechseq.streaming.recognizer import settings_for

    classifier, tracks = None, {}
    for (cond, seed), wav in streams.items():
        cache = out / "tracks" / f"{Path(checkpoint).resolve().as_posix().replace('/', '_')}__{cond}_{seed}.pkl"
        if not cache.is_file():
            classifier = classifier or load_classifier(checkpoint, "torch", num_threads=1)
            s = settings_for(classifier, {})
            cache.parent.mkdir(parents=True, exist_ok=True)
            track = posterior_track(classifier, wav, wav.with_name("labels.csv"), s.hop_ms, s.window_ms, progress=False)
            cache.write_bytes(pickle.dumps(track))
        tracks[cond, seed] = pickle.loads(cache.read_bytes())
    return tracks


def each_within_budget(tracks: list, budget: float):
    """The best pooled single-threshold setting (calibrate's ranking) with every stream within the
    budget on its own."""
    from speechseq.streaming.calibrate import DEFAULT_CANDIDATES, best_within_budget
    from speechseq.streaming.sweep import DEFAULT_THRESHOLDS
    from speechseq.training.calibration import joined

    pooled = joined(tracks)
    configs = (b.with_threshold(t) for b in DEFAULT_CANDIDATES for t in DEFAULT_THRESHOLDS)
    feasible = [(c, pooled.score(c)) for c in configs
                if max(t.score(c)["false_alarms_per_hour"] for t in tracks) <= budget]
    best = best_within_budget(feasible, float("inf"))
    return best[0] if best else None


def rules(tracks: dict, tune: list[int], budget: float) -> dict:
    """{rule: SmoothingConfig} chosen on the tuning seeds."""
    from speechseq.streaming.calibrate import calibrate
    from speechseq.streaming.recognizer import smoothing_from_config
    from speechseq.training.calibration import joined

    def chosen(streams, b):  # the detector as the live loop reads it from a stored calibration
        return smoothing_from_config({}, calibrate(joined(streams), b)["settings"])

    first = [tracks["near", tune[0]], tracks["far", tune[0]]]
    every = [tracks[c, s] for s in tune for c in ("near", "far")]
    return {"one-take": chosen(first, budget), "one-take-each": each_within_budget(first, budget),
            "all-takes": chosen(every, budget), "all-takes-80": chosen(every, 0.8 * budget)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_root")
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--tune", default="0,1", help="stream seeds the rules choose on")
    ap.add_argument("--held-out", default="2,3", help="stream seeds they are scored on")
    ap.add_argument("--budget", type=float, default=30.0, help="false alarms per hour")
    ap.add_argument("--out", type=Path, default=Path("runs/calibration_holdout"))
    a = ap.parse_args()
    tune, held = [int(s) for s in a.tune.split(",")], [int(s) for s in a.held_out.split(",")]
    if set(tune) & set(held):
        ap.error("--tune and --held-out must not share a seed")
    missing = [c for c in a.checkpoints if not Path(c).is_file()]
    if missing:
        ap.error(f"no checkpoint at {', '.join(missing)}")
    from speechseq.data.layout import DatasetError

    try:
        streams = stream_pairs(a.data_root, tune + held, a.out)
    except DatasetError as exc:  # no dataset there, or no validation split: one line, as make_stream_wav.py
        print(f"calibration_holdout.py: error: {exc}", file=sys.stderr)
        return 2
    scores: dict = {}
    for ckpt in a.checkpoints:
        tracks = tracks_of(ckpt, streams, a.out)
        for rule, config in rules(tracks, tune, a.budget).items():
            cells = []
            for cond in ("near", "far"):
                for seed in held:
                    r = tracks[cond, seed].score(config)
                    scores.setdefault(rule, {}).setdefault(cond, []).append((r["correct_pct"], r["false_alarms_per_hour"]))
                    cells.append(f"{cond} {seed}: {r['correct_pct']:.1f} % / {r['false_alarms_per_hour']:.0f}")
            print(f"{ckpt}  {rule:14s} threshold {config.threshold:.3f}  " + "  ".join(cells), flush=True)
    print(f"\n| rule | near: correct % / false alarms per h | room: same | held-out streams over {a.budget:g} per h |")
    print("|---|---|---|---|")
    for rule, by in scores.items():
        near, far = np.array(by["near"]), np.array(by["far"])
        over = int((near[:, 1] > a.budget).sum() + (far[:, 1] > a.budget).sum())
        print(f"| {rule} | {near[:, 0].mean():.1f} / {near[:, 1].mean():.1f} | {far[:, 0].mean():.1f} / "
              f"{far[:, 1].mean():.1f} | {over} / {len(near) + len(far)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
