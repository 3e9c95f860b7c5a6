"""Pictures people would rather look at than read: confusion matrix, training curves, example clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(matrix: list[list[int]], labels: list[str], path: str | Path, title: str = "") -> None:
    plt = _pyplot()
    cm = np.asarray(matrix, dtype=float)
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.45 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(labels) <= 15:
        for i in range(len(labels)):
            for j in range(len(labels)):
                if cm[i, j]:
                    ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if rates[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of true class")
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_training_curves(metrics_jsonl: str | Path, path: str | Path) -> None:
    rows = [json.loads(line) for line in Path(metrics_jsonl).read_text().splitlines() if line.strip()]
    if not rows:
        return
    plt = _pyplot()
    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], marker="o", label="train loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.legend()
    ax_acc.plot(epochs, [r["train_acc"] for r in rows], marker="o", label="train")
    ax_acc.plot(epochs, [r["val_acc"] for r in rows], marker="o", label="validation")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_examples(examples: list[dict], path: str | Path, sample_rate: int = 16000, hop_length: int = 160,
                  f_min: float = 20.0, f_max: float = 7600.0, title: str = "") -> None:
    """Log-mel pictures of clips with their predictions (green: right, red: wrong).

    Each example: {"features": (frames, n_mels) log-mel, "true": str, "pred": str,
    "top": [(label, probability), ...] best first, "name": str}.
    """
    if not examples:
        return
    import librosa.display

    plt = _pyplot()
    cols = min(3, len(examples))
    rows = (len(examples) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False, layout="constrained")
    vmin = min(float(np.min(e["features"])) for e in examples)
    vmax = max(float(np.max(e["features"])) for e in examples)
    for ax, ex in zip(axes.flat, examples):
        img = librosa.display.specshow(np.asarray(ex["features"]).T, sr=sample_rate, hop_length=hop_length,
                                       x_axis="time", y_axis="mel", fmin=f_min, fmax=f_max, htk=True,
                                       ax=ax, cmap="magma", vmin=vmin, vmax=vmax)
        seconds = np.asarray(ex["features"]).shape[0] * hop_length / sample_rate
        ax.set_xticks(np.arange(0.0, seconds, 0.25))  # librosa's default crowds a 1 s axis
        right = ex["true"] == ex["pred"]
        ax.set_title(f"true {ex['true']}  ->  predicted {ex['pred']}", color="tab:green" if right else "tab:red",
                     fontsize=10, fontweight="bold")
        top = "\n".join(f"{label} {p:.2f}" for label, p in ex["top"][:3])
        ax.text(0.98, 0.97, top, transform=ax.transAxes, ha="right", va="top", fontsize=8, color="white",
                bbox=dict(facecolor="black", alpha=0.5, pad=2, edgecolor="none"))
        ax.set_xlabel(ex.get("name", ""), fontsize=7)
    for ax in list(axes.flat)[len(examples):]:
        ax.axis("off")
    fig.colorbar(img, ax=axes, fraction=0.02, label="log mel power")
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
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(snrs, accs, "o-", color="tab:blue", label="with background noise")
    for x, y in zip(snrs, accs):
        ax.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8)
    ax.axhline(clean_accuracy, color="tab:green", ls="--", label=f"clean {clean_accuracy:.3f}")
    ax.set_xlabel("SNR (dB): speech power / noise power")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title or "accuracy in noise")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
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
    ax.legend(loc="center right")
    ax.set_title(title or "detection trade-off (labels: threshold)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
