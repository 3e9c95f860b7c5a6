"""trainer.max_minutes: the plan follows measured times, and a budgeted run ends inside its budget."""

import json
from pathlib import Path

from speechseq.training.budget import TimeBudget
from speechseq.training.train import train


def test_plan_from_the_probe_then_from_whole_epochs():
    b = TimeBudget(minutes=1.0, steps_per_epoch=100, reserve_seconds=6.0, probe_steps=10, val_guess=0.2, start=0.0)
    # 10 steps in 0.5 s -> 0.05 s/step -> 6 s per epoch with validation; (60 - 1 - 6 + 0.5) / 6 -> 8
    assert b.after_probe(probe_started=0.5, now=1.0) == 8
    assert b.total_steps() == 800
    # 3 epochs done at 30 s, 9 s each -> (60 - 30 - 6) / 9 = 2 more
    assert b.after_epoch(3, 9.0, now=30.0) == 5
    # past the deadline the plan never drops below what is done
    assert b.after_epoch(6, 9.0, now=59.0) == 6
    assert not b.must_stop(now=53.0) and b.must_stop(now=54.5)


def test_max_epochs_caps_the_plan():
    b = TimeBudget(minutes=1.0, steps_per_epoch=100, reserve_seconds=6.0, probe_steps=10, val_guess=0.2, start=0.0,
                   max_epochs=5)
    assert b.after_probe(probe_started=0.5, now=1.0) == 5  # 8 would fit
    assert b.after_epoch(1, 3.0, now=4.0) == 5
    assert b.after_epoch(3, 9.0, now=30.0) == 5  # exactly what fits
    assert b.after_epoch(4, 9.0, now=47.0) == 4  # no more fit now
    assert b.summary(4)["max_epochs"] == 5


def test_a_budget_that_fits_max_epochs_gives_the_fixed_epoch_run(train_cfg, tmp_path):
    import torch
    from safetensors.torch import load_file

    def run(name, *extra):
        summary = train(train_cfg(*extra, "trainer.test_after_training=false", epochs=3, out=tmp_path / name))
        out = Path(summary["output_dir"])
        rows = [json.loads(line) for line in open(out / "metrics.jsonl")]
        return summary, rows, load_file(str(out / "checkpoints" / "best.safetensors"))

    fixed, fixed_rows, fixed_weights = run("fixed")
    budgeted, budgeted_rows, budgeted_weights = run("budgeted", "trainer.max_minutes=30")
    assert budgeted["epochs_completed"] == fixed["epochs_completed"] == 3
    assert budgeted["budget"]["planned_epochs"] == 3
    assert [r["lr"] for r in budgeted_rows] == [r["lr"] for r in fixed_rows]
    assert [r["train_loss"] for r in budgeted_rows] == [r["train_loss"] for r in fixed_rows]
    assert fixed_weights.keys() == budgeted_weights.keys()
    assert all(torch.equal(fixed_weights[k], budgeted_weights[k]) for k in fixed_weights)


def test_budget_stops_a_tiny_run_on_time_with_best_checkpoint_and_report(train_cfg, tmp_path):
    minutes = 0.3
    cfg = train_cfg(f"trainer.max_minutes={minutes}", "trainer.test_noise_snr=[10,0]", epochs=500)
    summary = train(cfg)
    out = Path(summary["output_dir"])
    assert summary["status"] == "completed"
    assert 2 <= summary["epochs_completed"] < 500  # the budget, not max_epochs, decided
    assert summary["budget"]["epochs"] == summary["epochs_completed"]
    assert summary["run_seconds"] <= minutes * 60 + 5  # ends inside the budget (a little slack for the last write)
    assert (out / "checkpoints" / "best.safetensors").is_file()
    report = json.loads((out / "test_report.json").read_text())
    assert [r["snr_db"] for r in report["noise"]] == [10.0, 0.0]
    assert (out / "test_report_noise.png").is_file()
    rows = [json.loads(line) for line in open(out / "metrics.jsonl")]
    assert len(rows) == summary["epochs_completed"]
    assert rows[-1]["lr"] < rows[len(rows) // 2]["lr"]  # the cosine decay was fitted to the budget
