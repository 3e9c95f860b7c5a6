"""Training: `train(cfg)` does the work; `main()` is the Hydra wrapper behind `speechseq-train`.

Runs alone or under torchrun (DDP: each rank its shard, rank 0 logs and writes checkpoints).
Each epoch is seeded from (seed, epoch), so a run resumed from `last.pt` ends with the same
weights as one that never stopped.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from tqdm.auto import tqdm

from speechseq.augment import SpecAugment, WaveAugment
from speechseq.checkpoint import (
    check_resume_state,
    load_inference,
    load_resume_state,
    save_inference,
    save_resume_state,
)
from speechseq.cli import hydra_entry, run_guarded
from speechseq.config import validate_train
from speechseq.data.batches import batch_indices
from speechseq.data.layout import DatasetIndex, scan_dataset
from speechseq.data.loader import BatchSource, choose_on_device, move_split
from speechseq.data.splits import NoiseBank, SplitData, check_words, load_split
from speechseq.evaluate import score_split, write_report
from speechseq.features import FrontendSpec, LogMel
from speechseq.fsutil import (
    OutputWriteError,
    atomic_write_text,
    ensure_writable_dir,
    remove_stale_temporaries,
)
from speechseq.inference import evaluation_indices, predict_split
from speechseq.labels import LabelSet, make_label_set
from speechseq.metrics import format_report_table
from speechseq.model import ModelSpec, RecurrentClassifier, count_parameters
from speechseq.runtime import (
    DistInfo,
    StopFlag,
    all_reduce_,
    configure_threads,
    dump_rank_weights,
    init_distributed,
    resolve_device,
    shutdown_distributed,
)

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    pass


class NonFiniteWatch:
    """Decides when a non-finite loss ends the run.

    Without a GradScaler one non-finite loss is fatal. With one (fp16 on CUDA) the scaler skips a
    step whose gradients overflow and lowers its scale, so an isolated non-finite loss is let
    through; `patience` checks in a row mean the forward pass itself overflows, which no scale mends.
    """

    def __init__(self, scaler_enabled: bool, patience: int = 3):
        self.scaler_enabled, self.patience, self.streak = scaler_enabled, patience, 0

    def fatal(self, value: float) -> bool:
        if math.isfinite(value):
            self.streak = 0
            return False
        self.streak += 1
        return not self.scaler_enabled or self.streak >= self.patience


@dataclass
class TrainingData:
    label_set: LabelSet
    train: SplitData
    validation: SplitData
    test: SplitData | None
    noise: NoiseBank
    report: dict


def open_dataset(d: DictConfig) -> tuple[LabelSet, DatasetIndex]:
    """The label set of `data` and the scanned folder, checked to have every keyword."""
    label_set = make_label_set(d.task, list(d.words) if d.words else None)
    index = scan_dataset(d.root, d.layout)
    check_words(index, label_set)
    return label_set, index


def load_data_split(index: DatasetIndex, name: str, label_set: LabelSet, d: DictConfig,
                    spec: FrontendSpec) -> SplitData:
    """One split, decoded (through the cache) into one-clip-long int16 waveforms."""
    return load_split(index, name, label_set, sample_rate=spec.sample_rate, clip_samples=spec.sample_rate,
                      cache_dir=d.cache_dir, silence_percentage=d.silence_percentage,
                      unknown_percentage=d.unknown_percentage, decode_workers=d.decode_workers)


def prepare_data(cfg: DictConfig, spec: FrontendSpec, load_test: bool) -> TrainingData:
    d = cfg.data
    label_set, index = open_dataset(d)
    train_split = load_data_split(index, "train", label_set, d, spec)
    val_split = load_data_split(index, "validation", label_set, d, spec)
    test_split = load_data_split(index, "test", label_set, d, spec) if load_test and index.splits["test"] else None
    noise = NoiseBank.from_files(index.noise_files, spec.sample_rate, spec.sample_rate)
    splits = [s for s in (train_split, val_split, test_split) if s is not None]
    report = {"root": str(index.root), "layout": index.layout, "labels": label_set.names,
              "noise_segments": len(noise), "splits": {s.name: s.summary() for s in splits},
              "unreadable_files": [f for s in splits for f in s.failed]}
    report["unreadable_count"] = len(report["unreadable_files"])
    if report["unreadable_files"]:
        log.warning("skipped %d unreadable file(s); see data_report.json", len(report["unreadable_files"]))
    if len(noise) == 0:
        log.warning("no background noise under %s/_background_noise_: silence is digital zero and "
                    "noise augmentation is off", index.root)
    return TrainingData(label_set, train_split, val_split, test_split, noise, report)


def frontend_spec(cfg: DictConfig) -> FrontendSpec:
    return FrontendSpec(**OmegaConf.to_container(cfg.features))


def model_spec(cfg: DictConfig, n_inputs: int, n_classes: int) -> ModelSpec:
    return ModelSpec(n_inputs=n_inputs, n_classes=n_classes, **OmegaConf.to_container(cfg.model))


@torch.no_grad()
def fit_normalization(model: RecurrentClassifier, frontend: LogMel, split: SplitData, device,
                      max_clips: int = 2000, seed: int = 0) -> None:
    """Per-mel mean/std over (a fixed sample of) the training clips."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(split.labels))[:max_clips]
    feats = []
    for start in range(0, len(idx), 256):
        waves = split.waves[torch.as_tensor(idx[start:start + 256])].float().to(device) / 32767.0
        feats.append(frontend(waves).reshape(-1, frontend.spec.n_mels).double())
    allf = torch.cat(feats)
    model.set_normalization(allf.mean(0).float(), allf.std(0).float())


def learning_rate(step: int, total: int, cfg_optim) -> float:
    """Linear warm-up from lr/25, then cosine decay to lr/1e4 (one-cycle's shape)."""
    base = cfg_optim.lr
    if cfg_optim.schedule == "constant":
        return base
    warm = int(total * cfg_optim.warmup_fraction)
    if step < warm:
        return base / 25 + (base - base / 25) * step / max(1, warm)
    progress = (step - warm) / max(1, total - warm)
    return base / 1e4 + (base - base / 1e4) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def amp_settings(precision: str, device: torch.device) -> tuple[bool, torch.dtype | None]:
    if device.type != "cuda" or precision == "fp32":
        return False, None
    if precision == "bf16":
        return True, torch.bfloat16
    return True, torch.float16  # auto/fp16: cuDNN LSTM kernels are fastest in fp16


class RunLogger:
    """metrics.jsonl + TensorBoard, rank 0 only."""

    def __init__(self, out_dir: Path, enabled: bool):
        self.enabled = enabled
        self.metrics_path = out_dir / "metrics.jsonl"
        self.tb = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(out_dir / "tb"))
            except ImportError:
                log.warning("tensorboard is not installed; logging to metrics.jsonl only")

    def epoch(self, row: dict) -> None:
        if not self.enabled:
            return
        with open(self.metrics_path, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self.tb.add_scalar(key, value, row["epoch"])
            self.tb.flush()

    def rewrite(self, rows: list[dict]) -> None:
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def train(cfg: DictConfig) -> dict:
    """Train per `cfg`; returns a summary (best validation accuracy, test accuracy, paths, ...)."""
    validate_train(cfg)
    t = cfg.trainer
    dist = init_distributed(t.device)
    device = resolve_device(t.device, dist.local_rank)
    configure_threads(t.num_threads)
    state = load_resume_state(t.resume) if t.resume else None
    if state is not None:
        check_resume_state(t.resume, state, OmegaConf.to_container(cfg, resolve=True))
    out_dir = Path(cfg.paths.output_dir)
    if state is not None and Path(t.resume).parent.name == "checkpoints":
        out_dir = Path(t.resume).parent.parent  # a resumed run goes on in its own folder
    ckpt_dir = out_dir / "checkpoints"
    if dist.is_main:  # fail now, not after decoding the data, when outputs cannot be written
        ensure_writable_dir(ckpt_dir, "run folder")
        for tmp in remove_stale_temporaries(ckpt_dir):
            log.info("removed %s, left by a run killed while writing", tmp.name)
    spec = frontend_spec(cfg)
    data = prepare_data(cfg, spec, load_test=t.test_after_training)
    if dist.is_main:
        atomic_write_text(out_dir / "data_report.json", json.dumps(data.report, indent=2))

    frontend = LogMel(spec).to(device)
    torch.manual_seed(t.seed)  # weight initialisation depends on the seed only
    model = RecurrentClassifier(model_spec(cfg, spec.n_mels, len(data.label_set)))
    use_amp, amp_dtype = amp_settings(t.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp and amp_dtype == torch.float16)
    start_epoch, best_val, best_epoch, history = 0, -1.0, -1, []
    if state is not None:
        model.load_state_dict(state["model"])
        scaler.load_state_dict(state["scaler"])
        start_epoch, best_val, best_epoch = int(state["epoch"]), float(state["best_val_acc"]), int(state["best_epoch"])
        history = [json.loads(r) for r in state["history"]]
        log.info("resumed from %s after epoch %d", t.resume, start_epoch)
    else:
        fit_normalization(model, frontend, data.train, device, seed=t.seed)
    model.to(device)
    # Fused AdamW on CUDA takes GradScaler's inf check on the device: no host sync per step.
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay,
                                  fused=device.type == "cuda")
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    train_model: nn.Module = model
    if dist.enabled:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    train_split = data.train
    val_split = data.validation
    noise = data.noise.to(device)
    if choose_on_device(cfg.data.on_device, device, [train_split, val_split]):
        # whole splits live on the GPU as int16; batches are drawn there
        train_split = move_split(train_split, device)
        val_split = move_split(val_split, device)
    val_noise = noise if val_split.waves.device == device else data.noise  # silence drawn where the clips are
    train_source = BatchSource(train_split, noise, device)
    wave_aug = WaveAugment(noise, spec.sample_rate, cfg.augment.time_shift_ms, cfg.augment.noise_prob,
                           cfg.augment.noise_volume) if cfg.augment.enabled else None
    spec_aug = SpecAugment(cfg.augment.freq_mask_param, cfg.augment.num_freq_masks, cfg.augment.time_mask_param,
                           cfg.augment.num_time_masks) if cfg.augment.enabled else None
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.optim.label_smoothing)
    val_indices = evaluation_indices(val_split, cfg.data.seed)
    epoch_size = len(train_split.draw(np.random.default_rng(0)))
    steps_per_epoch = len(list(batch_indices(np.arange(epoch_size), t.batch_size, None, dist.rank, dist.world_size)))
    total_steps = steps_per_epoch * t.max_epochs
    runlog = RunLogger(out_dir, dist.is_main)
    if dist.is_main:  # rows of epochs after the resume point (a kill between writes) are dropped
        runlog.rewrite(history)
    n_params = count_parameters(model)
    if dist.is_main:
        log.info("%s: %d classes, %d parameters, device %s%s, %d training clips per epoch",
                 _describe(model.spec), len(data.label_set), n_params, device,
                 f" x{dist.world_size} ranks" if dist.enabled else "", epoch_size)

    best_path, last_path = ckpt_dir / "best.safetensors", ckpt_dir / "last.pt"
    status, t_start = "completed", time.perf_counter()
    config_json = json.dumps(OmegaConf.to_container(cfg, resolve=True))
    # inside the loop all data is in memory: an OSError is a failed write of the run's outputs
    nonfinite = NonFiniteWatch(scaler.is_enabled())
    with StopFlag() as stop, explain_write_failure(last_path):
        for epoch in range(start_epoch, t.max_epochs):
            t_epoch = time.perf_counter()
            # Seed from (seed, epoch[, rank]): a resumed run replays the same randomness.
            torch.manual_seed(t.seed * 100003 + epoch * 1009 + dist.rank)
            rng = np.random.default_rng([t.seed, epoch])
            indices = train_split.draw(rng)
            train_model.train()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            seen = 0
            batches = batch_indices(indices, t.batch_size, rng, dist.rank, dist.world_size)
            bar = tqdm(train_source(batches), total=steps_per_epoch, desc=f"epoch {epoch + 1}/{t.max_epochs}",
                       unit="step", leave=False, disable=not (t.progress and dist.is_main))
            stopping = False
            for step, (waves, labels) in enumerate(bar):
                if _stop_now(stop, step, t.log_every, dist, device):
                    stopping = True
                    break
                global_step = epoch * steps_per_epoch + step
                lr = learning_rate(global_step, total_steps, cfg.optim)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                if wave_aug is not None:
                    waves = wave_aug(waves)
                autocast = torch.autocast(device.type, dtype=amp_dtype) if use_amp else nullcontext()
                with autocast:
                    feats = model.normalize(frontend(waves))
                    if spec_aug is not None:
                        feats = spec_aug(feats)
                    logits = train_model(feats, normalized=True)
                loss = criterion(logits.float(), labels)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if cfg.optim.grad_clip > 0:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                loss_sum += loss.detach() * len(labels)
                correct += (logits.argmax(-1) == labels).sum()
                seen += len(labels)
                # CPU: checking every step is free; GPU: only at progress updates, to avoid syncs.
                if device.type == "cpu" or step % t.log_every == 0:
                    value = loss.item()
                    # Under DDP all ranks decide together: one that went on would wait in the next all-reduce.
                    if _any_rank(nonfinite.fatal(value), dist, device):
                        what = f"loss became {value}" if not math.isfinite(value) else \
                            f"another rank's loss became non-finite (rank {dist.rank}'s: {value:.4f})"
                        hint = ("fp16 overflow in the forward pass: try trainer.precision=bf16 or a lower optim.lr"
                                if scaler.is_enabled() else "Try a lower optim.lr")
                        raise NonFiniteLossError(
                            f"{what} at epoch {epoch + 1} step {step + 1} (global step "
                            f"{global_step + 1}); stopped. The last good checkpoints are kept: "
                            f"{best_path if best_path.exists() else '(none yet)'}, "
                            f"{last_path if last_path.exists() else '(none yet)'}. {hint}.")
                    if step % t.log_every == 0:
                        bar.set_postfix(loss=f"{value:.3f}", lr=f"{lr:.2e}")
            bar.close()
            if stopping or _stop_agreed(stop, dist, device):
                status = "interrupted"
                break
            train_loss, train_acc = _epoch_means(loss_sum, correct, seen, dist, device)
            targets, probs = predict_split(model, frontend, val_split, val_indices, val_noise, t.eval_batch_size,
                                           device, seed=cfg.data.seed)
            val_acc = float((probs.argmax(1) == targets).mean())
            row = {"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc, "val_acc": val_acc,
                   "lr": lr, "epoch_seconds": time.perf_counter() - t_epoch}
            history.append(row)
            improved = val_acc > best_val
            if improved:
                best_val, best_epoch = val_acc, epoch + 1
            if dist.is_main:
                runlog.epoch(row)
                log.info("epoch %d/%d  loss %.4f  train acc %.4f  val acc %.4f%s  (%.1f s)", epoch + 1,
                         t.max_epochs, train_loss, train_acc, val_acc, "  *best*" if improved else "",
                         row["epoch_seconds"])
                if improved:
                    save_inference(best_path, model, data.label_set.names, spec, extra={
                        "epoch": epoch + 1, "metrics": {"val_acc": val_acc, "train_acc": train_acc},
                        "parameters": n_params, "config": json.loads(config_json)})
                save_resume_state(last_path, {
                    "epoch": epoch + 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scaler": scaler.state_dict(), "best_val_acc": best_val, "best_epoch": best_epoch,
                    "history": [json.dumps(r) for r in history], "config": config_json})
        if stop:  # a signal during the last epoch's validation: saved, but skip the test pass too
            status = "interrupted"
    runlog.close()
    dump_rank_weights(model, dist)
    summary = {"status": status, "best_val_acc": best_val, "best_epoch": best_epoch, "parameters": n_params,
               "epochs_completed": len(history), "train_seconds": time.perf_counter() - t_start,
               "best_checkpoint": str(best_path), "last_checkpoint": str(last_path), "output_dir": str(out_dir)}
    if status == "interrupted":
        sig = stop.signal or signal.SIGTERM  # under DDP a rank may stop because another rank got the signal
        if dist.is_main:
            name = signal.Signals(sig).name
            if last_path.exists():
                log.warning("stopped by %s; epochs 1-%d are saved: resume with trainer.resume=%s", name,
                            len(history), last_path)
            else:
                log.warning("stopped by %s before the first epoch ended; nothing to resume", name)
        summary["signal"] = int(sig)
        return summary
    if dist.is_main and data.test is not None and best_path.exists():
        loaded = load_inference(best_path, map_location=device)
        report = score_split(loaded, data.test, data.noise, device, t.eval_batch_size, cfg.data.seed,
                             progress=t.progress)
        report.update({"checkpoint": str(best_path), "epoch": best_epoch})
        write_report(report, out_dir, name="test_report")
        print(format_report_table(report))
        print(f"test accuracy {report['accuracy']:.4f} (n={report['n']})")
        summary["test_acc"] = report["accuracy"]
        summary["test_n"] = report["n"]
    if dist.is_main:
        from speechseq.plots import plot_training_curves

        if runlog.metrics_path.exists():
            plot_training_curves(runlog.metrics_path, out_dir / "training_curves.png")
        atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2))
    return summary


@contextmanager
def explain_write_failure(last_path: Path):
    """Turn a failed output write (disk full, folder gone or read-only) into one clear error."""
    try:
        yield
    except OutputWriteError:
        raise
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        kept = (f"the previous checkpoint {last_path} is intact: free space, then resume with "
                f"trainer.resume={last_path}" if last_path.exists() else "no checkpoint had been written yet")
        raise OutputWriteError(f"could not write the run's outputs: {exc.strerror or exc}{where}; {kept}") from None


def _any_rank(flag: bool, dist: DistInfo, device: torch.device) -> bool:
    """`flag` alone; under DDP, whether it is set on any rank (one tiny all-reduce)."""
    if not dist.enabled:
        return bool(flag)
    return bool(all_reduce_(torch.tensor([1 if flag else 0], device=device), dist, op="max").item())


def _stop_agreed(stop: StopFlag, dist: DistInfo, device: torch.device) -> bool:
    """Alone: whether a signal came. Under DDP: whether any rank got one (all must stop at the same step)."""
    return _any_rank(bool(stop), dist, device)


def _stop_now(stop: StopFlag, step: int, every: int, dist: DistInfo, device: torch.device) -> bool:
    # Under DDP the ranks agree every `every` steps (one tiny all-reduce), not every step.
    if not dist.enabled:
        return bool(stop)
    return step % every == 0 and _stop_agreed(stop, dist, device)


def _epoch_means(loss_sum: torch.Tensor, correct: torch.Tensor, seen: int, dist: DistInfo,
                 device: torch.device) -> tuple[float, float]:
    """Training loss and accuracy of the epoch over all ranks' shards."""
    if dist.enabled:
        totals = all_reduce_(torch.stack([loss_sum.float(), correct.float(),
                                          torch.tensor(float(seen), device=device)]), dist)
        loss_sum, correct, seen = totals[0], totals[1], int(totals[2].item())
    return (loss_sum / max(seen, 1)).item(), correct.item() / max(seen, 1)


def _describe(spec: ModelSpec) -> str:
    kind = ("bi" if spec.bidirectional else "uni") + spec.cell.upper()
    return f"{spec.num_layers}-layer {kind} (hidden {spec.hidden_size}, {spec.pooling} pooling)"


@hydra_entry("train")
def main(cfg: DictConfig) -> float | None:
    """Returns the best validation accuracy: the objective Hydra's Optuna sweeper maximises."""
    result: dict = {}

    def run() -> int:
        try:
            summary = train(cfg)
        finally:
            shutdown_distributed()
        result.update(summary)
        if summary["status"] == "interrupted":
            return 128 + summary["signal"]
        return 0

    run_guarded("speechseq-train", run, debug=cfg.debug)
    return result.get("best_val_acc")


if __name__ == "__main__":
    main()
