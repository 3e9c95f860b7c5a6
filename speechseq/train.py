"""Training: `train(cfg)` does the work; `main()` is the Hydra wrapper behind `speechseq-train`.

Runs alone or under torchrun (DDP: each rank its shard, rank 0 logs and writes checkpoints).
Each epoch is seeded from (seed, epoch), so a run resumed from `last.pt` ends with the same
weights as one that never stopped. `trainer.max_minutes` fits the epochs to a time budget.

Stages: start_run (folders, resume state) -> prepare_data -> build_trainer (model, optimiser,
augmentation, batches) -> per epoch train_epoch + end_epoch (validate, checkpoint) -> finish_run
(test report, plots, summary).
"""

from __future__ import annotations

import json
import logging
import math
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from tqdm.auto import tqdm

from speechseq.augment import build_augmenters
from speechseq.budget import TimeBudget
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
from speechseq.data.loader import BatchSource, choose_on_device, move_split
from speechseq.evaluate import add_noise_scores, print_scores, score_split, write_report
from speechseq.features import LogMel
from speechseq.fsutil import (
    OutputWriteError,
    atomic_write_text,
    ensure_writable_dir,
    remove_stale_temporaries,
)
from speechseq.inference import evaluation_indices, predict_split
from speechseq.model import ModelSpec, RecurrentClassifier, count_parameters
from speechseq.run_log import RunLogger
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
from speechseq.train_data import (  # noqa: F401  (re-exported: bench and tests import them from here)
    TrainingData,
    fit_normalization,
    frontend_spec,
    load_data_split,
    model_spec,
    open_dataset,
    prepare_data,
)
from speechseq.train_step import (  # noqa: F401  (re-exported)
    NonFiniteLossError,
    NonFiniteWatch,
    TrainStep,
    amp_settings,
    learning_rate,
)

log = logging.getLogger(__name__)


@dataclass
class Run:
    """Where a run writes and how far it has come."""

    out_dir: Path
    state: dict | None
    start_epoch: int = 0
    best_val: float = -1.0
    best_epoch: int = -1
    history: list[dict] = field(default_factory=list)
    status: str = "completed"

    @property
    def best_path(self) -> Path:
        return self.out_dir / "checkpoints" / "best.safetensors"

    @property
    def last_path(self) -> Path:
        return self.out_dir / "checkpoints" / "last.pt"


@dataclass
class Trainer:
    """Everything the epochs use."""

    cfg: DictConfig
    dist: DistInfo
    device: torch.device
    data: TrainingData
    model: RecurrentClassifier
    frontend: LogMel
    step: TrainStep
    source: BatchSource
    val_split: object
    val_noise: object
    val_indices: np.ndarray
    steps_per_epoch: int
    epoch_size: int
    runlog: RunLogger
    nonfinite: NonFiniteWatch
    config_json: str
    n_params: int
    budget: TimeBudget | None
    total_steps: int

    def planned_epochs(self) -> int:
        return self.budget.planned_epochs if self.budget is not None else self.cfg.trainer.max_epochs


def start_run(cfg: DictConfig) -> tuple[DistInfo, torch.device, Run]:
    """Checks, devices, threads, the resume state, and a writable run folder (before any data is read)."""
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
    run = Run(out_dir, state)
    if dist.is_main:  # fail now, not after decoding the data, when outputs cannot be written
        ensure_writable_dir(out_dir / "checkpoints", "run folder")
        for tmp in remove_stale_temporaries(out_dir / "checkpoints"):
            log.info("removed %s, left by a run killed while writing", tmp.name)
    if state is not None:
        run.start_epoch, run.best_val = int(state["epoch"]), float(state["best_val_acc"])
        run.best_epoch, run.history = int(state["best_epoch"]), [json.loads(r) for r in state["history"]]
    return dist, device, run


def build_model(cfg: DictConfig, data: TrainingData, device: torch.device, state: dict | None,
                frontend: LogMel) -> RecurrentClassifier:
    torch.manual_seed(cfg.trainer.seed)  # weight initialisation depends on the seed only
    model = RecurrentClassifier(model_spec(cfg, frontend.spec.n_mels, len(data.label_set)))
    if state is not None:
        model.load_state_dict(state["model"])
        log.info("resumed from %s after epoch %d", cfg.trainer.resume, int(state["epoch"]))
    else:
        fit_normalization(model, frontend, data.train, device, seed=cfg.trainer.seed)
    return model.to(device)


def build_trainer(cfg: DictConfig, dist: DistInfo, device: torch.device, data: TrainingData, run: Run,
                  t_begin: float) -> Trainer:
    t = cfg.trainer
    frontend = LogMel(data.spec).to(device)
    model = build_model(cfg, data, device, run.state, frontend)
    # Fused AdamW on CUDA takes GradScaler's inf check on the device: no host sync per step.
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay,
                                  fused=device.type == "cuda")
    train_model: nn.Module = model
    if dist.enabled:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    train_split, val_split, noise = data.train, data.validation, data.noise.to(device)
    if choose_on_device(cfg.data.on_device, device, [train_split, val_split]):
        # whole splits live on the GPU as int16; batches are drawn there
        train_split, val_split = move_split(train_split, device), move_split(val_split, device)
    val_noise = noise if val_split.waves.device == device else data.noise  # silence drawn where the clips are
    wave_aug, spec_aug = build_augmenters(cfg.augment, noise, data.spec.sample_rate, data.label_set.names)
    step = TrainStep(model, frontend, optimizer, device, t.precision, cfg.optim.label_smoothing, cfg.optim.grad_clip,
                     wave_aug, spec_aug, train_model)
    if run.state is not None:
        optimizer.load_state_dict(run.state["optimizer"])
        step.scaler.load_state_dict(run.state["scaler"])
    epoch_size = len(train_split.draw(np.random.default_rng(0)))
    steps_per_epoch = len(list(batch_indices(np.arange(epoch_size), t.batch_size, None, dist.rank, dist.world_size)))
    budget = None
    if t.max_minutes:
        budget = TimeBudget(t.max_minutes, steps_per_epoch, reserve_seconds=10 + 3 * t.max_minutes, start=t_begin,
                            planned_epochs=t.max_epochs)
    runlog = RunLogger(run.out_dir, dist.is_main)
    if dist.is_main:  # rows of epochs after the resume point (a kill between writes) are dropped
        runlog.rewrite(run.history)
    tr = Trainer(cfg, dist, device, data, model, frontend, step, BatchSource(train_split, noise, device), val_split,
                 val_noise, evaluation_indices(val_split, cfg.data.seed), steps_per_epoch, epoch_size, runlog,
                 NonFiniteWatch(step.scaler.is_enabled()), json.dumps(OmegaConf.to_container(cfg, resolve=True)),
                 count_parameters(model), budget, steps_per_epoch * t.max_epochs)
    if dist.is_main:
        log.info("%s: %d classes, %d parameters, device %s%s, %s, %d training clips per epoch%s",
                 _describe(model.spec), len(data.label_set), tr.n_params, device,
                 f" x{dist.world_size} ranks" if dist.enabled else "", step.precision_name(), epoch_size,
                 f", budget {t.max_minutes:g} min" if budget else "")
    return tr


def train_epoch(tr: Trainer, run: Run, epoch: int, stop: StopFlag) -> tuple[tuple, str | None]:
    """One epoch of steps; returns ((loss_sum, correct, seen, last lr), why it stopped early: signal | budget | None)."""
    t, dist, device = tr.cfg.trainer, tr.dist, tr.device
    # Seed from (seed, epoch[, rank]): a resumed run replays the same randomness.
    torch.manual_seed(t.seed * 100003 + epoch * 1009 + dist.rank)
    rng = np.random.default_rng([t.seed, epoch])
    indices = tr.source.split.draw(rng)
    tr.model.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen, probe_start, lr = 0, time.perf_counter(), float("nan")
    batches = batch_indices(indices, t.batch_size, rng, dist.rank, dist.world_size)
    bar = tqdm(tr.source(batches), total=tr.steps_per_epoch, desc=f"epoch {epoch + 1}/{tr.planned_epochs()}",
               unit="step", leave=False, disable=not (t.progress and dist.is_main))
    stopped = None
    for i, (waves, labels) in enumerate(bar):
        if _stop_now(stop, i, t.log_every, dist, device):
            stopped = "signal"
            break
        if _out_of_time(tr, i):
            stopped = "budget"
            break
        if tr.budget is not None and epoch == run.start_epoch and i == tr.budget.probe_steps:
            tr.budget.after_probe(probe_start)
            tr.total_steps = _agree_min(tr.budget.total_steps(), dist, device)
        global_step = epoch * tr.steps_per_epoch + i
        lr = learning_rate(global_step, tr.total_steps, tr.cfg.optim)
        tr.step.set_lr(lr)
        loss, logits, labels = tr.step(waves, labels)
        loss_sum += loss.detach() * len(labels)
        correct += (logits.argmax(-1) == labels).sum()
        seen += len(labels)
        # CPU: checking every step is free; GPU: only at progress updates, to avoid syncs.
        if device.type == "cpu" or i % t.log_every == 0:
            _check_loss(tr, run, loss.item(), epoch, i, global_step)
            if i % t.log_every == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.2e}")
    bar.close()
    return (loss_sum, correct, seen, lr), stopped


def _check_loss(tr: Trainer, run: Run, value: float, epoch: int, step: int, global_step: int) -> None:
    # Under DDP all ranks decide together: one that went on would wait in the next all-reduce.
    if not _any_rank(tr.nonfinite.fatal(value), tr.dist, tr.device):
        return
    what = f"loss became {value}" if not math.isfinite(value) else \
        f"another rank's loss became non-finite (rank {tr.dist.rank}'s: {value:.4f})"
    hint = ("fp16 overflow in the forward pass: try trainer.precision=bf16 or a lower optim.lr"
            if tr.step.scaler.is_enabled() else "Try a lower optim.lr")
    best, last = run.best_path, run.last_path
    raise NonFiniteLossError(
        f"{what} at epoch {epoch + 1} step {step + 1} (global step {global_step + 1}); stopped. The last good "
        f"checkpoints are kept: {best if best.exists() else '(none yet)'}, "
        f"{last if last.exists() else '(none yet)'}. {hint}.")


def end_epoch(tr: Trainer, run: Run, epoch: int, stats: tuple, t_epoch: float) -> None:
    """Validate, log, keep the best checkpoint and the resume state; re-plan a budgeted run."""
    loss_sum, correct, seen, lr = stats
    train_loss, train_acc = _epoch_means(loss_sum, correct, seen, tr.dist, tr.device)
    t_val = time.perf_counter()
    targets, probs = predict_split(tr.model, tr.frontend, tr.val_split, tr.val_indices, tr.val_noise,
                                   tr.cfg.trainer.eval_batch_size, tr.device, seed=tr.cfg.data.seed)
    val_seconds = time.perf_counter() - t_val
    val_acc = float((probs.argmax(1) == targets).mean())
    row = {"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc, "val_acc": val_acc,
           "lr": lr, "epoch_seconds": time.perf_counter() - t_epoch}
    run.history.append(row)
    improved = val_acc > run.best_val
    if improved:
        run.best_val, run.best_epoch = val_acc, epoch + 1
    if tr.budget is not None:
        _replan(tr, epoch + 1, row["epoch_seconds"], val_seconds)
    if not tr.dist.is_main:
        return
    tr.runlog.epoch(row)
    log.info("epoch %d/%d  loss %.4f  train acc %.4f  val acc %.4f%s  (%.1f s)", epoch + 1, tr.planned_epochs(),
             train_loss, train_acc, val_acc, "  *best*" if improved else "", row["epoch_seconds"])
    if improved:
        save_inference(run.best_path, tr.model, tr.data.label_set.names, tr.data.spec, extra={
            "epoch": epoch + 1, "metrics": {"val_acc": val_acc, "train_acc": train_acc},
            "parameters": tr.n_params, "config": json.loads(tr.config_json)})
    save_resume_state(run.last_path, {
        "epoch": epoch + 1, "model": tr.model.state_dict(), "optimizer": tr.step.optimizer.state_dict(),
        "scaler": tr.step.scaler.state_dict(), "best_val_acc": run.best_val, "best_epoch": run.best_epoch,
        "history": [json.dumps(r) for r in run.history], "config": tr.config_json})


def _replan(tr: Trainer, epochs_done: int, epoch_seconds: float, val_seconds: float) -> None:
    """Keep back the test pass (scaled from validation), then fit the remaining epochs to the budget."""
    t, data = tr.cfg.trainer, tr.data
    if t.test_after_training and data.test is not None:
        passes = 1 + len(t.test_noise_snr)
        tr.budget.reserve_seconds = 10 + val_seconds * passes * len(data.test.labels) / max(1, len(data.validation.labels))
    tr.budget.after_epoch(epochs_done, epoch_seconds)
    tr.total_steps = _agree_min(tr.budget.total_steps(), tr.dist, tr.device)
    tr.budget.planned_epochs = tr.total_steps // tr.steps_per_epoch


def finish_run(tr: Trainer, run: Run, stop: StopFlag, t_begin: float, t_start: float) -> dict:
    """Summary; on a completed run the best checkpoint scored on the test split, and the plots."""
    dist = tr.dist
    summary = {"status": run.status, "best_val_acc": run.best_val, "best_epoch": run.best_epoch,
               "parameters": tr.n_params, "precision": tr.step.precision_name(), "epochs_completed": len(run.history),
               "train_seconds": time.perf_counter() - t_start, "best_checkpoint": str(run.best_path),
               "last_checkpoint": str(run.last_path), "output_dir": str(run.out_dir)}
    if tr.budget is not None:
        summary["budget"] = tr.budget.summary(len(run.history))
        if dist.is_main:
            log.info("time budget %g min: %d epochs", tr.budget.minutes, len(run.history))
    if run.status == "interrupted":
        return _interrupted(summary, stop, run, dist)
    if dist.is_main and tr.data.test is not None and run.best_path.exists():
        summary.update(_test_report(tr, run))
    if dist.is_main:
        from speechseq.plots import plot_training_curves

        if tr.runlog.metrics_path.exists():
            plot_training_curves(tr.runlog.metrics_path, run.out_dir / "training_curves.png")
        summary["run_seconds"] = time.perf_counter() - t_begin
        atomic_write_text(run.out_dir / "summary.json", json.dumps(summary, indent=2))
    return summary


def _test_report(tr: Trainer, run: Run) -> dict:
    t, device = tr.cfg.trainer, tr.device
    loaded = load_inference(run.best_path, map_location=device)
    report = score_split(loaded, tr.data.test, tr.data.noise, device, t.eval_batch_size, tr.cfg.data.seed,
                         progress=t.progress)
    add_noise_scores(report, loaded, tr.data.test, tr.data.noise, t.test_noise_snr, device, t.eval_batch_size,
                     tr.cfg.data.seed, progress=t.progress)
    report.update({"checkpoint": str(run.best_path), "epoch": run.best_epoch})
    write_report(report, run.out_dir, name="test_report")
    print_scores(report, label="test accuracy")
    extra = {"test_acc": report["accuracy"], "test_n": report["n"]}
    if report.get("noise"):
        extra["test_noise"] = {str(r["snr_db"]): r["accuracy"] for r in report["noise"]}
    return extra


def _interrupted(summary: dict, stop: StopFlag, run: Run, dist: DistInfo) -> dict:
    sig = stop.signal or signal.SIGTERM  # under DDP a rank may stop because another rank got the signal
    if dist.is_main:
        name = signal.Signals(sig).name
        if run.last_path.exists():
            log.warning("stopped by %s; epochs 1-%d are saved: resume with trainer.resume=%s", name,
                        len(run.history), run.last_path)
        else:
            log.warning("stopped by %s before the first epoch ended; nothing to resume", name)
    summary["signal"] = int(sig)
    return summary


def train(cfg: DictConfig) -> dict:
    """Train per `cfg`; returns a summary (best validation accuracy, test accuracy, paths, ...)."""
    t_begin = time.perf_counter()  # a time budget counts from here: data loading is part of it
    dist, device, run = start_run(cfg)
    data = prepare_data(cfg, frontend_spec(cfg), load_test=cfg.trainer.test_after_training)
    if dist.is_main:
        atomic_write_text(run.out_dir / "data_report.json", json.dumps(data.report, indent=2))
    tr = build_trainer(cfg, dist, device, data, run, t_begin)
    t_start = time.perf_counter()
    # inside the loop all data is in memory: an OSError is a failed write of the run's outputs
    with StopFlag() as stop, explain_write_failure(run.last_path):
        epoch = run.start_epoch
        while epoch < tr.planned_epochs():
            t_epoch = time.perf_counter()
            stats, stopped = train_epoch(tr, run, epoch, stop)
            if stopped == "budget":
                break  # out of time inside an epoch: keep what is validated, go to the test pass
            if stopped == "signal" or _stop_agreed(stop, dist, device):
                run.status = "interrupted"
                break
            end_epoch(tr, run, epoch, stats, t_epoch)
            epoch += 1
        if stop:  # a signal during the last epoch's validation: saved, but skip the test pass too
            run.status = "interrupted"
    tr.runlog.close()
    dump_rank_weights(tr.model, dist)
    return finish_run(tr, run, stop, t_begin, t_start)


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


def _agree_min(value: int, dist: DistInfo, device: torch.device) -> int:
    """The smallest of the ranks' values (ranks time themselves; all must plan the same steps)."""
    if not dist.enabled:
        return int(value)
    return -int(all_reduce_(torch.tensor([-int(value)], device=device), dist, op="max").item())


def _stop_agreed(stop: StopFlag, dist: DistInfo, device: torch.device) -> bool:
    """Alone: whether a signal came. Under DDP: whether any rank got one (all must stop at the same step)."""
    return _any_rank(bool(stop), dist, device)


def _stop_now(stop: StopFlag, step: int, every: int, dist: DistInfo, device: torch.device) -> bool:
    # Under DDP the ranks agree every `every` steps (one tiny all-reduce), not every step.
    if not dist.enabled:
        return bool(stop)
    return step % every == 0 and _stop_agreed(stop, dist, device)


def _out_of_time(tr: Trainer, step: int) -> bool:
    if tr.budget is None:
        return False
    if not tr.dist.enabled:
        return tr.budget.must_stop()
    return step % tr.cfg.trainer.log_every == 0 and _any_rank(tr.budget.must_stop(), tr.dist, tr.device)


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
