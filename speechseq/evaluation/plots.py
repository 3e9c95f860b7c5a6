"""Pictures people would rather look at than read: confusion matrix, training curves, example clips,
accuracy in noise and in rooms, the detection trade-off."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _legend_beside(ax) -> None:
    """The legend right of the axes, where it can cover no point whatever the data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=9)


def plot_confusion(matrix: list[list[int]], labels: list[str], path: str | Path, title: str = "") -> None:
    plt = _pyplot()
    cm = np.asarray(matrix, dtype=float)
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.45 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    if len(labels) <= 15:
        for i in range(len(labels)):
            for j in range(len(labels)):
                if cm[i, j]:
                    ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if rates[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class (cells: clip counts)")
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_training_curves(metrics_jsonl: str | Path, path: str | Path) -> None:
    rows = [json.loads(line) for line in Path(metrics_jsonl).read_text().splitlines() if line.strip()]
    if not rows:
        return
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], marker="o", label="train")
    ax_loss.set_ylabel("loss (cross-entropy, nats)")
    ax_acc.plot(epochs, [r["train_acc"] for r in rows], marker="o", label="train")
    ax_acc.plot(epochs, [r["val_acc"] for r in rows], marker="o", label="validation")
    if all("val_balanced_acc" in r for r in rows):
        ax_acc.plot(epochs, [r["val_balanced_acc"] for r in rows], marker="o", label="validation, class-balanced")
    ax_acc.set_ylabel("accuracy (fraction of clips)")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # no epoch 1.5
        if len(set(epochs)) == 1:  # one epoch: matplotlib would zoom to 0.95..1.05, between whole numbers
            ax.set_xlim(epochs[0] - 0.5, epochs[0] + 0.5)
        ax.grid(alpha=0.3)
        _legend_beside(ax)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _example_axes(plt, count: int, with_waves: bool):
    """A figure with up to three clips a row; per clip a spectrogram axes, a waveform one above it if given."""
    cols = min(3, count)
    rows = (count + cols - 1) // cols
    strip = 2 if with_waves else 1
    fig = plt.figure(figsize=(4.4 * cols, (4.3 if with_waves else 3.6) * rows), layout="constrained")
    grid = fig.add_gridspec(rows * strip, cols, height_ratios=([1, 3] if with_waves else [1]) * rows)
    panels = []
    for k in range(rows * cols):
        row, col = divmod(k, cols)
        spec = fig.add_subplot(grid[row * strip + strip - 1, col])
        wave = fig.add_subplot(grid[row * strip, col], sharex=spec) if with_waves else None
        panels.append((wave, spec))
    return fig, panels


def _draw_waveform(ax, wave: np.ndarray, sample_rate: int) -> None:
    ax.plot(np.arange(len(wave)) / sample_rate, wave, color="tab:blue", lw=0.5)
    peak = max(float(np.max(np.abs(wave))), 1e-3)
    ax.set_ylim(-1.05 * peak, 1.05 * peak)
    ax.set_ylabel("amplitude\n(full scale 1)", fontsize=8)
    ax.tick_params(labelbottom=False, labelsize=7)
    ax.grid(alpha=0.3)


def plot_examples(examples: list[dict], path: str | Path, sample_rate: int = 16000, hop_length: int = 160,
                  f_min: float = 20.0, f_max: float = 7600.0, title: str = "") -> None:
    """Log-mel pictures of clips with their predictions (green: right, red: wrong).

    Each example: {"features": (frames, n_mels) log-mel, "true": str, "pred": str,
    "top": [(label, probability), ...] best first, "name": str}, and optionally "wave": the
    samples (float, full scale 1), drawn as a waveform above the spectrogram.
    """
    if not examples:
        return
    import librosa.display
    from matplotlib.ticker import FormatStrFormatter

    plt = _pyplot()
    fig, panels = _example_axes(plt, len(examples), all("wave" in e for e in examples))
    vmin = min(float(np.min(e["features"])) for e in examples)
    vmax = max(float(np.max(e["features"])) for e in examples)
    for (ax_wave, ax), ex in zip(panels, examples):
        img = librosa.display.specshow(np.asarray(ex["features"]).T, sr=sample_rate, hop_length=hop_length,
                                       x_axis="time", y_axis="mel", fmin=f_min, fmax=f_max, htk=True,
                                       ax=ax, cmap="magma", vmin=vmin, vmax=vmax)
        seconds = np.asarray(ex["features"]).shape[0] * hop_length / sample_rate
        ax.set_xticks(np.arange(0.0, seconds, 0.25))  # librosa's default crowds a 1 s axis
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))  # 0.25, not librosa's 0.250
        ax.set_xlabel(f"time (s)\n{ex.get('name', '')}", fontsize=8)
        ax.set_ylabel("frequency (Hz, mel scale)", fontsize=8)
        ax.tick_params(labelsize=7)
        top = "\n".join(f"{label} {p:.2f}" for label, p in ex["top"][:3])
        ax.text(0.98, 0.97, top, transform=ax.transAxes, ha="right", va="top", fontsize=8, color="white",
                bbox=dict(facecolor="black", alpha=0.5, pad=2, edgecolor="none"))
        if ax_wave is not None:
            _draw_waveform(ax_wave, np.asarray(ex["wave"], dtype=float), sample_rate)
            ax.set_xlim(0.0, seconds)  # the shared axis ends with the last frame, not the last sample
        right = ex["true"] == ex["pred"]
        (ax_wave or ax).set_title(f"true {ex['true']}  ->  predicted {ex['pred']}", fontsize=10,
                                  color="tab:green" if right else "tab:red", fontweight="bold")
    for wave_ax, spec_ax in panels[len(examples):]:
        for ax in (wave_ax, spec_ax):
            if ax is not None:
                ax.axis("off")
    fig.colorbar(img, ax=[a for pair in panels for a in pair if a is not None], fraction=0.02,
                 label="log mel power (natural log)")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_noise_curve(clean_accuracy: float, rows: list[dict], path: str | Path, title: str = "") -> None:
    """Accuracy against SNR (dB), the clean score as a dashed line above the curve."""
    plt = _pyplot()
    rows = sorted(rows, key=lambda r: r["snr_db"])
    snrs = [r["snr_db"] for r in rows]
    accs = [r["accuracy"] for r in rows]
    fig, ax = plt.subplots(figsize=(7.2, 3.8))
    ax.plot(snrs, accs, "o-", color="tab:blue", label="with background noise")
    for x, y in zip(snrs, accs):
        ax.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8)
    ax.axhline(clean_accuracy, color="tab:green", ls="--", label=f"clean {clean_accuracy:.3f}")
    ax.set_xlabel("SNR (dB): speech power / noise power")
    _finish_accuracy_plot(plt, fig, ax, title or "accuracy in noise", path)


def _finish_accuracy_plot(plt, fig, ax, title: str, path: str | Path) -> None:
    """The accuracy axis (0-1, grid), the legend beside the axes, the title; saved and closed."""
    ax.set_ylabel("accuracy (fraction of clips)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    _legend_beside(ax)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_reverb_curve(clean_accuracy: float, rows: list[dict], path: str | Path, title: str = "",
                      noise_rows: list[dict] | None = None) -> None:
    """Accuracy against RT60 (s), one line per SNR (no noise first); dashed: the same without a room.

    `rows`: {rt60_s, distance_m, snr_db (None: no noise), accuracy}; `noise_rows`: {snr_db, accuracy}
    of the noise score without a room, drawn as that SNR's dashed line when given.
    """
    if not rows:
        return
    plt = _pyplot()
    snrs = sorted({r["snr_db"] for r in rows}, key=lambda s: (s is not None, -(s or 0.0)))  # no noise, then quiet to loud
    without_room = {None: clean_accuracy, **{r["snr_db"]: r["accuracy"] for r in noise_rows or []}}
    fig, ax = plt.subplots(figsize=(7.8, 4.0))
    for k, snr in enumerate(snrs):
        line = sorted((r for r in rows if r["snr_db"] == snr), key=lambda r: r["rt60_s"])
        x, y = [r["rt60_s"] for r in line], [r["accuracy"] for r in line]
        name = "room only" if snr is None else f"room + noise at {snr:g} dB SNR"
        ax.plot(x, y, "o-", color=f"C{k}", label=name)
        for xi, yi in zip(x, y):  # the top line's values above it, the others' below: close lines stay legible
            ax.annotate(f"{yi:.3f}", (xi, yi), textcoords="offset points", xytext=(0, 7 if k == 0 else -13),
                        ha="center", fontsize=8, color=f"C{k}")
        if snr in without_room:
            dry = "clean" if snr is None else f"{snr:g} dB SNR"
            ax.axhline(without_room[snr], color=f"C{k}", ls="--", lw=1,
                       label=f"{dry}, no room {without_room[snr]:.3f}")
    low, high = rows[0]["distance_m"]
    ax.set_xlabel(f"RT60 (s, Sabine's): reverberation time; talker {low:g}-{high:g} m from the microphone")
    _finish_accuracy_plot(plt, fig, ax, title or "accuracy in rooms", path)


def plot_detection_curve(rows: list[dict], path: str | Path, operating_point: dict | None = None,
                         title: str = "") -> None:
    """Correct % against false alarms per hour over a threshold sweep (DET style), wrong % beside it.

    `rows`: dicts with threshold, correct_pct, wrong_pct, false_alarms_per_hour;
    `operating_point`: the same keys for the setting in use, marked with a star.
    """
    if not rows:
        return
    plt = _pyplot()
    fa = [r["false_alarms_per_hour"] for r in rows]
    fig, ax = plt.subplots(figsize=(8.2, 4.4))
    ax.plot(fa, [r["correct_pct"] for r in rows], marker="o", ms=3, label="correct %")
    ax.plot(fa, [r["wrong_pct"] for r in rows], marker="o", ms=3, color="tab:red", label="wrong %")
    for r in rows[::4]:
        ax.annotate(f"{r['threshold']:.2f}", (r["false_alarms_per_hour"], r["correct_pct"]), fontsize=7,
                    textcoords="offset points", xytext=(3, 3))
    if operating_point:
        ax.plot([operating_point["false_alarms_per_hour"]], [operating_point["correct_pct"]], marker="*", ms=14,
                color="black", linestyle="none", label="operating point")
    ax.set_xlabel("false alarms per hour")
    ax.set_ylabel("% of command words")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    _legend_beside(ax)
    ax.set_title(title or "detection trade-off (labels: threshold)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
