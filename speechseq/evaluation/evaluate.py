"""Evaluation: score a checkpoint (the shipped model by default) on a split or on a test-set folder.

Writes report.json, confusion.png, examples.png (log-mel pictures of right and wrong predictions)
and training_curves.png (when the checkpoint sits in its training run folder).

`speechseq-eval [checkpoint=PATH] data.root=DIR [split=validation|all] [data.layout=testset] [noise_snr=[20,10,5,0]]
[reverb_rt60=[0.3,0.6,0.9]]` (noise_snr also scores the clips with the dataset's background noise at
those SNRs: noise.png; reverb_rt60 in simulated rooms of those RT60s, with that noise too: reverb.png);
`speechseq-eval mode=stream checkpoint=PATH input=STREAM.wav labels=labels.csv` scores streaming
recognition on a long labelled recording (without labels=: one with no commands, for its false
alarms per hour), `mode=calibrate ... stream.max_false_alarms_per_hour=30`
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
from speechseq.data.layout import DatasetError, DatasetIndex, scan_dataset
from speechseq.data.splits import NoiseBank, SplitData, check_words, load_split
from speechseq.deploy.checkpoint import LoadedModel, load_inference
from speechseq.device import resolve_device
from speechseq.errors import CheckpointError
from speechseq.evaluation.inference import clip_speakers, evaluation_indices, predict_split
from speechseq.evaluation.metrics import add_speakers, balanced_line, classification_report, format_report_table
from speechseq.evaluation.noise import format_noise_table, score_in_noise
from speechseq.evaluation.open_world import evaluate_open_world, holds_no_commands
from speechseq.evaluation.reverb import add_reverb_scores, format_reverb_table
from speechseq.features.logmel import LogMel, frontend_module
from speechseq.fsutil import atomic_write_text
from speechseq.labels import LabelSet
from speechseq.streaming.backends import resolve_checkpoint

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
    frontend = frontend_module(loaded.frontend).to(device)
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
    frontend = frontend_module(loaded.frontend).to(device)
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


def picture_features(frontend, waves: torch.Tensor) -> tuple[np.ndarray, int, float, float]:
    """What examples.png draws (features, hop, f_min, f_max): the log-mel, or for the speech embedding
    the mel spectrogram it reads (its embeddings are no picture)."""
    if frontend.kind == "speech_embedding":
        from speechseq.features.embedding_mel import MEL_F_MAX, MEL_F_MIN, MEL_HOP
        from speechseq.features.speech_embedding import TorchMel

        return TorchMel()(waves).numpy(), MEL_HOP, MEL_F_MIN, MEL_F_MAX
    return LogMel(frontend)(waves).numpy(), frontend.hop_length, frontend.f_min, frontend.f_max


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
    feats, hop, f_min, f_max = picture_features(loaded.frontend, waves)
    examples = []
    for feat, wave, pos in zip(feats, waves.numpy(), positions):
        order = np.argsort(preds.probs[pos])[::-1]
        examples.append({"features": feat, "wave": wave, "true": loaded.labels[preds.targets[pos]],
                         "pred": loaded.labels[order[0]],
                         "top": [(loaded.labels[k], float(preds.probs[pos, k])) for k in order[:3]],
                         "name": str(split.paths[preds.indices[pos]])})
    plot_examples(examples, path, loaded.frontend.sample_rate, hop, f_min, f_max,
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
    """Score `cfg.checkpoint` (default: the shipped model) on `cfg.split` of `cfg.data.root`; writes
    report.json in the output dir. A folder without any of the model's words gets the open-world
    report instead (speechseq.evaluation.open_world)."""
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
    checkpoint = resolve_checkpoint(cfg.checkpoint, "torch")
    device = resolve_device(cfg.device)
    loaded = load_inference(checkpoint, map_location=device)
    label_set = label_set_from_names(loaded.labels)
    if holds_no_commands(cfg.data.root, list(label_set.words)):
        return evaluate_open_world(cfg)
    index, split_name = index_to_score(cfg, label_set)
    split = load_split(index, split_name, label_set, sample_rate=loaded.frontend.sample_rate,
                       clip_samples=loaded.frontend.sample_rate, cache_dir=cfg.data.cache_dir,
                       silence_percentage=cfg.data.silence_percentage,
                       unknown_percentage=cfg.data.unknown_percentage, decode_workers=cfg.data.decode_workers)
    noise = NoiseBank.from_files(index.noise_files, loaded.frontend.sample_rate, loaded.frontend.sample_rate)
    if len(noise) == 0 and split.n_silence:
        log.warning("no background noise under %s/_background_noise_: its %d _silence_ clips are digital zero, "
                    "which a model trained on noise may call _unknown_ (training warns the same; the streaming "
                    "API's silence gate calls such audio _silence_)", index.root, split.n_silence)
    report, preds = predict_and_score(loaded, split, noise, device, cfg.batch_size, cfg.data.seed)
    add_noise_scores(report, loaded, split, noise, cfg.noise_snr, device, cfg.batch_size, cfg.data.seed)
    add_reverb_scores(report, loaded, split, noise, cfg.reverb_rt60, cfg.reverb_distance, cfg.reverb_rooms,
                      cfg.noise_snr, device, cfg.batch_size, cfg.data.seed, cache_dir=cfg.data.cache_dir)
    report.update({"checkpoint": str(checkpoint), "data_root": str(index.root), "layout": index.layout,
                   "unreadable_files": split.failed})
    write_report(report, cfg.paths.output_dir, plots=cfg.plots)
    if cfg.plots:
        write_examples(loaded, split, preds, Path(cfg.paths.output_dir) / "examples.png", cfg.data.seed)
        copy_training_curves(checkpoint, cfg.paths.output_dir)
    if split.failed:
        print(f"skipped {len(split.failed)} unreadable file(s); listed in report.json")
    print_scores(report)
    return report


def index_to_score(cfg: DictConfig, label_set: LabelSet) -> tuple[DatasetIndex, str]:
    """The folder's index and the split to score: `split=all` scores every clip as one test set; a
    folder without lists is split by the hash rule, which is said, with the words it leaves out."""
    whole = cfg.split == "all"
    index = scan_dataset(cfg.data.root, "testset" if whole else cfg.data.layout)
    check_words(index, label_set, fix="the checkpoint predicts them; evaluate it on a folder that has them, "
                                      "or use a checkpoint trained for the words present")
    split_name = "test" if index.layout == "testset" else cfg.split
    if index.layout == "hash":
        counts = {name: len(clips) for name, clips in index.splits.items()}
        held = {c.word for c in index.splits[split_name]}
        left_out = [w for w in label_set.words if w not in held]
        print(f"note: {index.root} has no testing_list.txt / validation_list.txt: its {split_name} split is the "
              f"dataset's hash of each speaker ({counts[split_name]} of {sum(counts.values())} clips)"
              + (f", which leaves out {left_out}" if left_out else "")
              + "; split=all scores every clip in the folder as one test set")
    return index, split_name


@hydra_entry("eval")
def main(cfg: DictConfig) -> None:
    run_guarded("speechseq-eval", lambda: evaluate(cfg) and None, debug=cfg.debug)


if __name__ == "__main__":
    main()
