"""Evaluation: score a checkpoint on a split or on a test-set folder; report.json + confusion.png.

`speechseq-eval checkpoint=PATH data.root=DIR [split=validation] [data.layout=testset]`;
`speechseq-eval mode=stream checkpoint=PATH input=STREAM.wav labels=labels.csv` scores streaming
recognition on a long labelled recording (speechseq.streaming.evaluate_stream).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig

from speechseq.checkpoint import LoadedModel, load_inference
from speechseq.cli import hydra_entry, run_guarded
from speechseq.data.layout import DatasetError, scan_dataset
from speechseq.data.splits import NoiseBank, SplitData, load_split
from speechseq.features import LogMel
from speechseq.fsutil import atomic_write_text
from speechseq.inference import evaluation_indices, predict_split
from speechseq.labels import LabelSet
from speechseq.metrics import classification_report, format_report_table
from speechseq.runtime import resolve_device

log = logging.getLogger(__name__)


def label_set_from_names(names: list[str]) -> LabelSet:
    from speechseq.labels import SILENCE, UNKNOWN

    words = tuple(n for n in names if n not in (SILENCE, UNKNOWN))
    label_set = LabelSet(words, use_silence=SILENCE in names, use_unknown=UNKNOWN in names)
    if label_set.names != list(names):
        raise DatasetError(f"checkpoint labels {names} are not in speechseq's order")
    return label_set


def score_split(loaded: LoadedModel, split: SplitData, noise: NoiseBank, device: torch.device,
                batch_size: int = 512, seed: int = 0, progress: bool = True) -> dict:
    indices = evaluation_indices(split, seed)
    frontend = LogMel(loaded.frontend).to(device)
    targets, probs = predict_split(loaded.model.to(device), frontend, split, indices, noise,
                                   batch_size, device, seed=seed, progress=progress)
    report = classification_report(targets, probs.argmax(axis=1), loaded.labels)
    report["split"] = split.name
    return report


def write_report(report: dict, out_dir: str | Path, name: str = "report", plots: bool = True) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    atomic_write_text(path, json.dumps(report, indent=2))
    if plots:
        from speechseq.plots import plot_confusion

        cm = report["confusion_matrix"]
        title = f"{report.get('split', '')} accuracy {report['accuracy']:.3f} (n={report['n']})"
        plot_confusion(cm["matrix"], cm["labels"], out_dir / ("confusion.png" if name == "report" else f"{name}_confusion.png"), title)
    return path


def evaluate(cfg: DictConfig) -> dict:
    """Score `cfg.checkpoint` on `cfg.split` of `cfg.data.root`; writes report.json in the output dir."""
    from speechseq.config import ConfigError, validate_data

    if cfg.mode == "stream":
        from speechseq.streaming.evaluate_stream import evaluate_stream

        return evaluate_stream(cfg)
    if cfg.mode != "clips":
        raise ConfigError(f"mode: {cfg.mode!r} is not clips or stream")
    validate_data(cfg.data)
    device = resolve_device(cfg.device)
    loaded = load_inference(cfg.checkpoint, map_location=device)
    label_set = label_set_from_names(loaded.labels)
    index = scan_dataset(cfg.data.root, cfg.data.layout)
    split_name = "test" if index.layout == "testset" else cfg.split
    if split_name not in ("train", "validation", "test"):
        raise DatasetError(f"split={cfg.split!r}: choose test, validation or train")
    split = load_split(index, split_name, label_set, sample_rate=loaded.frontend.sample_rate,
                       clip_samples=loaded.frontend.sample_rate, cache_dir=cfg.data.cache_dir,
                       silence_percentage=cfg.data.silence_percentage,
                       unknown_percentage=cfg.data.unknown_percentage, decode_workers=cfg.data.decode_workers)
    noise = NoiseBank.from_files(index.noise_files, loaded.frontend.sample_rate, loaded.frontend.sample_rate)
    report = score_split(loaded, split, noise, device, cfg.batch_size, cfg.data.seed)
    report.update({"checkpoint": str(cfg.checkpoint), "data_root": str(index.root), "layout": index.layout,
                   "unreadable_files": split.failed})
    write_report(report, cfg.paths.output_dir, plots=cfg.plots)
    print(format_report_table(report))
    if split.failed:
        print(f"skipped {len(split.failed)} unreadable file(s); listed in report.json")
    print(f"accuracy {report['accuracy']:.4f} (n={report['n']})")
    return report


@hydra_entry("eval")
def main(cfg: DictConfig) -> None:
    run_guarded("speechseq-eval", lambda: evaluate(cfg) and None, debug=cfg.debug)


if __name__ == "__main__":
    main()
