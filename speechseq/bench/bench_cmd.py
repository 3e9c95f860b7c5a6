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

import json
import logging
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from speechseq.cli import hydra_entry, run_guarded
from speechseq.config import validate_bench
from speechseq.data.cache import load_or_build
from speechseq.evaluation.inference import predict_split
from speechseq.features.logmel import FrontendSpec, LogMel
from speechseq.fsutil import atomic_write_text

log = logging.getLogger(__name__)
from speechseq.bench.data import (  # noqa: F401  (tests import these from here)
    CPU_SYNTHETIC_CLIPS,
    FULL_V2_CLIPS,
    BenchData,
    load_bench_data,
    loader_schedule,
    peak_rss_mb,
    timed,
)
from speechseq.bench.pipelines import (  # noqa: F401
    Trainee,
    baseline_loader,
    data_only_baseline,
    data_only_real,
    librosa_logmel,
    run_baseline,
    run_real,
    run_real_worker,
)

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


def bench_training(trainee: Trainee, data: BenchData, cfg: DictConfig, spec: FrontendSpec, device: torch.device,
                   results: dict) -> None:
    """Training throughput (real pipeline, per-clip baseline, thread sweep) and the input pipeline alone."""
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


def bench(cfg: DictConfig) -> dict:
    """Run every section; returns the results (also written to bench.json in the output folder)."""
    from speechseq.device import resolve_device
    from speechseq.training.train import frontend_spec

    validate_bench(cfg)
    if cfg.features.get("kind", "logmel") != "logmel":
        from speechseq.config import ConfigError

        raise ConfigError("features: speechseq-bench measures the log-mel pipeline; the speech embedding's "
                          "costs: python scripts/bench_embedding.py (BENCHMARKS.md)")
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
        bench_training(trainee, data, cfg, spec, device, results)
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
