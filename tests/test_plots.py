"""The pictures speechseq-eval writes: present, and actually drawn (not blank)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from speechseq.evaluation.evaluate import Predictions, pick_examples
from speechseq.evaluation.plots import plot_examples, plot_training_curves


def image_spread(path) -> float:
    """Standard deviation of the pixel values: a blank or single-colour image is ~0."""
    return float(np.asarray(Image.open(path).convert("L"), dtype=float).std())


def test_examples_picture_is_drawn(tmp_path):
    rng = np.random.default_rng(0)
    examples = [{"features": rng.normal(-5, 3, (97, 40)), "true": "yes", "pred": p,
                 "top": [(p, 0.7), ("no", 0.2), ("up", 0.1)], "name": f"yes/{i}.wav"}
                for i, p in enumerate(["yes", "no", "yes", "up"])]
    plot_examples(examples, tmp_path / "examples.png", title="t")
    assert (tmp_path / "examples.png").stat().st_size > 20_000
    assert image_spread(tmp_path / "examples.png") > 20
    with Image.open(tmp_path / "examples.png") as img:
        assert img.width > img.height > 300  # two rows of three panels
    plot_examples([], tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_pick_examples_takes_right_and_wrong_recorded_clips():
    targets = np.array([0, 1, 2, 2, 3, 3, 1, 0])
    preds = np.array([0, 1, 2, 0, 3, 1, 2, 0])
    probs = np.eye(4)[preds]
    indices = np.array([-1, 10, 11, 12, 13, 14, 15, -1])  # -1: generated silence, no clip to show
    chosen = pick_examples(Predictions(indices, targets, probs), n_right=2, n_wrong=3)
    right = [i for i in chosen if preds[i] == targets[i]]
    wrong = [i for i in chosen if preds[i] != targets[i]]
    assert len(right) == 2 and sorted(wrong) == [3, 5, 6]
    assert 0 not in chosen and 7 not in chosen
    assert len({targets[i] for i in right}) == 2  # different classes first


def test_training_curves_picture(tmp_path):
    rows = [{"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.2 * e, "val_acc": 0.15 * e} for e in (1, 2, 3)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plot_training_curves(tmp_path / "metrics.jsonl", tmp_path / "curves.png")
    assert image_spread(tmp_path / "curves.png") > 10


@pytest.fixture(scope="module")
def trained_run(synthetic_root, tmp_path_factory):
    from speechseq.training.train import train
    from tests.conftest import compose_config, tiny_train_overrides

    tmp = tmp_path_factory.mktemp("plots_run")
    cfg = compose_config("train", tiny_train_overrides(synthetic_root, tmp / "cache", epochs=2)
                         + ["trainer.test_after_training=false"], tmp / "run")
    return cfg, train(cfg)


def test_eval_writes_all_three_pictures(trained_run, tmp_path):
    from speechseq.evaluation.evaluate import evaluate
    from tests.conftest import compose_config

    cfg, summary = trained_run
    ecfg = compose_config("eval", [f"checkpoint={summary['best_checkpoint']}", f"data.root={cfg.data.root}",
                                   f"data.cache_dir={cfg.data.cache_dir}", "device=cpu"], tmp_path)
    evaluate(ecfg)
    for name in ("confusion.png", "examples.png", "training_curves.png"):
        assert (tmp_path / name).stat().st_size > 10_000, name
        assert image_spread(tmp_path / name) > 10, name
