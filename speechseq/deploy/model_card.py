"""The model card of a finished training run: MODEL_CARD.md beside the shipped model.

    python -m speechseq.deploy.model_card card RUN_DIR DATA_ROOT COMMAND [--streams DIR] [--seeds aggregate.json]
        [--farfield farfield.json] > MODEL_CARD.md

scripts/train_pretrained.sh runs it. Torch-free: it reads the run's JSON reports and the
checkpoint's metadata.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from speechseq.deploy.card_openworld import openworld_data_row, openworld_licences, openworld_section
from speechseq.deploy.card_data import architecture_line, describe_training_data, epoch_clips, input_line
from speechseq.deploy.card_balanced import balanced_rows, chosen_on, per_class_rows, seed_metric
from speechseq.deploy.metadata import STREAMING_KEY, read_checkpoint_metadata, trained_calibration
from speechseq.deploy.pretrained import MODEL_NAME

# The card is filled from the run's own reports, so its figures are the ones the run measured.
# Every figure carries its unit (%, dB, ms, per hour) and is rounded for reading (pct()).
CARD_TEMPLATE = """\
# Model card: {name}

A 12-class keyword spotter shipped with speechseq, so that `speechseq-listen` and `speechseq-stream`
work without a `checkpoint=`. It hears one second of audio and names the command in it, or
`_silence_`, or `_unknown_` (any other word). The commands: {words}.

| | |
|---|---|
| Architecture | {architecture} |
| Parameters | {parameters:,} |
| Input | {input} |
| Training data | {training_data} |
{openworld_data}| Epochs | {epochs} ({chosen_on} at epoch {best_epoch}) |
| Validation accuracy | {val_acc} |
| **Test accuracy (mini test split)** | **{test_acc}** ({test_n:,} clips; macro F1 {macro_f1}) |
{balanced}| Files | `{name}.safetensors` (torch, numpy), `{name}.onnx` + `{name}.json` (onnxruntime) |
| Built | {date} with speechseq {version}, torch {torch} |

## How it was made

```
{command}
```

The test split is the mini set's `testing_list.txt`, with `_unknown_` and `_silence_` clips drawn
as in TensorFlow's speech_commands example (10 % each, fixed seed). The mini set is small: a model
trained on the full dataset does better (the README's training section has that command).

{noise}{seeds}{streams}{farfield}{openworld}## Per-class results (mini test split)

| class | precision % | recall % | F1 % | test clips | recall 95 % CI | speakers |
|---|---:|---:|---:|---:|---:|---:|
{per_class}

## Data licence

Speech Commands (Warden, 2018, arXiv:1804.03209) is released under the
Creative Commons Attribution 4.0 International licence (CC BY 4.0); this model is a work
derived from it. {openworld_licences}No audio is included in the package.

## Limits

Trained on one-second read commands, noise at -5 to 25 dB SNR (with `augment=far`, a share of the words
in simulated rooms of RT60 0.2-1.0 s at 0.5-5 m, and in a few recorded ones): rooms or distances beyond
that, noise louder than the speech, rare accents and words outside the ten commands (which it should
call `_unknown_`; in streams most false alarms are such words, and stretches of talk) are where it errs most.
"""


def pct(fraction: float, digits: int = 2) -> str:
    """A fraction as a percentage for reading: 0.96178... -> '96.18 %'."""
    return f"{100.0 * fraction:.{digits}f} %"


def noise_section(report: dict) -> str:
    """The test split in background noise, from test_report.json's "noise" rows (empty without them)."""
    if not (rows := report.get("noise")):
        return ""
    table = ["| test clips | accuracy |", "|---|---:|", f"| clean | {pct(report['accuracy'])} |"]
    table += [f"| {r['snr_db']:g} dB SNR | {pct(r['accuracy'])} |" for r in rows]
    if all("balanced_accuracy" in r for r in [report, *rows]):  # reports from before the figure lack it
        cells = [" class-balanced |", "---:|", *(f" {pct(r['balanced_accuracy'])} |" for r in [report, *rows])]
        table = [line + cell for line, cell in zip(table, cells)]
    lines = ["## In background noise (mini test split)", "",
             "Word clips mixed with the dataset's `_background_noise_` at each signal-to-noise ratio (speech",
             "power over noise power across the second; silence clips unchanged; seeded):", "", *table]
    return "\n".join(lines) + "\n\n"


def _seed_metric(key: str) -> str | None:
    """aggregate.json's metric key as a row name: test_10dB -> 'test, 10 dB SNR'; None for other metrics."""
    if "balanced" in key:
        return seed_metric(key)
    if key.startswith("test_") and key.endswith("dB"):
        return f"test, {key[5:-2]} dB SNR"
    return {"best_val_acc": "validation (best epoch)", "test_clean": "test, clean"}.get(key)


def seeds_section(aggregate_json: str | Path | None) -> str:
    """Mean and spread of the recipe's accuracy over seeds (speechseq.training.aggregate's aggregate.json)."""
    if not aggregate_json:
        return ""
    agg = json.loads(Path(aggregate_json).read_text())
    lines = [f"## The recipe over {len(agg['runs'])} seeds (this model is one of them)", "",
             "| accuracy | mean % | std, points | min % | max % |", "|---|---:|---:|---:|---:|"]
    for key, v in agg["stats"].items():
        if row := _seed_metric(key):
            lines.append(f"| {row} | {100 * v['mean']:.2f} | {100 * v['std']:.2f} | "
                         f"{100 * v['min']:.2f} | {100 * v['max']:.2f} |")
    return "\n".join(lines) + "\n\n"


def _stream_row(name: str, r: dict) -> str:
    ms = ["-" if r.get(k) is None else f"{r[k]:.0f}" for k in ("median_latency_from_end_ms", "p90_latency_from_end_ms")]
    return (f"| {name} | {r['duration_s'] / 60:.0f} | {r['command_words']} | {r['correct_pct']:.1f} | "
            f"{r['wrong_pct']:.1f} | {r['false_alarms_per_hour']:.1f} | {ms[0]} | {ms[1]} |")


def _detector_line(cal: dict, where: str = "the validation stream") -> str:
    s, per_class = cal["settings"], cal.get("per_class") or {}
    values = per_class.get("held_out_gains_pct") or []
    # None (-inf before): thresholds fitted on one half went over the budget on the other
    over = any(g is None or not math.isfinite(g) for g in values)
    gains = " and ".join(f"{g:+.3g}" for g in values) if not over else ""
    if s.get("class_thresholds"):
        classes = ", ".join(f"{k} {v:.3g}" for k, v in s["class_thresholds"].items())
        per = f"per-class thresholds {classes} (held-out gains {gains} points)"
    elif over:
        per = ("no per-class thresholds\n(fitted on one half of the streams, they went over the false-alarm "
               "budget on the other)")
    else:
        bar = per_class.get("min_gain_pct", 1.0)
        per = "no per-class thresholds" + (f"\n(fitted on one half of the stream, they gained {gains} points of "
                                           f"correct minus wrong on the other; {bar:g} needed on both)" if gains else "")
    return (f"The detector was calibrated on {where} for at most {cal['max_false_alarms_per_hour']:g}\n"
            f"false alarms per hour: `{s['detector']}`, posteriors averaged over {s['average_window_ms']:g} ms,\n"
            f"threshold {s['threshold']:.3g}, margin {s['margin']:g}, suppression {s['suppression_ms']:g} ms, {per}.")


STREAM_HEADER = [("| stream | minutes | command words | correct % | wrong % | false alarms per hour "
                  "| latency from speech end, median ms | p90 ms |"), "|---|---:|---:|---:|---:|---:|---:|---:|"]


def streams_section(streams: str | Path | None) -> str:
    """The calibrated detector and its scores on long streams, from the output folder of
    scripts/calibrate_pretrained.sh (or its summary.md): calibrate/calibration.json, test_*/stream_report.json."""
    if not streams:
        return ""
    folder = Path(streams)
    folder = folder.parent if folder.is_file() else folder
    cal_path = folder / "calibrate" / "calibration.json"
    if not cal_path.is_file():
        raise FileNotFoundError(f"{cal_path} not found: give the output folder of scripts/calibrate_pretrained.sh")
    cal = json.loads(cal_path.read_text())
    lines = ["## Streaming", "",
             "Long recordings made by `scripts/make_stream_wav.py`: a one-second clip about every 3 s, 30 % of them",
             "words outside the ten commands, over the dataset's background noise (`loud`: each noise crop",
             "peak-normalised first; `tf`: TensorFlow's quieter recipe).", "", _detector_line(cal), "",
             *STREAM_HEADER, _stream_row("validation, loud (tuned on)", cal["validation"])]
    for report in sorted(folder.glob("test_*/stream_report.json")):
        recipe = report.parent.name.removeprefix("test_")
        lines.append(_stream_row(f"test, {recipe}", json.loads(report.read_text())))
    return "\n".join(lines) + "\n\n"


def trained_calibration_section(meta: dict) -> str:
    """The detector the training run calibrated and stored in best.safetensors itself (on its own
    validation streams, calibration/ in the run folder); "" when the checkpoint holds none or a later one."""
    c = trained_calibration(meta)
    if c is None:
        return ""
    cal = meta.get(STREAMING_KEY) or {}
    where = cal["validation"]["input"]  # calibration/...: trained_calibration found it there
    room = f" (RT60 {c['rt60']:g} s, talker {c['distance']:g} m away)" if {"rt60", "distance"} <= set(c) else ""
    room += f";\n{c.get('takes')} such pairs, each with other words, noise and room" * (int(c.get("takes", 1)) > 1)
    v = cal.get("validation") or {}
    if v.get("talk_minutes"):  # open-world streams (training/calibration.py with openworld.root)
        made = ("of the validation split (its commands, each as often as any other, among the dataset's other words,\n"
                "other people's words and read speech of real_world's validation split, over recorded noise at 5-20 dB)")
        budget = (f"\nThe budget also held per hour of talk: {v['detections_per_hour_of_talk']:.0f} detections per hour "
                  f"in {v['talk_minutes']:.0f} minutes of talk.")
    else:
        made = ("of the validation split (a one-second clip about every 3 s, 30 % of them other words, over the `loud`\n"
                "background noise)")
        budget = ""
    lines = ["## Streaming", "",
             "Training ended by calibrating the detector stored in the checkpoint (every runtime uses it) on streams",
             f"{made}: near, and the same stream in a simulated room{room}:\n`{where}`.", "",
             _detector_line(cal, "these streams") + budget, "", *STREAM_HEADER,
             _stream_row("validation, near + room (tuned on)", v)]
    return "\n".join(lines) + "\n\n"


def _room_table(rows: list[dict]) -> list[str]:
    """Accuracy per room RT60 (rows, "no room" first) and talker distance band, alone or + noise (columns)."""
    cell = {(r["rt60_s"], r["distance_m"] and tuple(r["distance_m"]), r["snr_db"]): pct(r["accuracy"]) for r in rows}
    rooms = {tuple(r["distance_m"]): r.get("rooms") for r in rows if r["rt60_s"] is not None}
    noisy = {band for t, band, snr in cell if t is not None and snr is not None}
    # the bands alone first, then the band scored with noise too, at falling SNR
    cols = sorted({(b, snr) for t, b, snr in cell if t is not None}, key=lambda c: (c[0] in noisy, c[0], c[1] is not None, -(c[1] or 0)))
    head = [f"{lo:g}-{hi:g} m" + (f" ({rooms[lo, hi]} rooms)" * bool(rooms[lo, hi]) if snr is None else f" + {snr:g} dB SNR")
            for (lo, hi), snr in cols]
    lines = ["| room RT60 \\ talker distance | " + " | ".join(head) + " |", "|---" + "|---:" * len(cols) + "|"]
    for t in [None, *sorted({k[0] for k in cell if k[0] is not None})]:
        at = [(t, b, snr) if t is not None else (None, None, snr) for b, snr in cols]  # no room: clean or noise only
        lines.append(f"| {'no room' if t is None else f'{t:g} s'} | " + " | ".join(cell.get(k, "-") for k in at) + " |")
    return lines


def farfield_section(farfield_json: str | Path | None) -> str:
    """Clips in rooms and noise, near and room streams with the stored detector, synthetic voices:
    the farfield.json of scripts/farfield_report.sh ("" without one)."""
    if not farfield_json:
        return ""
    ff = json.loads(Path(farfield_json).read_text())
    lines = [f"## Far field (mini {ff['split']} split)", "",
             "Accuracy with every word clip played in one of a band's simulated shoebox rooms (pyroomacoustics,",
             "RT60 from Sabine's formula, seeded), alone and with background noise mixed in after the room:", "",
             *_room_table(ff["clips"]), ""]
    s = next((x["settings"] for x in ff["streams"] if x.get("calibrated_in_checkpoint") and x.get("settings")), None)
    how = (f"the detector stored in the checkpoint (`{s['detector']}`, threshold {s['threshold']:.3g}"
           + (", per-class thresholds" if s.get("class_thresholds") else "") + ")") if s else "the default detector"
    lines += [f"Streams of the {ff['split']} split (`loud` recipe) scored with\n{how}:", "",
              "| stream | minutes | command words | correct % | wrong % | false alarms per hour |",
              "|---|---:|---:|---:|---:|---:|"]
    for x in ff["streams"]:
        room = x.get("room") and f"in a room (RT60 {x['room']['rt60_s']:g} s, talker {x['room']['distance_m']:g} m)"
        lines.append(f"| {room or x['name'] + ' (no room)'} | {x['duration_s'] / 60:.0f} | {x['command_words']} | "
                     f"{x['correct_pct']:.1f} | {x['wrong_pct']:.1f} | {x['false_alarms_per_hour']:.1f} |")
    v = ff.get("voices")
    lines += ["", f"Synthetic voices (espeak-ng, speakers no training set holds): {pct(v['accuracy'])} of "
                  f"{v['n']:,} spoken commands." if v else "Synthetic voices: not measured (espeak-ng missing)."]
    return "\n".join(lines) + "\n\n"


def render_model_card(run_dir: str | Path, data_root: str, command: str, name: str = MODEL_NAME,
                      streams_md: str | Path | None = None, aggregate_json: str | Path | None = None,
                      date: str | None = None, farfield_json: str | Path | None = None,
                      openworld_json: str | Path | None = None) -> str:
    """The card for a finished training run (reads summary.json, test_report.json, data_report.json;
    optionally the calibration folder, the multirun's aggregate.json, scripts/farfield_report.sh's
    farfield.json, scripts/openworld_report.py's openworld.json). Without a calibration folder, a detector
    training stored itself is shown. `date`: default today."""
    import datetime

    from speechseq import __version__

    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    report = json.loads((run_dir / "test_report.json").read_text())
    data = json.loads((run_dir / "data_report.json").read_text())
    meta = read_checkpoint_metadata(run_dir / "checkpoints" / "best.safetensors", ValueError)
    model, frontend = meta["model"], meta["frontend"]
    return CARD_TEMPLATE.format(
        name=name, words=", ".join(meta["labels"][2:]), architecture=architecture_line(model),
        parameters=int(summary["parameters"]), input=input_line(frontend),
        training_data=describe_training_data(data_root, epoch_clips(data["splits"].get("train", {}))),
        epochs=summary["epochs_completed"], best_epoch=summary["best_epoch"], chosen_on=chosen_on(summary),
        balanced=balanced_rows(summary, report), val_acc=pct(summary["best_val_acc"]),
        test_acc=pct(report["accuracy"]), test_n=report["n"], macro_f1=pct(report["macro_f1"]), command=command,
        date=date or datetime.date.today().isoformat(), version=__version__,
        torch=meta.get("versions", {}).get("torch", "?"), per_class=per_class_rows(report), noise=noise_section(report),
        seeds=seeds_section(aggregate_json), farfield=farfield_section(farfield_json),
        streams=streams_section(streams_md) or trained_calibration_section(meta),
        openworld=openworld_section(openworld_json), openworld_data=openworld_data_row(meta.get("config") or {}),
        openworld_licences=openworld_licences(meta.get("config") or {}))


def main(argv: list[str] | None = None) -> int:
    """`python -m speechseq.deploy.model_card card RUN_DIR DATA_ROOT COMMAND > MODEL_CARD.md` (used by the rebuild script)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m speechseq.deploy.model_card")
    sub = parser.add_subparsers(dest="what", required=True)
    card = sub.add_parser("card", help="print the model card of a finished training run")
    for arg in ("run_dir", "data_root", "command"):
        card.add_argument(arg)
    card.add_argument("--streams", help="output folder of scripts/calibrate_pretrained.sh (or its summary.md)")
    card.add_argument("--seeds", help="aggregate.json of the recipe's multirun (python -m speechseq.training.aggregate)")
    card.add_argument("--farfield", help="farfield.json of scripts/farfield_report.sh (rooms, streams, voices)")
    card.add_argument("--openworld", help="openworld.json of scripts/openworld_report.py (other words, sounds, talk)")
    args = parser.parse_args(argv)
    print(render_model_card(args.run_dir, args.data_root, args.command, streams_md=args.streams,
                            aggregate_json=args.seeds, farfield_json=args.farfield,
                            openworld_json=args.openworld), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
