"""Faults during training: NaN loss, disk full, unwritable run folder, SIGTERM, kill -9.

Nothing is lost: the last good checkpoint always loads, and a run killed at a random moment
and resumed ends with exactly the weights of a run that never stopped (CPU, same seed).
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import speechseq.training.train as train_mod
from speechseq.fsutil import OutputWriteError
from speechseq.training.train import NonFiniteLossError, NonFiniteWatch, train
from tests.conftest import compose_config
from tests.console import run_script, start_script

TRAIN = "speechseq-train"


def overrides(root, cache, epochs, *extra):
    return [f"data.root={root}", f"data.cache_dir={cache}", f"trainer.max_epochs={epochs}",
            "trainer.batch_size=16", "trainer.device=cpu", "trainer.progress=false", "trainer.num_threads=1",
            "trainer.test_after_training=false", "model.hidden_size=16", "model.num_layers=1", "optim.lr=0.01",
            *extra]


def _temporaries(folder: Path) -> list[Path]:
    return list(folder.glob(".*.tmp"))


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(synthetic_root, tmp_path, monkeypatch):
    poisoned = {"on": False, "last_bytes": None}
    real_epoch = train_mod.RunLogger.epoch

    def epoch_then_poison(self, row):  # epoch 1 completes normally, then the loss turns NaN
        real_epoch(self, row)
        poisoned["on"] = True

    class PoisonedLoss(torch.nn.CrossEntropyLoss):
        def forward(self, logits, target):
            loss = super().forward(logits, target)
            if poisoned["on"] and poisoned["last_bytes"] is None:
                poisoned["last_bytes"] = (tmp_path / "run/checkpoints/last.pt").read_bytes()
            return loss * float("nan") if poisoned["on"] else loss

    monkeypatch.setattr(train_mod.RunLogger, "epoch", epoch_then_poison)
    monkeypatch.setattr(torch.nn, "CrossEntropyLoss", PoisonedLoss)
    cfg = compose_config("train", overrides(synthetic_root, tmp_path / "cache", 3), tmp_path / "run")
    with pytest.raises(NonFiniteLossError) as err:
        train(cfg)
    ckpt = tmp_path / "run/checkpoints"
    message = str(err.value)
    assert "loss became nan at epoch 2 step 1" in message and "optim.lr" in message
    assert str(ckpt / "last.pt") in message and str(ckpt / "best.safetensors") in message
    assert (ckpt / "last.pt").read_bytes() == poisoned["last_bytes"]  # untouched since epoch 1
    assert torch.load(ckpt / "last.pt", weights_only=True)["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in load_file(str(ckpt / "best.safetensors")).values())


def test_disk_full_while_saving_is_a_clear_error_and_the_previous_checkpoint_survives(synthetic_root, tmp_path,
                                                                                     monkeypatch):
    real_save, calls = torch.save, []

    def save_until_disk_full(obj, f, *args, **kwargs):
        calls.append(f)
        if len(calls) == 2:  # epoch 2's resume state: half written, then the disk is full
            Path(f).write_bytes(b"\x80\x02half a pickle")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_disk_full)
    args = overrides(synthetic_root, tmp_path / "cache", 2)
    with pytest.raises(OutputWriteError) as err:
        train(compose_config("train", args, tmp_path / "run"))
    last = tmp_path / "run/checkpoints/last.pt"
    assert "No space left on device" in str(err.value) and f"trainer.resume={last}" in str(err.value)
    assert torch.load(last, weights_only=True)["epoch"] == 1
    assert not _temporaries(last.parent)

    monkeypatch.setattr(torch, "save", real_save)  # space freed: the run resumes and finishes
    resumed = train(compose_config("train", args + [f"trainer.resume={last}"], tmp_path / "elsewhere"))
    assert resumed["status"] == "completed" and resumed["epochs_completed"] == 2
    assert resumed["output_dir"] == str(tmp_path / "run")


def test_unwritable_run_folder_fails_before_any_data_is_read(synthetic_root, tmp_path, monkeypatch):
    def no_data(*a, **k):
        raise AssertionError("data was read before the run folder was checked")

    monkeypatch.setattr(train_mod, "prepare_data", no_data)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the run folder should be")
    with pytest.raises(OutputWriteError, match="cannot write to the run folder .*hydra.run.dir"):
        train(compose_config("train", overrides(synthetic_root, tmp_path / "cache", 1), blocker))


def _wait_for(path: Path, proc, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"training exited ({proc.returncode}) before writing {path}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {path} after {timeout} s")
        time.sleep(0.02)


@pytest.mark.slow
def test_sigterm_saves_and_exits_cleanly_naming_the_resume_override(synthetic_root, tmp_path):
    run = tmp_path / "run"
    proc = start_script(TRAIN, *overrides(synthetic_root, tmp_path / "cache", 100), run_dir=run)
    last = run / "checkpoints/last.pt"
    _wait_for(last, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err  # the shell convention for "ended by SIGTERM"
    assert "stopped by SIGTERM" in out + err and f"trainer.resume={last}" in out + err
    assert "Traceback" not in err
    assert 1 <= torch.load(last, weights_only=True)["epoch"] < 100
    assert not _temporaries(last.parent)


@pytest.mark.slow
def test_kill_9_at_a_random_moment_then_resume_matches_an_uninterrupted_run(synthetic_root, tmp_path):
    epochs = 8
    # batch 8: 9 steps an epoch, so the 7 epochs left take well over the 0-0.3 s the kill waits
    args = overrides(synthetic_root, tmp_path / "cache", epochs, "trainer.batch_size=8")
    run = tmp_path / "run"
    proc = start_script(TRAIN, *args, run_dir=run)
    last = run / "checkpoints/last.pt"
    _wait_for(last, proc)
    delay = random.uniform(0.0, 0.3)
    time.sleep(delay)
    proc.kill()
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill ({delay=:.2f} s)"
    killed_after = torch.load(last, weights_only=True)["epoch"]  # loads: never half-written
    assert 1 <= killed_after < epochs, delay
    (last.parent / ".last.pt.k9xq2.tmp").write_bytes(b"half")  # what a kill during a write leaves

    res = run_script(TRAIN, *args, f"trainer.resume={last}", run_dir=tmp_path / "resume_hydra")
    assert res.returncode == 0, res.stderr
    assert f"resumed from {last} after epoch {killed_after}" in res.stdout + res.stderr
    assert not _temporaries(last.parent)
    rows = [json.loads(line) for line in open(run / "metrics.jsonl")]
    assert [r["epoch"] for r in rows] == list(range(1, epochs + 1))

    full = train(compose_config("train", args, tmp_path / "full"))
    a = torch.load(full["last_checkpoint"], weights_only=True)
    b = torch.load(last, weights_only=True)
    assert b["epoch"] == a["epoch"] == epochs
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"]), f"killed after {killed_after}"
    full_rows = [json.loads(line) for line in open(tmp_path / "full/metrics.jsonl")]
    assert [r["val_acc"] for r in rows] == [r["val_acc"] for r in full_rows]
    assert [r["train_loss"] for r in rows] == pytest.approx([r["train_loss"] for r in full_rows], abs=0)


def test_sigterm_during_the_last_validation_saves_and_leaves_the_test_pass_to_the_resume(synthetic_root, tmp_path,
                                                                                       monkeypatch):
    real_predict = train_mod.predict_split

    def predict_then_sigterm(*args, **kwargs):
        result = real_predict(*args, **kwargs)
        monkeypatch.setattr(train_mod, "predict_split", real_predict)
        os.kill(os.getpid(), signal.SIGTERM)  # caught by the training loop's StopFlag
        return result

    monkeypatch.setattr(train_mod, "predict_split", predict_then_sigterm)
    args = overrides(synthetic_root, tmp_path / "cache", 1, "trainer.test_after_training=true")
    summary = train(compose_config("train", args, tmp_path / "run"))
    assert summary["status"] == "interrupted" and summary["signal"] == signal.SIGTERM
    assert "test_acc" not in summary
    last = Path(summary["last_checkpoint"])
    assert torch.load(last, weights_only=True)["epoch"] == 1

    resumed = train(compose_config("train", args + [f"trainer.resume={last}"], tmp_path / "again"))
    assert resumed["status"] == "completed" and "test_acc" in resumed


def test_sigterm_in_the_first_epoch_says_there_is_nothing_to_resume(synthetic_root, tmp_path, monkeypatch, caplog):
    import speechseq.data.loader as loader_mod

    real_gather = loader_mod.gather_batch

    def gather_then_sigterm(*args, **kwargs):
        monkeypatch.setattr(loader_mod, "gather_batch", real_gather)
        os.kill(os.getpid(), signal.SIGTERM)
        return real_gather(*args, **kwargs)

    monkeypatch.setattr(loader_mod, "gather_batch", gather_then_sigterm)
    summary = train(compose_config("train", overrides(synthetic_root, tmp_path / "cache", 2), tmp_path / "run"))
    assert summary["status"] == "interrupted" and summary["epochs_completed"] == 0
    assert not Path(summary["last_checkpoint"]).exists()
    assert "before the first epoch ended; nothing to resume" in caplog.text


def test_non_finite_watch_is_fatal_at_once_without_a_scaler_and_after_a_streak_with_one():
    plain = NonFiniteWatch(scaler_enabled=False)
    assert not plain.fatal(1.0) and plain.fatal(float("nan"))
    scaled = NonFiniteWatch(scaler_enabled=True, patience=3)
    assert [scaled.fatal(v) for v in (float("inf"), float("nan"), 0.5)] == [False, False, False]
    assert [scaled.fatal(float("nan")) for _ in range(3)] == [False, False, True]  # the streak restarted
