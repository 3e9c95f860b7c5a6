"""The two training pipelines speechseq-bench compares: the real one (batched on the device) and the per-clip baseline."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from speechseq.augment.transforms import WaveAugment, build_augmenters
from speechseq.data.batches import gather_batch
from speechseq.data.loader import BatchSource
from speechseq.data.splits import NoiseBank, SplitData
from speechseq.features.logmel import FrontendSpec, LogMel
from speechseq.models.recurrent import RecurrentClassifier
from speechseq.training.step import TrainStep

log = logging.getLogger(__name__)
from speechseq.bench.data import (
    N_CLASSES,
    BenchData,
    endless_batches,
    loader_schedule,
    timed,
)

log = logging.getLogger(__name__)


class Trainee:
    """The default model with the trainer's optimizer, precision and step (speechseq.training.step.TrainStep)."""

    def __init__(self, cfg: DictConfig, spec: FrontendSpec, device: torch.device, split: SplitData,
                 n_classes: int = N_CLASSES):
        from speechseq.training.train import fit_normalization, model_spec

        torch.manual_seed(cfg.seed)
        self.device = device
        self.frontend = LogMel(spec).to(device)
        self.model = RecurrentClassifier(model_spec(cfg, spec.n_mels, n_classes)).to(device)
        fit_normalization(self.model, self.frontend, split, device, max_clips=512, seed=cfg.seed)
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.optim.lr,
                                      weight_decay=cfg.optim.weight_decay, fused=device.type == "cuda")
        _, spec_aug = build_augmenters(cfg.augment, NoiseBank(torch.zeros(0, spec.sample_rate)), [], spec)
        self.train_step = TrainStep(self.model, self.frontend, optimizer, device, cfg.precision,
                                    cfg.optim.label_smoothing, cfg.optim.grad_clip, spec_aug=spec_aug)

    def autocast(self):
        return self.train_step.autocast()

    def step(self, normalized: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> None:
        """SpecAugment, forward, backward, clip, optimizer step: the trainer's inner loop."""
        spec_aug = self.train_step.spec_aug
        self.train_step.update(spec_aug(normalized) if spec_aug is not None else normalized, labels, weights)


def wave_augment(cfg: DictConfig, data: "BenchData", spec: FrontendSpec) -> WaveAugment | None:
    """The trainer's waveform augmentation for the bench's 12 classes (silence is the last label but one)."""
    labels = [f"c{i}" for i in range(N_CLASSES - 2)] + ["_silence_", "_unknown_"]
    return build_augmenters(cfg.augment, data.noise, labels, spec)[0]


def run_real(trainee: Trainee, data: BenchData, cfg: DictConfig, spec: FrontendSpec, steps: int) -> float:
    """clips/s of the real pipeline: BatchSource -> WaveAugment -> LogMel -> normalise -> step."""
    wave_aug = wave_augment(cfg, data, spec)
    source = BatchSource(data.split, data.noise, trainee.device)
    batches = source(endless_batches(data.split, cfg.batch_size, cfg.seed))

    def run(n: int) -> None:
        for waves, labels in itertools.islice(batches, n):
            weights = None
            if wave_aug is not None:
                waves, labels, weights = wave_aug(waves, labels)
            with trainee.autocast():
                feats = trainee.model.normalize(trainee.frontend(waves))
            trainee.step(feats, labels, weights)

    run(cfg.warmup_steps)
    seconds = timed(lambda: run(steps), trainee.device)
    return steps * cfg.batch_size / seconds


def data_only_real(data: BenchData, cfg: DictConfig, spec: FrontendSpec, device: torch.device,
                   frontend: LogMel, model: RecurrentClassifier) -> float:
    """clips/s of the real input pipeline alone: batches up to normalised features, no model step."""
    wave_aug = wave_augment(cfg, data, spec)
    batches = BatchSource(data.split, data.noise, device)(endless_batches(data.split, cfg.batch_size, cfg.seed + 1))

    def run(n: int) -> None:
        with torch.no_grad():
            for waves, labels in itertools.islice(batches, n):
                model.normalize(frontend(wave_aug(waves, labels)[0] if wave_aug is not None else waves))

    run(1)
    return cfg.baseline_steps * cfg.batch_size / timed(lambda: run(cfg.baseline_steps), device)


def data_only_baseline(loader: torch.utils.data.DataLoader, warmup: int, steps: int, device: torch.device) -> float:
    """clips/s of the per-clip DataLoader alone (what the model would be waiting for), in steady state."""
    warmup, steps = loader_schedule(loader.num_workers, warmup, steps)
    it = iter(loader)
    for _ in itertools.islice(it, warmup):
        pass

    def run() -> None:
        for feats, labels in itertools.islice(it, steps):
            feats.to(device, non_blocking=True), labels.to(device, non_blocking=True)

    return steps * loader.batch_size / timed(run, device)


class _WorkerFeatures(torch.utils.data.Dataset):
    """Real pipeline, CPU variant: index gather + WaveAugment + LogMel of a whole batch in a worker."""

    def __init__(self, data: BenchData, cfg: DictConfig, spec: FrontendSpec, n_batches: int):
        self.split, self.noise = data.split, data.noise
        self.wave_aug = wave_augment(cfg, data, spec)
        self.frontend = LogMel(spec)
        self.batches = list(itertools.islice(endless_batches(data.split, cfg.batch_size, cfg.seed), n_batches))

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        waves, labels = gather_batch(self.split, torch.from_numpy(self.batches[i]), self.noise)
        if self.wave_aug is not None:
            waves, labels, _weights = self.wave_aug(waves, labels)
        return self.frontend(waves), labels


def run_real_worker(trainee: Trainee, data: BenchData, cfg: DictConfig, spec: FrontendSpec, steps: int) -> float:
    warmup, steps = loader_schedule(1, cfg.warmup_steps, steps)
    loader = torch.utils.data.DataLoader(_WorkerFeatures(data, cfg, spec, warmup + steps),
                                         batch_size=None, num_workers=1)
    it = iter(loader)

    def run(n: int) -> None:
        for feats, labels in itertools.islice(it, n):
            trainee.step(trainee.model.normalize(feats), labels)

    run(warmup)
    seconds = timed(lambda: run(steps), trainee.device)
    return steps * cfg.batch_size / seconds


def librosa_logmel(wave: np.ndarray, spec: FrontendSpec) -> np.ndarray:
    """(frames, n_mels) log-mel of one clip, computed the way most public projects do (librosa)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=wave, sr=spec.sample_rate, n_fft=spec.n_fft, hop_length=spec.hop_length,
                                         win_length=spec.win_length, n_mels=spec.n_mels, fmin=spec.f_min,
                                         fmax=spec.f_max, center=False, htk=True, norm=None, power=2.0)
    return np.log(mel + 1e-6).T


class PerClipDataset(torch.utils.data.Dataset):
    """The baseline: read a WAV with soundfile, shift it, mix in noise, compute log-mel with librosa, normalise."""

    def __init__(self, paths: list[Path], labels: np.ndarray, noise: np.ndarray, spec: FrontendSpec,
                 cfg: DictConfig, mean: np.ndarray, std: np.ndarray):
        self.paths, self.labels, self.noise, self.spec = paths, labels, noise, spec
        a = cfg.augment
        self.enabled, self.noise_prob, self.noise_volume = a.enabled, a.noise_prob, a.noise_volume
        self.max_shift = int(spec.sample_rate * a.time_shift_ms / 1000)
        self.mean, self.std = mean, std

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        import soundfile as sf

        wave, _sr = sf.read(self.paths[i], dtype="float32")
        n = self.spec.sample_rate
        wave = np.pad(wave, (0, max(0, n - len(wave))))[:n]
        if self.enabled:
            rng = np.random.default_rng()
            shift = int(rng.integers(-self.max_shift, self.max_shift + 1))
            wave = np.roll(wave, shift)
            if shift > 0:
                wave[:shift] = 0
            elif shift < 0:
                wave[shift:] = 0
            if len(self.noise) and rng.random() < self.noise_prob:
                wave = wave + self.noise[rng.integers(len(self.noise))] * rng.uniform(0, self.noise_volume)
            wave = np.clip(wave, -1, 1)
        feats = (librosa_logmel(wave, self.spec) - self.mean) / self.std
        return torch.from_numpy(feats.astype(np.float32)), int(self.labels[i])


def baseline_loader(trainee: Trainee, data: BenchData, cfg: DictConfig, spec: FrontendSpec) -> torch.utils.data.DataLoader:
    bs = cfg.batch_size
    need = (sum(loader_schedule(cfg.baseline_workers, cfg.warmup_steps, cfg.baseline_steps)) + 1) * bs
    reps = -(-need // len(data.wav_paths))
    paths = (data.wav_paths * reps)[:need]
    labels = np.tile(data.wav_labels, reps)[:need]
    dataset = PerClipDataset(paths, labels, data.noise.segments.cpu().numpy(), spec, cfg,
                             trainee.model.feature_mean.cpu().numpy(), trainee.model.feature_std.cpu().numpy())
    return torch.utils.data.DataLoader(dataset, batch_size=bs, shuffle=True, num_workers=cfg.baseline_workers,
                                       drop_last=True, pin_memory=trainee.device.type == "cuda")


def run_baseline(trainee: Trainee, data: BenchData, cfg: DictConfig, spec: FrontendSpec) -> float:
    warmup, steps = loader_schedule(cfg.baseline_workers, cfg.warmup_steps, cfg.baseline_steps)
    it = iter(baseline_loader(trainee, data, cfg, spec))
    dev = trainee.device

    def run(n: int) -> None:
        for feats, labels in itertools.islice(it, n):
            trainee.step(feats.to(dev, non_blocking=True), labels.to(dev, non_blocking=True))

    run(warmup)
    seconds = timed(lambda: run(steps), dev)
    return steps * cfg.batch_size / seconds
