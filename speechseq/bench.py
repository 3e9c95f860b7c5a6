"""speechseq-bench: where the time goes, measured against the per-clip way most projects train.

Sections, each in clips per second (all written to bench.json in the run folder):
  decode    WAV files -> int16 waveform cache (load_or_build into a fresh folder)
  frontend  the batched LogMel (CPU, and GPU when present) against librosa's per-clip mel spectrogram
  train     the real pipeline's step (batches drawn by index where the waveforms live; noise, shift,
            LogMel and SpecAugment on the training device; autocast on CUDA) against a Dataset that
            reads WAV files with soundfile and computes augmented features per clip with librosa in a
            DataLoader -- same model, optimizer, batch size and device
  eval      predict_split over a split
  memory    peak RSS of this process, and the GPU's max_memory_allocated
The last line of output is `training speedup N.Nx over the per-clip baseline`.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import platform
import resource
import shutil
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from speechseq.augment import SpecAugment, WaveAugment
from speechseq.cli import hydra_entry, run_guarded
from speechseq.config import validate_bench
from speechseq.data.batches import batch_indices, gather_batch
from speechseq.data.cache import load_or_build
from speechseq.data.loader import BatchSource, move_split
from speechseq.data.splits import NoiseBank, SplitData
from speechseq.features import FrontendSpec, LogMel
from speechseq.fsutil import atomic_write_text
from speechseq.inference import predict_split
from speechseq.model import RecurrentClassifier

log = logging.getLogger(__name__)

FULL_V2_CLIPS = 105_829  # every utterance of Speech Commands v0.02
CPU_SYNTHETIC_CLIPS = 8_192
N_CLASSES = 12


@dataclass
class BenchData:
    split: SplitData          # the training waveforms, on the device when it is a GPU
    noise: NoiseBank          # on the device
    wav_paths: list[Path]     # files for the decode section and the per-clip baseline
    wav_labels: np.ndarray
    source: str
    n_classes: int = N_CLASSES


# ----------------------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# ------------------------------------------------------------------------------------------- data


def synthetic_waves(n: int, samples: int, device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-dependent tones in noise as int16, generated on `device` in chunks."""
    g = torch.Generator(device=device).manual_seed(seed)
    labels = torch.randint(0, N_CLASSES, (n,), generator=g, device=device)
    waves = torch.empty((n, samples), dtype=torch.int16, device=device)
    t = torch.arange(samples, device=device) / 16000.0
    for start in range(0, n, 4096):
        lab = labels[start:start + 4096]
        freq = (200.0 + 170.0 * lab.float())[:, None]
        amp = 0.2 + 0.3 * torch.rand(len(lab), 1, generator=g, device=device)
        x = amp * torch.sin(2 * torch.pi * freq * t) + 0.01 * torch.randn(len(lab), samples, generator=g, device=device)
        waves[start:start + 4096] = (x.clamp(-1, 1) * 32767).round().to(torch.int16)
    return waves, labels


def _write_wavs(folder: Path, waves: torch.Tensor, labels: torch.Tensor, sample_rate: int) -> list[Path]:
    import soundfile as sf

    paths = []
    for i, (w, lab) in enumerate(zip(waves.cpu().numpy(), labels.cpu().tolist())):
        path = folder / f"class{lab:02d}" / f"clip{i:06d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, w, sample_rate, subtype="PCM_16")
        paths.append(path)
    return paths


def _split_of(waves: torch.Tensor, labels: torch.Tensor, n_silence: int, name: str = "train") -> SplitData:
    n = waves.shape[0]
    return SplitData(name=name, waves=waves, labels=labels.long(), paths=[], keyword_idx=np.arange(n),
                     unknown_idx=np.zeros(0, np.int64), n_unknown=0, n_silence=n_silence,
                     silence_label=N_CLASSES - 1 if n_silence else None)


def load_bench_data(cfg: DictConfig, spec: FrontendSpec, device: torch.device, scratch: Path) -> BenchData:
    if cfg.synthetic:
        n = cfg.synthetic_clips or (FULL_V2_CLIPS if device.type == "cuda" else CPU_SYNTHETIC_CLIPS)
        waves, labels = synthetic_waves(n, spec.sample_rate, device, cfg.seed)
        n_files = min(n, max(cfg.decode_clips, cfg.batch_size * (cfg.baseline_steps + 1)))
        paths = _write_wavs(scratch / "wavs", waves[:n_files], labels[:n_files], spec.sample_rate)
        g = torch.Generator().manual_seed(cfg.seed + 1)
        noise = NoiseBank(0.05 * torch.randn(60, spec.sample_rate, generator=g)).to(device)
        return BenchData(_split_of(waves, labels, n_silence=n // 10), noise, paths,
                         labels[:n_files].cpu().numpy(), f"synthetic ({n:,} clips)")

    from speechseq.train import load_data_split, open_dataset

    label_set, index = open_dataset(cfg.data)
    split = load_data_split(index, "train", label_set, cfg.data, spec)
    noise = NoiseBank.from_files(index.noise_files, spec.sample_rate, spec.sample_rate).to(device)
    paths = [index.root / p for p in split.paths]
    labels = split.labels.numpy()
    if device.type == "cuda":
        split = move_split(split, device)
    return BenchData(split, noise, paths, labels, f"{index.root} (train split, {len(paths):,} clips)",
                     len(label_set))


def endless_batches(split: SplitData, batch_size: int, seed: int) -> Iterator[np.ndarray]:
    """Epoch after epoch of shuffled full batches, as the trainer draws them."""
    for epoch in itertools.count():
        rng = np.random.default_rng([seed, epoch])
        yield from batch_indices(split.draw(rng), batch_size, rng, drop_last=True)


def loader_schedule(workers: int, warmup: int, steps: int, prefetch_factor: int = 2) -> tuple[int, int]:
    """(warm-up, timed) batch counts that time a DataLoader in its steady state.

    W workers hold up to W * prefetch_factor finished batches, and they work in rounds of W. Timing
    batches that were made during warm-up credits the loader with work done before the clock
    started (this once showed a per-clip baseline at 58x its real rate), so warm-up eats that
    backlog and both counts are whole rounds.
    """
    if workers <= 0:
        return warmup, steps
    rounds = -(-(warmup + workers * prefetch_factor) // workers)
    return rounds * workers, -(-max(steps, workers) // workers) * workers


# ------------------------------------------------------------------------------------ the pipelines


class Trainee:
    """The default model with the trainer's optimizer, autocast and scaler settings."""

    def __init__(self, cfg: DictConfig, spec: FrontendSpec, device: torch.device, split: SplitData,
                 n_classes: int = N_CLASSES):
        from speechseq.train import amp_settings, fit_normalization, model_spec

        torch.manual_seed(cfg.seed)
        self.device = device
        self.frontend = LogMel(spec).to(device)
        self.model = RecurrentClassifier(model_spec(cfg, spec.n_mels, n_classes)).to(device)
        fit_normalization(self.model, self.frontend, split, device, max_clips=512, seed=cfg.seed)
        self.use_amp, self.amp_dtype = amp_settings(cfg.precision, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.use_amp and self.amp_dtype == torch.float16)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.optim.lr,
                                           weight_decay=cfg.optim.weight_decay, fused=device.type == "cuda")
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.optim.label_smoothing)
        a = cfg.augment
        self.spec_aug = SpecAugment(a.freq_mask_param, a.num_freq_masks, a.time_mask_param,
                                    a.num_time_masks) if a.enabled else None
        self.grad_clip = cfg.optim.grad_clip

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype) if self.use_amp else nullcontext()

    def step(self, normalized: torch.Tensor, labels: torch.Tensor) -> None:
        """SpecAugment, forward, backward, clip, optimizer step: the trainer's inner loop."""
        with self.autocast():
            if self.spec_aug is not None:
                normalized = self.spec_aug(normalized)
            logits = self.model(normalized, normalized=True)
        loss = self.criterion(logits.float(), labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()


def run_real(trainee: Trainee, data: BenchData, cfg: DictConfig, spec: FrontendSpec, steps: int) -> float:
    """clips/s of the real pipeline: BatchSource -> WaveAugment -> LogMel -> normalise -> step."""
    a = cfg.augment
    wave_aug = WaveAugment(data.noise, spec.sample_rate, a.time_shift_ms, a.noise_prob,
                           a.noise_volume) if a.enabled else None
    source = BatchSource(data.split, data.noise, trainee.device)
    batches = source(endless_batches(data.split, cfg.batch_size, cfg.seed))

    def run(n: int) -> None:
        for waves, labels in itertools.islice(batches, n):
            if wave_aug is not None:
                waves = wave_aug(waves)
            with trainee.autocast():
                feats = trainee.model.normalize(trainee.frontend(waves))
            trainee.step(feats, labels)

    run(cfg.warmup_steps)
    seconds = timed(lambda: run(steps), trainee.device)
    return steps * cfg.batch_size / seconds


def data_only_real(data: BenchData, cfg: DictConfig, spec: FrontendSpec, device: torch.device,
                   frontend: LogMel, model: RecurrentClassifier) -> float:
    """clips/s of the real input pipeline alone: batches up to normalised features, no model step."""
    a = cfg.augment
    wave_aug = WaveAugment(data.noise, spec.sample_rate, a.time_shift_ms, a.noise_prob,
                           a.noise_volume) if a.enabled else None
    batches = BatchSource(data.split, data.noise, device)(endless_batches(data.split, cfg.batch_size, cfg.seed + 1))

    def run(n: int) -> None:
        with torch.no_grad():
            for waves, _labels in itertools.islice(batches, n):
                model.normalize(frontend(wave_aug(waves) if wave_aug is not None else waves))

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
        a = cfg.augment
        self.split, self.noise = data.split, data.noise
        self.wave_aug = WaveAugment(data.noise, spec.sample_rate, a.time_shift_ms, a.noise_prob,
                                    a.noise_volume) if a.enabled else None
        self.frontend = LogMel(spec)
        self.batches = list(itertools.islice(endless_batches(data.split, cfg.batch_size, cfg.seed), n_batches))

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        waves, labels = gather_batch(self.split, torch.from_numpy(self.batches[i]), self.noise)
        if self.wave_aug is not None:
            waves = self.wave_aug(waves)
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


# ------------------------------------------------------------------------------------------ sections


def bench_decode(data: BenchData, cfg: DictConfig, spec: FrontendSpec, scratch: Path) -> float:
    paths = data.wav_paths[:cfg.decode_clips]
    start = time.perf_counter()
    decoded = load_or_build(paths, scratch / "cache", spec.sample_rate, spec.sample_rate, desc="bench decode",
                            workers=cfg.data.decode_workers)
    seconds = time.perf_counter() - start
    assert decoded.waves.shape[0] == len(paths) - len(decoded.failed)
    return len(paths) / seconds


def bench_frontend(data: BenchData, cfg: DictConfig, spec: FrontendSpec, device: torch.device) -> dict:
    n = min(cfg.frontend_clips, data.split.waves.shape[0])
    waves = data.split.waves[:n].float().cpu() / 32767.0
    out = {}
    cpu = LogMel(spec)
    cpu(waves[:8])
    out["logmel_cpu"] = n / timed(lambda: [cpu(waves[i:i + 256]) for i in range(0, n, 256)], torch.device("cpu"))
    if device.type == "cuda":
        gpu = LogMel(spec).to(device)
        n_gpu = min(data.split.waves.shape[0], 16 * cfg.frontend_clips)
        gw = data.split.waves[:n_gpu]
        gpu(gw[:8].float())
        out["logmel_gpu"] = n_gpu / timed(
            lambda: [gpu(gw[i:i + 4096].float() / 32767.0) for i in range(0, n_gpu, 4096)], device)
    k = min(cfg.librosa_clips, n)
    clips = waves[:k].numpy()
    librosa_logmel(clips[0], spec)  # first call imports and warms librosa
    out["librosa_per_clip"] = k / timed(lambda: [librosa_logmel(c, spec) for c in clips], torch.device("cpu"))
    out["logmel_cpu_over_librosa"] = out["logmel_cpu"] / out["librosa_per_clip"]
    try:  # librosa's mel projection is a BLAS call; on a busy machine its spinning threads dominate
        from threadpoolctl import threadpool_limits
    except ImportError:
        return out
    with threadpool_limits(limits=1, user_api="blas"):
        out["librosa_per_clip_1_blas_thread"] = k / timed(lambda: [librosa_logmel(c, spec) for c in clips],
                                                           torch.device("cpu"))
    return out


def bench_eval(trainee: Trainee, data: BenchData, cfg: DictConfig, device: torch.device) -> float:
    n = min(cfg.eval_clips, data.split.waves.shape[0])
    indices = np.arange(n)
    noise = data.noise if data.split.waves.device == data.noise.segments.device else data.noise.to(data.split.waves.device)
    predict_split(trainee.model, trainee.frontend, data.split, indices[:cfg.eval_batch_size], noise,
                  cfg.eval_batch_size, device)
    return n / timed(lambda: predict_split(trainee.model, trainee.frontend, data.split, indices, noise,
                                           cfg.eval_batch_size, device), device)


def machine_info(device: torch.device) -> dict:
    info = {"torch": torch.__version__, "python": platform.python_version(), "nproc": os.cpu_count(),
            "cpu": _cpu_model(), "device": str(device), "torch_threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"), "loadavg_1min": os.getloadavg()[0]}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench(cfg: DictConfig) -> dict:
    """Run every section; returns the results (also written to bench.json in the output folder)."""
    from speechseq.runtime import resolve_device
    from speechseq.train import frontend_spec

    validate_bench(cfg)
    if cfg.interop_threads > 0:  # must come before any inter-op parallel work in this process
        torch.set_num_interop_threads(cfg.interop_threads)
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.cuda.init()  # the allocator's statistics exist only once CUDA is initialised
        torch.cuda.reset_peak_memory_stats(device)
    spec = frontend_spec(cfg)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="speechseq-bench-"))
    results: dict = {"machine": machine_info(device), "config": OmegaConf.to_container(cfg, resolve=True)}
    try:
        t0 = time.perf_counter()
        data = load_bench_data(cfg, spec, device, scratch)
        results["data"] = {"source": data.source, "clips": int(data.split.waves.shape[0]),
                           "load_seconds": time.perf_counter() - t0, "batch_size": cfg.batch_size}
        log.info("data: %s", data.source)
        results["decode_clips_per_s"] = bench_decode(data, cfg, spec, scratch)
        log.info("decode: %.0f clips/s", results["decode_clips_per_s"])
        results["frontend"] = bench_frontend(data, cfg, spec, device)
        log.info("frontend: %s", {k: round(v, 1) for k, v in results["frontend"].items()})
        trainee = Trainee(cfg, spec, device, data.split, data.n_classes)
        train = {"real": run_real(trainee, data, cfg, spec, cfg.train_steps)}
        log.info("train, real pipeline: %.1f clips/s", train["real"])
        train["baseline"] = run_baseline(trainee, data, cfg, spec)
        log.info("train, per-clip baseline: %.1f clips/s", train["baseline"])
        if device.type == "cpu":
            if cfg.worker_variant:
                train["real_frontend_in_worker"] = run_real_worker(trainee, data, cfg, spec, cfg.train_steps)
                log.info("train, real with the frontend in a worker: %.1f clips/s", train["real_frontend_in_worker"])
            threads = torch.get_num_threads()
            for n in cfg.thread_sweep:
                torch.set_num_threads(n)
                train[f"real_threads_{n}"] = run_real(trainee, data, cfg, spec, max(2, cfg.train_steps // 2))
                log.info("train, real with %d thread(s): %.1f clips/s", n, train[f"real_threads_{n}"])
            torch.set_num_threads(threads)
        train["speedup"] = train["real"] / train["baseline"]
        results["train_clips_per_s"] = train
        results["input_pipeline_clips_per_s"] = {
            "real": data_only_real(data, cfg, spec, device, trainee.frontend, trainee.model),
            "baseline": data_only_baseline(baseline_loader(trainee, data, cfg, spec), cfg.warmup_steps,
                                           cfg.baseline_steps, device)}
        log.info("input pipeline alone: %s", {k: round(v, 1) for k, v in results["input_pipeline_clips_per_s"].items()})
        results["eval_clips_per_s"] = bench_eval(trainee, data, cfg, device)
        log.info("evaluation: %.0f clips/s", results["eval_clips_per_s"])
        results["memory"] = {"peak_rss_mb": peak_rss_mb()}
        if device.type == "cuda":
            results["memory"]["gpu_max_allocated_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    atomic_write_text(out_dir / "bench.json", json.dumps(results, indent=2))
    print(format_table(results))
    print(f"results: {out_dir / 'bench.json'}")
    print(f"training speedup {results['train_clips_per_s']['speedup']:.1f}x over the per-clip baseline")
    return results


def format_table(r: dict) -> str:
    m, t, f = r["machine"], r["train_clips_per_s"], r["frontend"]
    rows = [("decode + cache build", f"{r['decode_clips_per_s']:,.0f}", f"{r['config']['data']['decode_workers']} threads"),
            ("LogMel, batched, CPU", f"{f['logmel_cpu']:,.0f}", f"{f['logmel_cpu_over_librosa']:.1f}x librosa")]
    if "logmel_gpu" in f:
        rows.append(("LogMel, batched, GPU", f"{f['logmel_gpu']:,.0f}", f"{f['logmel_gpu'] / f['librosa_per_clip']:.0f}x librosa"))
    rows.append(("librosa melspectrogram, per clip", f"{f['librosa_per_clip']:,.0f}", "1 process, default BLAS threads"))
    if "librosa_per_clip_1_blas_thread" in f:
        rows.append(("librosa melspectrogram, per clip", f"{f['librosa_per_clip_1_blas_thread']:,.0f}",
                     "1 process, 1 BLAS thread"))
    rows += [("train: real pipeline", f"{t['real']:,.0f}", f"batch {r['data']['batch_size']}, fwd+bwd+step"),
             ("train: per-clip baseline", f"{t['baseline']:,.0f}",
              f"soundfile+librosa, {r['config']['baseline_workers']} DataLoader workers")]
    if "real_frontend_in_worker" in t:
        rows.append(("train: real, frontend in 1 worker", f"{t['real_frontend_in_worker']:,.0f}", "CPU variant"))
    for key in sorted(k for k in t if k.startswith("real_threads_")):
        rows.append((f"train: real, {key.rsplit('_', 1)[1]} torch thread(s)", f"{t[key]:,.0f}", ""))
    ip = r["input_pipeline_clips_per_s"]
    rows += [("input pipeline alone: real", f"{ip['real']:,.0f}", "index gather + noise/shift + LogMel, no model"),
             ("input pipeline alone: per-clip", f"{ip['baseline']:,.0f}", "the baseline DataLoader, no model")]
    rows.append(("evaluation", f"{r['eval_clips_per_s']:,.0f}", f"batch {r['config']['eval_batch_size']}"))
    mem = r["memory"]
    extra = f", GPU max allocated {mem['gpu_max_allocated_mb']:,.0f} MB" if "gpu_max_allocated_mb" in mem else ""
    width = max(len(a) for a, _, _ in rows)
    lines = [f"speechseq-bench on {m['device']} ({m.get('gpu', m['cpu'])}, {m['nproc']} CPUs, torch {m['torch']}, "
             f"{m['torch_threads']} threads); data: {r['data']['source']}",
             f"{'section':<{width}}  {'clips/s':>10}  note", "-" * (width + 40)]
    lines += [f"{a:<{width}}  {b:>10}  {c}" for a, b, c in rows]
    lines.append(f"peak RSS {mem['peak_rss_mb']:,.0f} MB{extra}")
    return "\n".join(lines)


@hydra_entry("bench")
def main(cfg: DictConfig) -> None:
    run_guarded("speechseq-bench", lambda: bench(cfg) and None, debug=cfg.debug)


if __name__ == "__main__":
    main()
