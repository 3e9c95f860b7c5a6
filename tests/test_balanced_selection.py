"""trainer.select_on: the best epoch is chosen on class-balanced validation accuracy (or on plain accuracy),
logged beside plain accuracy, kept across a resume, and reported by training.aggregate."""

from __future__ import annotations

import json
import os
import signal

import pytest

import speechseq.training.train as train_mod
from speechseq.deploy.metadata import read_checkpoint_metadata
from speechseq.training.aggregate import aggregate, format_table, run_metrics
from speechseq.training.selection import resumed_best_score
from speechseq.training.train import train
from tests.conftest import compose_config, tiny_train_overrides

# (plain, class-balanced) validation accuracy of epochs 1-3: plain accuracy picks epoch 1, balanced epoch 2
SCRIPT = [(0.9, 0.5), (0.7, 0.8), (0.8, 0.6)]
LOSSES = [0.9, 0.6, 0.4]  # the class-balanced validation loss of epochs 1-3: select_on=loss picks epoch 3


@pytest.fixture
def scripted_validation(monkeypatch):
    """Each end of epoch validates for real, then reports the next figures of SCRIPT instead."""
    calls = []
    real = train_mod.validation_scores

    def scripted(targets, probs, labels):
        real(targets, probs, labels)
        acc, balanced = SCRIPT[len(calls)]
        calls.append(len(calls) + 1)
        return {"val_acc": acc, "val_balanced_acc": balanced, "val_balanced_ci": [balanced - 0.1, balanced + 0.1],
                "val_balanced_loss": LOSSES[len(calls) - 1]}

    monkeypatch.setattr(train_mod, "validation_scores", scripted)
    return calls


def _config(synthetic_root, tmp_path, run: str, *extra: str):
    overrides = tiny_train_overrides(synthetic_root, tmp_path / "cache", epochs=3) + ["trainer.test_after_training=false"]
    return compose_config("train", overrides + list(extra), tmp_path / run)


def _best_epoch_stored(summary: dict) -> int:
    return read_checkpoint_metadata(summary["best_checkpoint"], ValueError)["epoch"]


@pytest.mark.parametrize("select_on,best", [("balanced_accuracy", 2), ("accuracy", 1), ("loss", 3)])
def test_the_best_epoch_is_the_one_with_the_best_chosen_figure(synthetic_root, tmp_path, scripted_validation,
                                                                 select_on, best):
    summary = train(_config(synthetic_root, tmp_path, "run", f"trainer.select_on={select_on}"))
    assert summary["best_epoch"] == best and _best_epoch_stored(summary) == best
    assert (summary["best_val_acc"], summary["best_val_balanced_acc"]) == SCRIPT[best - 1]
    score = {"accuracy": SCRIPT[best - 1][0], "balanced_accuracy": SCRIPT[best - 1][1], "loss": -LOSSES[best - 1]}
    assert summary["best_val_score"] == score[select_on]   # higher is better: a loss negated
    assert summary["select_on"] == select_on
    meta = read_checkpoint_metadata(summary["best_checkpoint"], ValueError)
    assert meta["metrics"]["val_balanced_acc"] == SCRIPT[best - 1][1]
    rows = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    assert [(r["val_acc"], r["val_balanced_acc"]) for r in rows] == SCRIPT  # both logged every epoch
    assert [r["val_balanced_loss"] for r in rows] == LOSSES


def test_the_balanced_loss_weighs_each_class_alike():
    import numpy as np

    from speechseq.training.selection import balanced_loss, validation_scores

    # class 0: three clips at p = 0.5 for the truth; class 1: one clip at p = 0.25
    targets = np.array([0, 0, 0, 1])
    probs = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.75, 0.25]])
    assert balanced_loss(targets, probs) == pytest.approx((np.log(2) + np.log(4)) / 2)
    assert balanced_loss(np.array([0]), np.array([[0.0, 1.0]])) == pytest.approx(-np.log(1e-7))  # clipped, finite
    assert validation_scores(targets, probs, ["a", "b"])["val_balanced_loss"] == balanced_loss(targets, probs)


def test_the_balanced_figure_goes_to_tensorboard(synthetic_root, tmp_path, scripted_validation):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(_config(synthetic_root, tmp_path, "run"))
    events = EventAccumulator(str(tmp_path / "run" / "tb"))
    events.Reload()
    assert {"val_acc", "val_balanced_acc"} <= set(events.Tags()["scalars"])
    assert [round(e.value, 3) for e in events.Scalars("val_balanced_acc")] == [b for _, b in SCRIPT]


def _interrupt_after_epoch_2(monkeypatch):
    real_epoch = train_mod.RunLogger.epoch

    def epoch_then_sigint(self, row):
        real_epoch(self, row)
        if row["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(train_mod.RunLogger, "epoch", epoch_then_sigint)
    return real_epoch


@pytest.mark.parametrize("first,then,best", [
    ("balanced_accuracy", "balanced_accuracy", 2),  # epoch 3 (balanced 0.6) does not beat epoch 2 (0.8)
    # started on plain accuracy (best: epoch 1, balanced 0.5), resumed on balanced: epoch 3's 0.6 beats
    # the epoch whose weights best.safetensors holds
    ("accuracy", "balanced_accuracy", 3),
])
def test_resume_keeps_the_best_by_the_figure_of_the_run(synthetic_root, tmp_path, monkeypatch, scripted_validation,
                                                        first, then, best):
    real_epoch = _interrupt_after_epoch_2(monkeypatch)
    part = train(_config(synthetic_root, tmp_path, "part", f"trainer.select_on={first}"))
    monkeypatch.setattr(train_mod.RunLogger, "epoch", real_epoch)
    assert part["status"] == "interrupted"
    resumed = train(_config(synthetic_root, tmp_path, "other", f"trainer.select_on={then}",
                            f"trainer.resume={part['last_checkpoint']}"))
    assert resumed["status"] == "completed" and resumed["best_epoch"] == best and _best_epoch_stored(resumed) == best


def test_a_resumed_history_without_the_figure_lets_the_next_epoch_become_the_best():
    old = [{"epoch": 1, "val_acc": 0.9}, {"epoch": 2, "val_acc": 0.7}]  # saved before val_balanced_acc
    assert resumed_best_score(old, 1, "accuracy") == 0.9
    assert resumed_best_score(old, 1, "balanced_accuracy") == -1.0
    assert resumed_best_score([], -1, "balanced_accuracy") == -1.0


def test_aggregate_reports_the_balanced_figure_and_what_chose_the_epoch(synthetic_root, tmp_path, scripted_validation):
    runs = []
    for select_on in ("balanced_accuracy", "accuracy"):
        scripted_validation.clear()
        train(_config(synthetic_root, tmp_path, select_on, f"trainer.select_on={select_on}"))
        runs.append(run_metrics(tmp_path / select_on))
    stats = aggregate(runs)
    assert stats["best_val_balanced_acc"]["mean"] == pytest.approx((0.8 + 0.5) / 2)
    assert stats["best_val_acc"]["mean"] == pytest.approx((0.7 + 0.9) / 2)
    table = format_table(stats, 2, [r["select_on"] for r in runs])
    assert "chosen on validation accuracy / balanced_accuracy" in table and "best_val_balanced_acc" in table


def test_an_unknown_figure_is_one_config_line(synthetic_root, tmp_path):
    from speechseq.config import ConfigError, validate_train

    cfg = _config(synthetic_root, tmp_path, "run", "trainer.select_on=f1")
    with pytest.raises(ConfigError, match="trainer.select_on: 'f1' is not balanced_accuracy, accuracy or loss"):
        validate_train(cfg)
