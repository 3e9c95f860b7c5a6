"""Integration: train on the synthetic folder, then evaluate, through the plain functions."""

import json

import pytest
import torch
from safetensors.torch import load_file

from speechseq.evaluation.evaluate import evaluate
from speechseq.training.train import train
from tests.conftest import compose_config


@pytest.fixture(scope="module")
def trained(synthetic_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trained")
    from tests.conftest import tiny_train_overrides

    cfg = compose_config("train", tiny_train_overrides(synthetic_root, tmp / "cache", epochs=4), tmp / "run")
    return cfg, train(cfg)


def test_loss_falls_and_outputs_are_written(trained):
    cfg, summary = trained
    out = summary["output_dir"]
    rows = [json.loads(line) for line in open(f"{out}/metrics.jsonl")]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] * 0.8
    assert summary["best_val_acc"] > 1 / 12 * 2  # well above chance on the synthetic tones
    # the best checkpoint is the first epoch with the best class-balanced validation accuracy
    balanced = [r["val_balanced_acc"] for r in rows]
    assert summary["select_on"] == "balanced_accuracy" and summary["best_epoch"] == 1 + balanced.index(max(balanced))
    assert summary["best_val_balanced_acc"] == summary["best_val_score"] == max(balanced)
    assert summary["val_n"] > 0 and 0 < summary["val_speakers"] <= summary["val_n"]
    for name in ("checkpoints/best.safetensors", "checkpoints/last.pt", "test_report.json", "data_report.json",
                 "training_curves.png", "test_report_confusion.png", "summary.json"):
        assert (summary["output_dir"] / __import__("pathlib").Path(name)).exists(), name
    assert list((__import__("pathlib").Path(out) / "tb").glob("events.out.tfevents.*"))


def test_eval_writes_a_report_with_the_promised_fields(trained, tmp_path, capsys):
    cfg, summary = trained
    ecfg = compose_config("eval", [f"checkpoint={summary['best_checkpoint']}", f"data.root={cfg.data.root}",
                                   f"data.cache_dir={cfg.data.cache_dir}", "device=cpu"], tmp_path)
    report = evaluate(ecfg)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["accuracy"] == pytest.approx(report["accuracy"])
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix", "n", "balanced_accuracy", "balanced_accuracy_ci",
            "speakers"} <= saved.keys()
    assert all({"recall_ci", "speakers"} <= m.keys() for m in saved["per_class"].values())
    cm = saved["confusion_matrix"]
    assert sum(map(sum, cm["matrix"])) == saved["n"] and len(cm["labels"]) == 12
    assert (tmp_path / "confusion.png").stat().st_size > 1000
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == f"accuracy {report['accuracy']:.4f} (n={report['n']})"
    assert printed[-2].startswith(f"class-balanced accuracy {report['balanced_accuracy']:.4f} (95% CI ")
    # the test split is scored the same at the end of training and by speechseq-eval
    assert report["accuracy"] == pytest.approx(summary["test_acc"])
    assert report["balanced_accuracy"] == pytest.approx(summary["test_balanced_acc"])


def test_validation_split_is_available(trained, tmp_path):
    cfg, summary = trained
    ecfg = compose_config("eval", [f"checkpoint={summary['best_checkpoint']}", f"data.root={cfg.data.root}",
                                   "split=validation", "data.cache_dir=null", "plots=false"], tmp_path)
    assert evaluate(ecfg)["split"] == "validation"


def test_same_seed_same_weights(synthetic_root, tmp_path):
    from tests.conftest import tiny_train_overrides

    weights = []
    for run in ("a", "b"):
        cfg = compose_config("train", tiny_train_overrides(synthetic_root, tmp_path / "cache", epochs=1)
                             + ["trainer.test_after_training=false"], tmp_path / run)
        weights.append(load_file(str(train(cfg)["best_checkpoint"])))
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_sigint_then_resume_matches_an_uninterrupted_run(synthetic_root, tmp_path, monkeypatch):
    import os
    import signal

    import speechseq.training.train as train_mod
    from tests.conftest import tiny_train_overrides

    # with the weight average on: it is resumed too, and it is what is validated
    base = tiny_train_overrides(synthetic_root, tmp_path / "cache", epochs=3) + ["trainer.test_after_training=false",
                                                                                  "optim.ema_decay=0.9"]
    full = train(compose_config("train", base, tmp_path / "full"))

    real_epoch = train_mod.RunLogger.epoch

    def epoch_then_sigint(self, row):
        real_epoch(self, row)
        if row["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(train_mod.RunLogger, "epoch", epoch_then_sigint)
    part = train(compose_config("train", base, tmp_path / "part"))
    monkeypatch.setattr(train_mod.RunLogger, "epoch", real_epoch)
    assert part["status"] == "interrupted" and part["signal"] == signal.SIGINT
    assert torch.load(part["last_checkpoint"], weights_only=True)["epoch"] == 2

    resumed = train(compose_config("train", base + [f"trainer.resume={part['last_checkpoint']}"], tmp_path / "other"))
    assert resumed["status"] == "completed" and resumed["output_dir"] == part["output_dir"]
    a = torch.load(full["last_checkpoint"], weights_only=True)
    b = torch.load(resumed["last_checkpoint"], weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["ema"]["updates"] == b["ema"]["updates"] > 0
    assert all(torch.equal(a["ema"]["weights"][k], b["ema"]["weights"][k]) for k in a["ema"]["weights"])
    rows = [json.loads(x) for x in open(f"{resumed['output_dir']}/metrics.jsonl")]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    full_rows = [json.loads(x) for x in open(f"{full['output_dir']}/metrics.jsonl")]
    assert rows[-1]["val_acc"] == full_rows[-1]["val_acc"]


def test_eval_on_the_official_testset_layout(trained, tmp_path):
    """Folders <word>/, _unknown_/, _silence_/ and no lists: labels come from the folder names."""
    import shutil

    import numpy as np
    import soundfile as sf

    cfg, summary = trained
    src = __import__("pathlib").Path(cfg.data.root)
    root = tmp_path / "speech_commands_test_set_v0.02"
    from speechseq.labels import COMMANDS_10

    for word in COMMANDS_10:
        shutil.copytree(src / word, root / word)
    (root / "_unknown_").mkdir()
    for i, wav in enumerate(sorted((src / "cat").glob("*.wav"))[:4]):
        shutil.copy(wav, root / "_unknown_" / f"cat{i}_nohash_0.wav")
    (root / "_silence_").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        sf.write(root / "_silence_" / f"silence{i}_nohash_0.wav", rng.normal(0, 0.01, 16000).astype(np.float32), 16000)
    n_expected = sum(1 for _ in root.glob("*/*.wav"))
    for layout in ("auto", "testset"):
        ecfg = compose_config("eval", [f"checkpoint={summary['best_checkpoint']}", f"data.root={root}",
                                       f"data.layout={layout}", "data.cache_dir=null", "plots=false"], tmp_path / layout)
        report = evaluate(ecfg)
        assert report["layout"] == "testset" and report["n"] == n_expected
        support = {k: v["support"] for k, v in report["per_class"].items()}
        assert support["_silence_"] == 3 and support["_unknown_"] == 4 and support["yes"] == 10
