"""speechseq.training.aggregate: mean and spread of a multirun's clean and per-SNR test accuracy."""

import json

import pytest

from speechseq.training.aggregate import aggregate, find_runs, main, run_metrics


def _run(folder, val, clean, noisy):
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"best_val_acc": val, "epochs_completed": 3, "run_seconds": 10.0}))
    (folder / "test_report.json").write_text(json.dumps(
        {"accuracy": clean, "noise": [{"snr_db": snr, "accuracy": acc} for snr, acc in noisy.items()]}))


def test_aggregate_reads_every_run_and_gives_mean_and_spread(tmp_path, capsys):
    _run(tmp_path / "0", 0.8, 0.90, {10.0: 0.80, 0.0: 0.60})
    _run(tmp_path / "1", 0.9, 0.94, {10.0: 0.84, 0.0: 0.70})
    (tmp_path / "2").mkdir()  # a run that never finished: no summary, left out
    assert [p.name for p in find_runs([tmp_path])] == ["0", "1"]
    stats = aggregate([run_metrics(p) for p in find_runs([tmp_path])])
    assert stats["test_clean"]["mean"] == pytest.approx(0.92)
    assert stats["test_clean"]["std"] == pytest.approx(0.028284, abs=1e-5)  # sample std (ddof=1)
    assert stats["test_0dB"]["min"] == 0.6 and stats["test_0dB"]["max"] == 0.7 and stats["test_10dB"]["n"] == 2
    assert main([str(tmp_path)]) == 0
    assert "test_0dB" in capsys.readouterr().out
    saved = json.loads((tmp_path / "aggregate.json").read_text())
    assert len(saved["runs"]) == 2 and saved["stats"]["best_val_acc"]["mean"] == pytest.approx(0.85)


def test_aggregate_gives_the_class_balanced_figures_and_reads_runs_from_before_them(tmp_path, capsys):
    _run(tmp_path / "old", 0.8, 0.90, {10.0: 0.80})  # no balanced figures, chosen on plain accuracy
    new = tmp_path / "new"
    new.mkdir()
    (new / "summary.json").write_text(json.dumps({"best_val_acc": 0.9, "best_val_balanced_acc": 0.85,
                                                  "select_on": "balanced_accuracy", "epochs_completed": 3}))
    (new / "test_report.json").write_text(json.dumps(
        {"accuracy": 0.94, "balanced_accuracy": 0.91, "noise": [{"snr_db": 10.0, "accuracy": 0.84,
                                                                  "balanced_accuracy": 0.8}]}))
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 run(s), best epoch chosen on validation accuracy / balanced_accuracy" in out
    stats = json.loads((tmp_path / "aggregate.json").read_text())["stats"]
    assert stats["best_val_balanced_acc"] == {"mean": 0.85, "std": 0.0, "min": 0.85, "max": 0.85, "n": 1}
    assert stats["test_balanced"]["mean"] == 0.91 and stats["test_balanced_10dB"]["mean"] == 0.8
    assert stats["test_clean"]["n"] == 2 and "select_on" not in stats


def test_no_finished_runs_is_one_clear_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "no finished runs" in capsys.readouterr().err
