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
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from speechseq.cli import hydra_entry, run_guarded
from speechseq.data.batches import batch_indices
from speechseq.deploy.checkpoint import save_inference, save_resume_state
from speechseq.evaluation.inference import predict_split
from speechseq.evaluation.reverb import banks_to_simulate
from speechseq.fsutil import (
    OutputWriteError,
    atomic_write_text,
)
from speechseq.progress import Progress, bars_allowed
from speechseq.training.data import (  # noqa: F401  (re-exported: bench and tests import them from here)
    TrainingData,
    fit_normalization,
    frontend_spec,
    load_data_split,
    model_spec,
    open_dataset,
    prepare_data,
)
from speechseq.training.distributed import (
    StopFlag,
    dump_rank_weights,
    shutdown_distributed,
)
from speechseq.training.feed import epoch_generator, feature_batches
from speechseq.training.finish import finish_run
from speechseq.training.run_log import RunLogger  # noqa: F401  (tests patch it here)
from speechseq.training.selection import score_of, validation_scores
from speechseq.training.setup import Run, Trainer, build_trainer, start_run
from speechseq.training.step import (  # noqa: F401  (re-exported)
    NonFiniteLossError,
    NonFiniteWatch,
    TrainStep,
    amp_settings,
    learning_rate,
)
from speechseq.training.sync import (
    agree_min,
    any_rank,
    epoch_means,
    stop_agreed,
    stop_now,
)

log = logging.getLogger(__name__)


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
    generator = epoch_generator(t.seed, epoch, dist.rank, device)
    with feature_batches(tr.step, tr.source, batches, generator, tr.prefetch) as feed:
        # Off a terminal the bar stays silent: end_epoch logs the epoch's one line.
        bar = Progress(feed, total=tr.steps_per_epoch, desc=f"epoch {epoch + 1}/{tr.planned_epochs()}",
                       unit="step", enabled=t.progress and dist.is_main, line_off_terminal=False)
        stopped = None
        for i, (feats, labels, weights, soft) in enumerate(bar):
            if stop_now(stop, i, t.log_every, dist, device):
                stopped = "signal"
                break
            if _out_of_time(tr, i):
                stopped = "budget"
                break
            if tr.budget is not None and epoch == run.start_epoch and i == tr.budget.probe_steps:
                tr.budget.after_probe(probe_start)
                tr.total_steps = agree_min(tr.budget.total_steps(), dist, device)
            global_step = epoch * tr.steps_per_epoch + i
            lr = learning_rate(global_step, tr.total_steps, tr.cfg.optim)
            tr.step.set_lr(lr)
            loss, logits = tr.step.update(feats, labels, weights, soft)
            if tr.average is not None:
                tr.average.update(tr.model)
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
    if not any_rank(tr.nonfinite.fatal(value), tr.dist, tr.device):
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
    train_loss, train_acc = epoch_means(loss_sum, correct, seen, tr.dist, tr.device)
    t_val = time.perf_counter()
    targets, probs = predict_split(tr.eval_model, tr.frontend, tr.val_split, tr.val_indices, tr.val_noise,
                                   tr.cfg.trainer.eval_batch_size, tr.device, seed=tr.cfg.data.seed)
    val_seconds = time.perf_counter() - t_val
    val = validation_scores(targets, probs, tr.data.label_set.names)
    row = {"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc, **val,
           "lr": lr, "epoch_seconds": time.perf_counter() - t_epoch}
    run.history.append(row)
    score = score_of(row, tr.cfg.trainer.select_on)
    improved = score > run.best_val
    if improved:
        run.best_val, run.best_epoch = score, epoch + 1
    if tr.budget is not None:
        _replan(tr, epoch + 1, row["epoch_seconds"], val_seconds)
    if not tr.dist.is_main:
        return
    tr.runlog.epoch(row)
    chosen_loss = f"  val loss {val['val_balanced_loss']:.4f}" if tr.cfg.trainer.select_on == "loss" else ""
    log.info("epoch %d/%d  loss %.4f  train acc %.4f  val acc %.4f  balanced %.4f%s%s  (%.1f s)", epoch + 1,
             tr.planned_epochs(), train_loss, train_acc, val["val_acc"], val["val_balanced_acc"], chosen_loss,
             "  *best*" if improved else "", row["epoch_seconds"])
    if improved:
        save_inference(run.best_path, tr.eval_model, tr.data.label_set.names, tr.data.spec, extra={
            "epoch": epoch + 1, "metrics": {"val_acc": val["val_acc"], "val_balanced_acc": val["val_balanced_acc"],
                                            "train_acc": train_acc},
            "parameters": tr.n_params, "config": inference_config(tr.config_json)})
    state = {"epoch": epoch + 1, "model": tr.model.state_dict(), "optimizer": tr.step.optimizer.state_dict(),
             "scaler": tr.step.scaler.state_dict(), "best_epoch": run.best_epoch, "select_on": tr.cfg.trainer.select_on,
             "best_val_acc": run.best_val,  # the best epoch's figure by select_on (the key is older than it)
             "history": [json.dumps(r) for r in run.history], "config": tr.config_json}
    if tr.average is not None:
        state["ema"] = tr.average.state_dict()
    save_resume_state(run.last_path, state)


def inference_config(config_json: str) -> dict:
    """The run's settings as best.safetensors keeps them: without `paths` (this machine's run folder),
    since the checkpoint travels (into speechseq/pretrained/, to other machines) and its folder does not."""
    config = json.loads(config_json)
    config.pop("paths", None)
    return config


# Simulating the 200 rooms of one test RT60 took 22-44 s on the shared 2-core CPU (evaluation/reverb.py);
# cached afterwards, so later runs keep back time they do not need.
TEST_ROOMS_SECONDS = 45.0


def calibration_seconds(c: DictConfig) -> float:
    """What the end-of-run calibration costs: ~55 s for 600 s of streams on a 2-core CPU (posteriors
    and the threshold sweeps; training/calibration.py), so 10 s + 8% of the streams' length."""
    if not c.enabled:
        return 0.0
    takes = int(c.get("takes", 1)) + int(c.get("plain_takes", 0) or 0)  # plain ones only beside open-world ones
    return 10.0 + 0.08 * c.seconds * (2 if c.rooms else 1) * takes


def _replan(tr: Trainer, epochs_done: int, epoch_seconds: float, val_seconds: float) -> None:
    """Keep back the test pass (scaled from validation), then fit the remaining epochs to the budget."""
    t, data = tr.cfg.trainer, tr.data
    reserve = calibration_seconds(tr.cfg.calibration)
    if t.test_after_training and data.test is not None:
        passes = (1 + len(t.test_noise_snr)) * (1 + len(t.test_reverb_rt60))
        reserve += 10 + val_seconds * passes * len(data.test.labels) / max(1, len(data.validation.labels))
        # the rooms are simulated on a first run only
        reserve += TEST_ROOMS_SECONDS * banks_to_simulate(t.test_reverb_rt60, tr.cfg.data.cache_dir, tr.cfg.data.seed,
                                                          sample_rate=data.spec.sample_rate,
                                                          clip_samples=data.test.waves.shape[1])
    if reserve:
        tr.budget.reserve_seconds = reserve
    tr.budget.after_epoch(epochs_done, epoch_seconds)
    tr.total_steps = agree_min(tr.budget.total_steps(), tr.dist, tr.device)
    tr.budget.planned_epochs = tr.total_steps // tr.steps_per_epoch


def train(cfg: DictConfig) -> dict:
    """Train per `cfg`; returns a summary (best validation accuracy, test accuracy, paths, ...)."""
    with bars_allowed(cfg.trainer.progress):  # progress=false: plain lines, also from decoding and rooms
        return _train(cfg)


def _train(cfg: DictConfig) -> dict:
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
            if stopped == "signal" or stop_agreed(stop, dist, device):
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
    except OSError as exc:
        kept = (f"the previous checkpoint {last_path} is intact: free space, then resume with "
                f"trainer.resume={last_path}" if last_path.exists() else "no checkpoint had been written yet")
        if isinstance(exc, OutputWriteError):  # already says which file and why
            raise OutputWriteError(f"{exc}; {kept}") from None
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        raise OutputWriteError(f"could not write the run's outputs: {exc.strerror or exc}{where}; {kept}") from None


def _out_of_time(tr: Trainer, step: int) -> bool:
    if tr.budget is None:
        return False
    if not tr.dist.enabled:
        return tr.budget.must_stop()
    return step % tr.cfg.trainer.log_every == 0 and any_rank(tr.budget.must_stop(), tr.dist, tr.device)


@hydra_entry("train")
def main(cfg: DictConfig) -> float | None:
    """Returns the best epoch's validation figure (trainer.select_on): the objective Hydra's Optuna sweeper maximises."""
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
    return result.get("best_val_score")


if __name__ == "__main__":
    main()
