"""What training reads: the dataset's splits and noise, the frontend and model specs, normalisation."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from speechseq.data.enroll import add_synthetic_takes, enrollment_index
from speechseq.data.layout import DatasetIndex, scan_dataset
from speechseq.data.splits import NoiseBank, SplitData, check_words, load_split
from speechseq.features.embedding_spec import EmbeddingSpec
from speechseq.features.logmel import FrontendSpec
from speechseq.labels import LabelSet, make_label_set
from speechseq.models.recurrent import ModelSpec, RecurrentClassifier
from speechseq.training.openworld import add_negatives, noise_files, open_world_index

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    label_set: LabelSet
    spec: FrontendSpec
    train: SplitData
    validation: SplitData
    test: SplitData | None
    noise: NoiseBank
    report: dict
    index: DatasetIndex | None = None  # the scanned folder(s): the end-of-run calibration builds streams from it


def open_dataset(d: DictConfig, tts_engines: str | list[str] = "auto") -> tuple[LabelSet, DatasetIndex]:
    """The label set of `data` and the scanned folder, checked to have every keyword.

    With `data.custom_root` the user's word folders are the keywords and `data.root` gives the
    negatives, the noise and the test split (speechseq.data.enroll). `data.tts_command_takes` synthetic
    takes of each keyword join the training split, spoken by `tts_engines`.
    """
    if d.custom_root:
        words, index = enrollment_index(d.custom_root, d.root, list(d.words) if d.words else None,
                                        d.validation_share, d.layout, tts_takes=d.get("tts_takes", 0),
                                        cache_dir=d.cache_dir)
        label_set = make_label_set("custom", words)
    else:
        label_set = make_label_set(d.task, list(d.words) if d.words else None)
        index = scan_dataset(d.root, d.layout)
    check_words(index, label_set)
    if not d.custom_root and d.get("tts_command_takes", 0):
        # synthetic negatives alone would teach that a synthetic voice is never a command
        add_synthetic_takes(index.splits, list(label_set.words), int(d.tts_command_takes), d.cache_dir,
                            tts_engines, "data.tts_command_takes")
    return label_set, index


def load_data_split(index: DatasetIndex, name: str, label_set: LabelSet, d: DictConfig,
                    spec: FrontendSpec) -> SplitData:
    """One split, decoded (through the cache) into one-clip-long int16 waveforms."""
    return load_split(index, name, label_set, sample_rate=spec.sample_rate, clip_samples=spec.sample_rate,
                      cache_dir=d.cache_dir, silence_percentage=d.silence_percentage,
                      unknown_percentage=d.unknown_percentage, decode_workers=d.decode_workers)


def prepare_data(cfg: DictConfig, spec: FrontendSpec, load_test: bool) -> TrainingData:
    d = cfg.data
    engines = list(cfg.openworld.tts_engines) if cfg.get("openworld") is not None else ["auto"]
    label_set, index = open_dataset(d, "auto" if engines == ["auto"] else engines)
    train_split = load_data_split(index, "train", label_set, d, spec)
    val_split = load_data_split(index, "validation", label_set, d, spec)
    test_split = load_data_split(index, "test", label_set, d, spec) if load_test and index.splits["test"] else None
    if test_split is not None and len(test_split.keyword_idx) == 0:  # e.g. own words that Speech Commands lacks
        log.warning("the test split of %s has no clips of the words %s: the test pass is skipped (score a "
                    "folder of test takes with speechseq-eval)", index.root, list(label_set.words))
        test_split = None
    open_world = open_world_index(cfg) if cfg.get("openworld") else None
    if cfg.get("openworld") is not None and open_world is None:
        log.info("openworld.root is null (no real_world folder next to data.root): no recorded speech or noise "
                 "beside the dataset%s", "; synthetic negatives only" if cfg.openworld.tts_clips > 0 else "")
    extra_noise = noise_files(cfg, open_world) if open_world is not None else []
    noise = NoiseBank.from_files(index.noise_files + extra_noise, spec.sample_rate, spec.sample_rate)
    data = TrainingData(label_set, spec, train_split, val_split, test_split, noise, {}, index)
    open_world_report = add_negatives(data, cfg, open_world, label_set) if cfg.get("openworld") is not None else {}
    splits = [s for s in (data.train, data.validation, test_split) if s is not None]
    report = {"root": str(index.root), "layout": index.layout, "labels": label_set.names,
              "noise_segments": len(noise), "noise_files_recorded": len(extra_noise),
              "splits": {s.name: s.summary() for s in splits},
              "unreadable_files": [f for s in splits for f in s.failed]}
    if open_world_report:
        report["openworld"] = open_world_report
    report["unreadable_count"] = len(report["unreadable_files"])
    if report["unreadable_files"]:
        log.warning("skipped %d unreadable file(s); see data_report.json", len(report["unreadable_files"]))
    if len(noise) == 0:
        log.warning("no background noise under %s/_background_noise_: silence is digital zero and "
                    "noise augmentation is off", index.root)
    data.report = report
    return data


def frontend_spec(cfg: DictConfig) -> FrontendSpec | EmbeddingSpec:
    """The frontend of `features`: log-mel, or the speech embedding (features.kind=speech_embedding)."""
    settings = OmegaConf.to_container(cfg.features, resolve=True)
    if settings.pop("kind", "logmel") == "speech_embedding":
        return EmbeddingSpec(sample_rate=settings["sample_rate"])
    return FrontendSpec(**settings)


def model_spec(cfg: DictConfig, n_inputs: int, n_classes: int) -> ModelSpec:
    return ModelSpec(n_inputs=n_inputs, n_classes=n_classes, **OmegaConf.to_container(cfg.model, resolve=True))


@torch.no_grad()
def fit_normalization(model: RecurrentClassifier, frontend: torch.nn.Module, split: SplitData, device,
                      max_clips: int = 2000, seed: int = 0) -> None:
    """Per-feature (mel band or embedding number) mean/std over (a fixed sample of) the training clips."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(split.labels))[:max_clips]
    feats = []
    for start in range(0, len(idx), 256):
        waves = split.waves[torch.as_tensor(idx[start:start + 256])].float().to(device) / 32767.0
        feats.append(frontend(waves).reshape(-1, frontend.spec.feature_dim).double())
    allf = torch.cat(feats)
    model.set_normalization(allf.mean(0).float(), allf.std(0).float())
