"""Evaluation: score a checkpoint on a split or on a test-set folder.

Writes report.json, confusion.png, examples.png (log-mel pictures of right and wrong predictions)
and training_curves.png (when the checkpoint sits in its training run folder).

`speechseq-eval checkpoint=PATH data.root=DIR [split=validation] [data.layout=testset] [noise_snr=[20,10,5,0]]
[reverb_rt60=[0.3,0.6,0.9]]` (noise_snr also scores the clips with the dataset's background noise at
those SNRs: noise.png; reverb_rt60 in simulated rooms of those RT60s, with that noise too: reverb.png);
`speechseq-eval mode=stream checkpoint=PATH input=STREAM.wav labels=labels.csv` scores streaming
recognition on a long labelled recording, `mode=calibrate ... stream.max_false_alarms_per_hour=30`
chooses the detector threshold on one and stores it in the checkpoint (speechseq.evaluation.streams).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from speechseq.cli import hydra_entry, run_guarded
from speechseq.data.layout import DatasetError, scan_dataset
from speechseq.data.splits import NoiseBank, SplitData, check_words, load_split
from speechseq.deploy.checkpoint import LoadedModel, load_inference
from speechseq.device import resolve_device
from speechseq.errors import CheckpointError
from speechseq.evaluation.inference import clip_speakers, evaluation_indices, predict_split
from speechseq.evaluation.metrics import add_speakers, balanced_line, classification_report, format_report_table
from speechseq.evaluation.noise import format_noise_table, score_in_noise
from speechseq.evaluation.reverb import add_reverb_scores, format_reverb_table
from speechseq.features.logmel import LogMel
from speechseq.fsutil import atomic_write_text
from speechseq.labels import LabelSet

log = logging.getLogger(__name__)


def label_set_from_names(names: list[str]) -> LabelSet:
    from speechseq.labels import SILENCE, UNKNOWN

    words = tuple(n for n in names if n not in (SILENCE, UNKNOWN))
    label_set = LabelSet(words, use_silence=SILENCE in names, use_unknown=UNKNOWN in names)
    if label_set.names != list(names):
        raise DatasetError(f"checkpoint labels {names} are not in speechseq's order")
    return label_set


@dataclass
class Predictions:
    indices: np.ndarray   # into split.waves; SILENCE_INDEX for generated silence
    targets: np.ndarray
    probs: np.ndarray     # (n, n_classes)


def predict_and_score(loaded: LoadedModel, split: SplitData, noise: NoiseBank, device: torch.device,
                      batch_size: int = 512, seed: int = 0, progress: bool = True) -> tuple[dict, Predictions]:
    indices = evaluation_indices(split, seed)
    frontend = LogMel(loaded.frontend).to(device)
    targets, probs = predict_split(loaded.model.to(device), frontend, split, indices, noise,
                                   batch_size, device, seed=seed, progress=progress)
    report = classification_report(targets, probs.argmax(axis=1), loaded.labels)
    add_speakers(report, targets, clip_speakers(split, indices))
    report["split"] = split.name
    return report, Predictions(indices, targets, probs)


def score_split(loaded: LoadedModel, split: SplitData, noise: NoiseBank, device: torch.device,
                batch_size: int = 512, seed: int = 0, progress: bool = True) -> dict:
    return predict_and_score(loaded, split, noise, device, batch_size, seed, progress)[0]


def add_noise_scores(report: dict, loaded: LoadedModel, split: SplitData, noise: NoiseBank, snrs,
                     device: torch.device, batch_size: int = 512, seed: int = 0, progress: bool = True) -> None:
    """report["noise"]: the split scored again with background noise at each SNR in `snrs` (dB)."""
    if not len(snrs):
        return
    if len(noise) == 0:
        log.warning("no background noise in the data folder: scoring in noise (noise_snr) skipped")
    frontend = LogMel(loaded.frontend).to(device)
    report["noise"] = score_in_noise(loaded.model.to(device), frontend, loaded.labels, split, noise, list(snrs),
                                     device, batch_size, seed, progress)


def print_scores(report: dict, label: str = "accuracy") -> None:
    """The per-class table, the noise and room tables when there are any, the class-balanced line,
    and last the accuracy line."""
    print(format_report_table(report))
    if report.get("noise"):
        print(format_noise_table(report["accuracy"], report["noise"], report.get("balanced_accuracy")))
    if report.get("reverb"):
        print(format_reverb_table(report["accuracy"], report["reverb"], report.get("balanced_accuracy")))
    print(balanced_line(report, label.replace("accuracy", "class-balanced accuracy")))
    print(f"{label} {report['accuracy']:.4f} (n={report['n']})")


def pick_examples(preds: Predictions, n_right: int = 3, n_wrong: int = 3, seed: int = 0) -> list[int]:
    """Positions (into preds) of a few recorded clips predicted right and wrong, of different classes if possible."""
    from speechseq.data.splits import SILENCE_INDEX

    rng = np.random.default_rng(seed)
    recorded = np.flatnonzero(preds.indices != SILENCE_INDEX)
    right = preds.probs.argmax(1) == preds.targets
    chosen = []
    for pool, n in ((recorded[right[recorded]], n_right), (recorded[~right[recorded]], n_wrong)):
        order = rng.permutation(pool)
        _, first_of_class = np.unique(preds.targets[order], return_index=True)
        picks = list(order[np.sort(first_of_class)][:n])  # one clip per class first
        picks += [i for i in order if i not in picks][:n - len(picks)]
        chosen += picks
    return [int(i) for i in chosen]


@torch.no_grad()
def write_examples(loaded: LoadedModel, split: SplitData, preds: Predictions, path: str | Path,
                   seed: int = 0) -> int:
    """examples.png: log-mel pictures of a few right and wrong predictions; returns how many."""
    from speechseq.evaluation.plots import plot_examples

    positions = pick_examples(preds, seed=seed)
    if not positions:
        return 0
    clip_idx = torch.as_tensor(preds.indices[positions])
    waves = split.waves[clip_idx].cpu().float() / 32767.0
    feats = LogMel(loaded.frontend)(waves).numpy()
    examples = []
    for feat, wave, pos in zip(feats, waves.numpy(), positions):
        order = np.argsort(preds.probs[pos])[::-1]
        examples.append({"features": feat, "wave": wave, "true": loaded.labels[preds.targets[pos]],
                         "pred": loaded.labels[order[0]],
                         "top": [(loaded.labels[k], float(preds.probs[pos, k])) for k in order[:3]],
                         "name": str(split.paths[preds.indices[pos]])})
    f = loaded.frontend
    plot_examples(examples, path, f.sample_rate, f.hop_length, f.f_min, f.f_max,
                  title=f"{split.name}: examples predicted right (green) and wrong (red)")
    return len(examples)


def write_report(report: dict, out_dir: str | Path, name: str = "report", plots: bool = True) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    atomic_write_text(path, json.dumps(report, indent=2))
    if plots:
        from speechseq.evaluation.plots import plot_confusion

        cm = report["confusion_matrix"]
        balanced = f", class-balanced {report['balanced_accuracy']:.3f}" if "balanced_accuracy" in report else ""
        title = f"{report.get('split', '')} accuracy {report['accuracy']:.3f}{balanced} (n={report['n']})"
        plot_confusion(cm["matrix"], cm["labels"], out_dir / ("confusion.png" if name == "report" else f"{name}_confusion.png"), title)
        if report.get("noise"):
            from speechseq.evaluation.plots import plot_noise_curve

            plot_noise_curve(report["accuracy"], report["noise"],
                             out_dir / ("noise.png" if name == "report" else f"{name}_noise.png"),
                             f"{report.get('split', '')}: accuracy against SNR (n={report['n']})")
        if report.get("reverb"):
            from speechseq.evaluation.plots import plot_reverb_curve

            plot_reverb_curve(report["accuracy"], report["reverb"],
                              out_dir / ("reverb.png" if name == "report" else f"{name}_reverb.png"),
                              f"{report.get('split', '')}: accuracy in rooms (n={report['n']})", report.get("noise"))
    return path


def copy_training_curves(checkpoint: str | Path, out_dir: str | Path) -> Path | None:
    """training_curves.png from the checkpoint's run (RUN/checkpoints/best.safetensors -> RUN/metrics.jsonl)."""
    from speechseq.evaluation.plots import plot_training_curves

    metrics = Path(checkpoint).resolve().parent.parent / "metrics.jsonl"
    if not metrics.is_file():
        return None
    path = Path(out_dir) / "training_curves.png"
    plot_training_curves(metrics, path)
    return path


def evaluate(cfg: DictConfig) -> dict:
    """Score `cfg.checkpoint` on `cfg.split` of `cfg.data.root`; writes report.json in the output dir."""
    from speechseq.config import ConfigError, validate_eval

    if cfg.mode in ("stream", "calibrate"):
        from speechseq.evaluation.streams import (
            calibrate_checkpoint,
            evaluate_stream,
        )

        return evaluate_stream(cfg) if cfg.mode == "stream" else calibrate_checkpoint(cfg)
    if cfg.mode != "clips":
        raise ConfigError(f"mode: {cfg.mode!r} is not clips, stream or calibrate")
    validate_eval(cfg)
    if str(cfg.checkpoint).lower().endswith(".onnx"):
        raise CheckpointError(f"checkpoint={cfg.checkpoint} is an ONNX export; mode=clips scores the .safetensors "
                              f"checkpoint it came from (mode=stream scores an export on a stream)")
    device = resolve_device(cfg.device)
    loaded = load_inference(cfg.checkpoint, map_location=device)
    label_set = label_set_from_names(loaded.labels)
    index = scan_dataset(cfg.data.root, cfg.data.layout)
    check_words(index, label_set, fix="the checkpoint predicts them; evaluate it on a folder that has them, "
                                      "or use a checkpoint trained for the words present")
    split_name = "test" if index.layout == "testset" else cfg.split
    if split_name not in ("train", "validation", "test"):
        raise DatasetError(f"split={cfg.split!r}: choose test, validation or train")
    split = load_split(index, split_name, label_set, sample_rate=loaded.frontend.sample_rate,
                       clip_samples=loaded.frontend.sample_rate, cache_dir=cfg.data.cache_dir,
                       silence_percentage=cfg.data.silence_percentage,
                       unknown_percentage=cfg.data.unknown_percentage, decode_workers=cfg.data.decode_workers)
    noise = NoiseBank.from_files(index.noise_files, loaded.frontend.sample_rate, loaded.frontend.sample_rate)
    report, preds = predict_and_score(loaded, split, noise, device, cfg.batch_size, cfg.data.seed)
    add_noise_scores(report, loaded, split, noise, cfg.noise_snr, device, cfg.batch_size, cfg.data.seed)
    add_reverb_scores(report, loaded, split, noise, cfg.reverb_rt60, cfg.reverb_distance, cfg.reverb_rooms,
                      cfg.noise_snr, device, cfg.batch_size, cfg.data.seed, cache_dir=cfg.data.cache_dir)
    report.update({"checkpoint": str(cfg.checkpoint), "data_root": str(index.root), "layout": index.layout,
                   "unreadable_files": split.failed})
    write_report(report, cfg.paths.output_dir, plots=cfg.plots)
    if cfg.plots:
        write_examples(loaded, split, preds, Path(cfg.paths.output_dir) / "examples.png", cfg.data.seed)
        copy_training_curves(cfg.checkpoint, cfg.paths.output_dir)
    if split.failed:
        print(f"skipped {len(split.failed)} unreadable file(s); listed in report.json")
    print_scores(report)
    return report


@hydra_entry("eval")
def main(cfg: DictConfig) -> None:
    run_guarded("speechseq-eval", lambda: evaluate(cfg) and None, debug=cfg.debug)


if __name__ == "__main__":
    main()
