#!/usr/bin/env python
"""Calibrate a finished checkpoint's stored detector again, as the end of training does.

    python scripts/recalibrate.py CHECKPOINT DATA_ROOT [--takes 2] [--seconds 600] [--budget 30]
        [--out runs/recalibrate] [--openworld ../shared/data/real_world]

For checkpoints calibrated by an older rule (one pair of validation streams, or shorter ones):
builds `calibration.takes` pairs of validation streams (near, and the same words in one simulated
room), chooses the detector for the false-alarm budget, and stores it, with the calibration config
it used, in CHECKPOINT (in place, atomically) and in the model.json of CHECKPOINT.onnx when one
sits beside it. Settings not given keep the checkpoint's stored `calibration.*` (then the
defaults). The streams and calibration.json are kept under --out/calibration. With --openworld
the streams are open-world ones (commands among talk and other words over recorded noise), whose
budget also holds per hour of talk, as in training with openworld.root set.
"""

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("data_root")
    ap.add_argument("--takes", type=int, help="pairs of validation streams (default: stored, else 2)")
    ap.add_argument("--seconds", type=float, help="length of each stream (default: stored, else 600)")
    ap.add_argument("--budget", type=float, help="false alarms per hour (default: stored, else 30)")
    ap.add_argument("--talk-budget", type=float,
                    help="open-world streams: detections per hour of talk (default: stored, else --budget)")
    ap.add_argument("--plain-takes", type=int,
                    help="with --openworld: pairs of the dataset's own streams the budget must hold on too "
                         "(default: stored, else 0)")
    ap.add_argument("--draw", choices=("speaker", "clip"),
                    help="open-world streams: a command's clip by speaker or by clip (default: stored, else speaker)")
    ap.add_argument("--out", type=Path, default=Path("runs/recalibrate"))
    ap.add_argument("--openworld", type=Path, help="a real_world folder: calibrate on open-world streams")
    a = ap.parse_args(argv)
    if a.checkpoint.suffix != ".safetensors" or not a.checkpoint.is_file():
        ap.error(f"no .safetensors checkpoint at {a.checkpoint}")
    if a.plain_takes and a.openworld is None:
        ap.error("--plain-takes needs --openworld (without it every stream is the dataset's own already)")
    overrides = {k: v for k, v in (("takes", a.takes), ("seconds", a.seconds),
                                   ("max_false_alarms_per_hour", a.budget), ("draw", a.draw),
                                   ("max_detections_per_hour_of_talk", a.talk_budget),
                                   ("plain_takes", a.plain_takes)) if v is not None}
    from speechseq.config import ConfigError
    from speechseq.errors import DatasetError
    from speechseq.streaming.calibration_store import CalibrationError
    from speechseq.training.calibration import recalibrate_checkpoint

    try:
        record = recalibrate_checkpoint(a.checkpoint, a.data_root, a.out, overrides,
                                        open_world_root=a.openworld)
    except (ConfigError, DatasetError, CalibrationError) as exc:
        print(f"recalibrate.py: error: {exc}", file=sys.stderr)
        return 2
    s, v = record["settings"], record["validation"]
    print(f"{a.checkpoint}: {s['detector']}, threshold {s['threshold']:g}, per class {s['class_thresholds'] or 'none'}; "
          f"validation {v['correct_pct']:.1f} % correct, {v['wrong_pct']:.1f} % wrong, "
          f"{v['false_alarms_per_hour']:.1f} false alarms/h on {v['duration_s']:.0f} s"
          + (f", {v['detections_per_hour_of_talk']:.1f} detections per hour of talk ({v['talk_minutes']:.1f} min)"
             if "talk_minutes" in v else "")
          + "".join(f"; the dataset's own streams: {o['false_alarms_per_hour']:.1f} false alarms/h on "
                    f"{o['duration_s']:.0f} s" for o in record.get("also_within", [])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
