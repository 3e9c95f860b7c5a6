"""The end of a run: the summary, the best checkpoint scored on the test split, the plots."""

from __future__ import annotations

import json
import logging
import signal
import time

from speechseq.deploy.checkpoint import load_inference
from speechseq.evaluation.evaluate import (
    add_noise_scores,
    print_scores,
    score_split,
    write_report,
)
from speechseq.evaluation.reverb import add_reverb_scores
from speechseq.fsutil import atomic_write_text
from speechseq.training.calibration import calibrate_after_training
from speechseq.training.distributed import DistInfo, StopFlag
from speechseq.training.selection import best_summary, validation_counts
from speechseq.training.setup import Run, Trainer

log = logging.getLogger("speechseq.training.train")


def finish_run(tr: Trainer, run: Run, stop: StopFlag, t_begin: float, t_start: float) -> dict:
    """Summary; on a completed run the best checkpoint scored on the test split, and the plots."""
    dist = tr.dist
    summary = {"status": run.status, **best_summary(run.history, run.best_epoch, tr.cfg.trainer.select_on),
               **validation_counts(tr.val_split, tr.val_indices), "best_epoch": run.best_epoch,
               "parameters": tr.n_params, "precision": tr.step.precision_name(), "epochs_completed": len(run.history),
               "train_seconds": time.perf_counter() - t_start, "best_checkpoint": str(run.best_path),
               "last_checkpoint": str(run.last_path), "output_dir": str(run.out_dir)}
    if tr.budget is not None:
        summary["budget"] = tr.budget.summary(len(run.history))
        if dist.is_main:
            log.info("time budget %g min: %d epochs", tr.budget.minutes, len(run.history))
    if run.status == "interrupted":
        summary = _interrupted(summary, stop, run, dist)
        if dist.is_main:
            print_run_paths(run)
        return summary
    if dist.is_main and tr.cfg.calibration.enabled and run.best_path.exists() and tr.data.index is not None:
        record = calibrate_after_training(tr.cfg, run.best_path, tr.data.index, tr.data.label_set, run.out_dir)
        summary["calibration"] = {"settings": record["settings"], "validation": record["validation"]}
    if dist.is_main and tr.data.test is not None and run.best_path.exists():
        summary.update(_test_report(tr, run))
    if dist.is_main:
        from speechseq.evaluation.plots import plot_training_curves

        if tr.runlog.metrics_path.exists():
            plot_training_curves(tr.runlog.metrics_path, run.out_dir / "training_curves.png")
        summary["run_seconds"] = time.perf_counter() - t_begin
        atomic_write_text(run.out_dir / "summary.json", json.dumps(summary, indent=2))
        print_run_paths(run)
    return summary


def print_run_paths(run: Run) -> None:
    """The run's last words: where its files are, and the checkpoint to evaluate, export or stream."""
    best = run.best_path if run.best_path.exists() else "none (no epoch finished)"
    print(f"run folder: {run.out_dir}", flush=True)
    print(f"best checkpoint: {best}", flush=True)


def _test_report(tr: Trainer, run: Run) -> dict:
    t, device = tr.cfg.trainer, tr.device
    loaded = load_inference(run.best_path, map_location=device)
    report = score_split(loaded, tr.data.test, tr.data.noise, device, t.eval_batch_size, tr.cfg.data.seed,
                         progress=t.progress)
    add_noise_scores(report, loaded, tr.data.test, tr.data.noise, t.test_noise_snr, device, t.eval_batch_size,
                     tr.cfg.data.seed, progress=t.progress)
    add_reverb_scores(report, loaded, tr.data.test, tr.data.noise, t.test_reverb_rt60, snrs=t.test_noise_snr,
                      device=device, batch_size=t.eval_batch_size, seed=tr.cfg.data.seed, progress=t.progress,
                      cache_dir=tr.cfg.data.cache_dir)
    report.update({"checkpoint": str(run.best_path), "epoch": run.best_epoch})
    write_report(report, run.out_dir, name="test_report")
    print_scores(report, label="test accuracy")
    extra = {"test_acc": report["accuracy"], "test_balanced_acc": report["balanced_accuracy"],
             "test_balanced_ci": report["balanced_accuracy_ci"], "test_n": report["n"],
             "test_speakers": report.get("speakers")}
    if report.get("noise"):
        extra["test_noise"] = {str(r["snr_db"]): r["accuracy"] for r in report["noise"]}
    if report.get("reverb"):
        extra["test_reverb"] = [{k: r[k] for k in ("rt60_s", "snr_db", "accuracy")} for r in report["reverb"]]
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
