"""The model shipped inside the package, so a fresh install can run the microphone demo at once.

`default_checkpoint("torch")` (and `"numpy"`) -> speechseq/pretrained/kws12_mini.safetensors,
`default_checkpoint("onnx")` -> speechseq/pretrained/kws12_mini.onnx (kws12_mini.json beside it).
Both are rebuilt by scripts/train_pretrained.sh; MODEL_CARD.md there says how they were made.
Torch-free, so the ONNX runtime can ask for its default too.
"""

from __future__ import annotations

import json
from pathlib import Path

from speechseq.deploy.metadata import read_checkpoint_metadata

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
MODEL_NAME = "kws12_mini"
SUFFIXES = {"torch": ".safetensors", "numpy": ".safetensors", "onnx": ".onnx"}


class PretrainedModelMissing(FileNotFoundError):
    """The package was installed without its pretrained model."""


def default_checkpoint(runtime: str = "torch") -> Path:
    """Path of the shipped model for `runtime` (torch | numpy | onnx); raises PretrainedModelMissing if absent."""
    if runtime not in SUFFIXES:
        raise ValueError(f"runtime={runtime!r}: choose one of {sorted(SUFFIXES)}")
    path = PRETRAINED_DIR / f"{MODEL_NAME}{SUFFIXES[runtime]}"
    if not path.is_file():
        raise PretrainedModelMissing(
            f"no pretrained model at {path}: this install ships without one. Give checkpoint=PATH, "
            f"or build it with scripts/train_pretrained.sh (trains on the mini set, ~20 min on a CPU)")
    return path


# The card is filled from the run's own reports, so its figures are the ones the run measured.
CARD_TEMPLATE = """\
# Model card: {name}

A 12-class keyword spotter (`_silence_`, `_unknown_` and the ten commands {words}) shipped
with speechseq so that `speechseq-listen` / `speechseq-stream` work without a `checkpoint=`.

| | |
|---|---|
| Architecture | {architecture} |
| Parameters | {parameters:,} |
| Input | 1 s of 16 kHz mono audio -> {n_mels} log-mel bands, 10 ms hop ({frames} frames) |
| Training data | `{data_root}`: a subset of Google Speech Commands (v0.01 and v0.02 recordings) ({train_clips} training clips per epoch) |
| Epochs | {epochs} (best validation epoch: {best_epoch}) |
| Validation accuracy | {val_acc:.4f} |
| **Test accuracy (mini test split)** | **{test_acc:.4f}** (n = {test_n}, macro F1 {macro_f1:.4f}) |
| Files | `{name}.safetensors` (torch), `{name}.onnx` + `{name}.json` (onnxruntime) |
| Built | {date} with speechseq {version}, torch {torch} |

## How it was made

```
{command}
```

The test split is the mini set's `testing_list.txt` with `_unknown_` and `_silence_` slots drawn
as in TensorFlow's speech_commands example (10 % each, fixed seed). The mini set is small, so
expect lower accuracy than a model trained on the full dataset (see the README for that command).

{noise}{seeds}{streams}## Per-class results (mini test split)

| class | precision | recall | F1 | support |
|---|---:|---:|---:|---:|
{per_class}

## Data licence

Speech Commands (Warden, 2018, arXiv:1804.03209) is released under the
Creative Commons Attribution 4.0 International licence (CC BY 4.0); this model is a work
derived from it. No audio is included in the package.

## Limits

Trained on one-second read commands from crowd-sourced recordings, with background noise mixed in
at -5 to 25 dB SNR: reverberant far-field audio, noise louder than the speech, accents
under-represented in the dataset and words outside the ten commands (which it should call
`_unknown_`; in streams most false alarms are such words) are where it errs most.
"""


def noise_section(report: dict) -> str:
    """The test split in background noise, from test_report.json's "noise" rows (empty without them)."""
    rows = report.get("noise") or []
    if not rows:
        return ""
    lines = ["## In background noise (mini test split)", "",
             "Word clips mixed with the dataset's `_background_noise_` at each SNR (speech power over noise",
             "power across the second; silence clips unchanged; seeded):", "",
             "| condition | accuracy |", "|---|---:|", f"| clean | {report['accuracy']:.4f} |"]
    lines += [f"| {r['snr_db']:g} dB SNR | {r['accuracy']:.4f} |" for r in rows]
    return "\n".join(lines) + "\n\n"


def seeds_section(aggregate_json: str | Path | None) -> str:
    """Mean and spread of the recipe over seeds (speechseq.training.aggregate's aggregate.json)."""
    if not aggregate_json:
        return ""
    agg = json.loads(Path(aggregate_json).read_text())
    stats = agg["stats"]
    lines = [f"## The recipe over {len(agg['runs'])} seeds (this model is one of them)", "",
             "| metric | mean | std | min | max |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {k} | {v['mean']:.4f} | {v['std']:.4f} | {v['min']:.4f} | {v['max']:.4f} |"
              for k, v in stats.items() if k.startswith(("test_", "best_val"))]
    return "\n".join(lines) + "\n\n"


def streams_section(streams_md: str | Path | None) -> str:
    """The calibrated detector and its stream scores (scripts/calibrate_pretrained.sh's summary.md)."""
    if not streams_md:
        return ""
    return ("## Streaming (10-minute test streams, 30 % other words)\n\n"
            + Path(streams_md).read_text().strip() + "\n\n")


def render_model_card(run_dir: str | Path, data_root: str, command: str, name: str = MODEL_NAME,
                      streams_md: str | Path | None = None, aggregate_json: str | Path | None = None) -> str:
    """The card for a finished training run (reads summary.json, test_report.json, data_report.json;
    optionally the calibration summary and the multirun's aggregate.json)."""
    import datetime

    from speechseq import __version__

    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    report = json.loads((run_dir / "test_report.json").read_text())
    data = json.loads((run_dir / "data_report.json").read_text())
    meta = read_checkpoint_metadata(run_dir / "checkpoints" / "best.safetensors", ValueError)
    model, frontend = meta["model"], meta["frontend"]
    kind = ("bidirectional " if model["bidirectional"] else "") + model["cell"].upper()
    if model["cell"] == "rnn":
        kind += f" ({model.get('nonlinearity', 'tanh')})"
    architecture = (f"{model['num_layers']}-layer {kind}, hidden {model['hidden_size']}, {model['pooling']} pooling, "
                    f"frame stack {model['frame_stack']}; feature normalisation inside the model")
    per_class = "\n".join(f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
                          for k, v in report["per_class"].items())
    frames = 1 + (frontend["sample_rate"] - frontend["n_fft"]) // frontend["hop_length"]
    return CARD_TEMPLATE.format(
        name=name, words=", ".join(meta["labels"][2:]), architecture=architecture,
        parameters=int(summary["parameters"]), n_mels=frontend["n_mels"], frames=frames, data_root=data_root,
        train_clips=_epoch_clips(data["splits"].get("train", {})),
        epochs=summary["epochs_completed"], best_epoch=summary["best_epoch"], val_acc=summary["best_val_acc"],
        test_acc=report["accuracy"], test_n=report["n"], macro_f1=report["macro_f1"], command=command,
        date=datetime.date.today().isoformat(), version=__version__,
        torch=meta.get("versions", {}).get("torch", "?"), per_class=per_class, noise=noise_section(report),
        seeds=seeds_section(aggregate_json), streams=streams_section(streams_md))


def _epoch_clips(train: dict) -> str:
    try:
        return f"{train['keyword'] + train['unknown_drawn'] + train['silence']:,}"
    except KeyError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    """`python -m speechseq.deploy.pretrained card RUN_DIR DATA_ROOT COMMAND > MODEL_CARD.md` (used by the rebuild script)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m speechseq.deploy.pretrained")
    sub = parser.add_subparsers(dest="what", required=True)
    card = sub.add_parser("card", help="print the model card of a finished training run")
    card.add_argument("run_dir")
    card.add_argument("data_root")
    card.add_argument("command")
    card.add_argument("--streams", help="summary.md of scripts/calibrate_pretrained.sh")
    card.add_argument("--seeds", help="aggregate.json of the recipe's multirun (python -m speechseq.training.aggregate)")
    args = parser.parse_args(argv)
    print(render_model_card(args.run_dir, args.data_root, args.command, streams_md=args.streams,
                            aggregate_json=args.seeds), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
