"""Hyper-parameter search through Hydra's Optuna sweeper, on the synthetic folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from speechseq.training.train import main as train_main

pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="pip install 'speechseq[sweep]'")


def test_train_main_returns_the_objective(train_cfg, tmp_path):
    """The Optuna sweeper maximises whatever the @hydra.main function returns."""
    cfg = train_cfg("trainer.test_after_training=false", epochs=1)
    value = train_main.__wrapped__(cfg)  # the function under @hydra.main, as a sweeper's job calls it
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    # the best epoch's figure by trainer.select_on (class-balanced validation accuracy by default)
    assert isinstance(value, float) and value == summary["best_val_score"] == summary["best_val_balanced_acc"]


@pytest.mark.slow
def test_optuna_sweep_runs_trials_and_reports_the_best(synthetic_root, tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "speechseq.training.train", "-m", "hparams_search=mini_optuna", "experiment=mini",
         f"data.root={synthetic_root}", "openworld.root=null", "openworld.tts_clips=0", "data.tts_command_takes=0", f"data.cache_dir={tmp_path / 'cache'}", "trainer.max_epochs=1",
         "trainer.device=cpu", "model.num_layers=1", "model.hidden_size=choice(8,16)",
         "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={sweep_dir}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert set(result["best_params"]) == {"model.hidden_size", "optim.lr", "model.dropout", "augment.noise_prob"}
    assert result["best_params"]["model.hidden_size"] in (8, 16)
    assert 0.0005 <= result["best_params"]["optim.lr"] <= 0.01
    trials = sorted(p.name for p in sweep_dir.glob("trial_*"))
    assert trials == ["trial_0", "trial_1"]
    best = max(yaml.safe_load(open(sweep_dir / t / "summary.json"))["best_val_score"] for t in trials)
    assert result["best_value"] == pytest.approx(best)
    assert not (sweep_dir / "trial_0" / "test_report.json").exists()  # chosen on validation only
