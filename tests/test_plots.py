"""The pictures speechseq-eval writes: present, and actually drawn (not blank)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from speechseq.evaluation.evaluate import Predictions, pick_examples
from speechseq.evaluation.plots import (
    plot_confusion,
    plot_detection_curve,
    plot_examples,
    plot_noise_curve,
    plot_reverb_curve,
    plot_training_curves,
)


def image_spread(path) -> float:
    """Standard deviation of the pixel values: a blank or single-colour image is ~0."""
    return float(np.asarray(Image.open(path).convert("L"), dtype=float).std())


def example_clips(count: int = 4, with_waves: bool = False) -> list[dict]:
    rng = np.random.default_rng(0)
    examples = [{"features": rng.normal(-5, 3, (97, 40)), "true": "yes", "pred": p,
                 "top": [(p, 0.7), ("no", 0.2), ("up", 0.1)], "name": f"yes/{i}.wav"}
                for i, p in enumerate(["yes", "no", "yes", "up"][:count])]
    if with_waves:
        for ex in examples:
            ex["wave"] = rng.normal(0, 0.1, 16000).astype(np.float32)
    return examples


@pytest.fixture
def kept_figures(monkeypatch):
    """The figures the plot functions draw, kept open (plt.close does nothing) to look into."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    close = plt.close
    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    yield kept
    for fig in kept:
        close(fig)


def test_examples_picture_is_drawn(tmp_path):
    plot_examples(example_clips(), tmp_path / "examples.png", title="t")
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


def labelled_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.axison and ax.get_label() != "<colorbar>"]


def test_examples_axes_say_what_they_measure(tmp_path, kept_figures):
    plot_examples(example_clips(3, with_waves=True), tmp_path / "examples.png")
    fig = kept_figures[-1]
    spectrograms = [ax for ax in labelled_axes(fig) if ax.images or ax.collections]
    waves = [ax for ax in labelled_axes(fig) if ax.lines]
    assert len(spectrograms) == len(waves) == 3
    for ax in spectrograms:
        assert ax.get_xlabel().startswith("time (s)")
        assert ax.get_ylabel() == "frequency (Hz, mel scale)"
    for ax in waves:
        assert ax.get_ylabel().startswith("amplitude")
        assert ax.get_xlim() == spectrograms[0].get_xlim()  # the wave lines up with its spectrogram
    plot_examples(example_clips(2), tmp_path / "no_waves.png")  # evaluations without samples: no strip
    assert len(labelled_axes(kept_figures[-1])) == 2


@pytest.mark.parametrize("epochs", [1, 3, 40])
def test_training_curves_tick_whole_epochs(epochs, tmp_path, kept_figures):
    rows = [{"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.5, "val_acc": 0.4} for e in range(1, epochs + 1)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plot_training_curves(tmp_path / "metrics.jsonl", tmp_path / "curves.png")
    for ax in labelled_axes(kept_figures[-1]):
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel()


def draw_every_plot(tmp_path) -> None:
    plot_confusion([[5, 1], [2, 4]], ["yes", "no"], tmp_path / "confusion.png")
    rows = [{"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.3 * e, "val_acc": 0.25 * e} for e in (1, 2, 3)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plot_training_curves(tmp_path / "metrics.jsonl", tmp_path / "curves.png")
    plot_examples(example_clips(2, with_waves=True), tmp_path / "examples.png")
    plot_noise_curve(0.9, [{"snr_db": s, "accuracy": a} for s, a in [(0, 0.5), (10, 0.8), (20, 0.88)]],
                     tmp_path / "noise.png")
    plot_reverb_curve(0.9, [{"rt60_s": t, "distance_m": [1.0, 4.0], "snr_db": s, "accuracy": a - t / 3}
                            for t in (0.3, 0.6, 0.9) for s, a in [(None, 0.85), (10.0, 0.75)]],
                      tmp_path / "reverb.png", noise_rows=[{"snr_db": 10.0, "accuracy": 0.8}])
    sweep = [{"threshold": t, "correct_pct": 90 - 50 * t, "wrong_pct": 8 - 6 * t,
              "false_alarms_per_hour": 20 * (1 - t)} for t in np.linspace(0.3, 0.9, 7)]
    plot_detection_curve(sweep, tmp_path / "detection.png", operating_point=sweep[3])


def test_legends_cover_no_value_and_every_axis_is_labelled(tmp_path, kept_figures):
    draw_every_plot(tmp_path)
    assert len(kept_figures) == 6
    legends = 0
    for fig in kept_figures:
        renderer = fig.canvas.get_renderer()
        fig.canvas.draw()
        for ax in labelled_axes(fig):
            assert ax.get_ylabel(), (fig, ax)
            numbered = any(t.get_visible() and t.get_text() for t in ax.get_xticklabels())
            assert ax.get_xlabel() or not numbered, (fig, ax)  # a waveform strip shares its spectrogram's axis
            if (legend := ax.get_legend()) is None:
                continue
            legends += 1
            box = legend.get_window_extent(renderer)
            assert not any(box.overlaps(other.get_window_extent(renderer)) for other in labelled_axes(fig))
            assert fig.bbox.contains(box.x1, box.y0) and fig.bbox.contains(box.x0, box.y1)  # not cut off
    assert legends == 5  # loss, accuracy, noise, reverb, detection


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
