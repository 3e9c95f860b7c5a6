"""Classification metrics: micro accuracy (fraction of clips right), per-class P/R/F1, macro F1."""

from __future__ import annotations

import numpy as np


def confusion_matrix(targets: np.ndarray, preds: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(targets), np.asarray(preds)), 1)
    return cm


def classification_report(targets: np.ndarray, preds: np.ndarray, labels: list[str]) -> dict:
    cm = confusion_matrix(targets, preds, len(labels))
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = support > 0  # macro F1 over the classes that occur, as sklearn does with labels=present
    n = int(cm.sum())
    return {
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "n": n,
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(labels)
        },
        "confusion_matrix": {"labels": list(labels), "matrix": cm.tolist()},
    }


def format_report_table(report: dict) -> str:
    rows = [f"{'class':<12} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}"]
    for name, m in report["per_class"].items():
        rows.append(f"{name:<12} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {m['support']:>7d}")
    rows.append(f"{'macro F1':<12} {report['macro_f1']:>24.4f}")
    return "\n".join(rows)
