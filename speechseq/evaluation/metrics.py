"""Classification metrics: micro accuracy (fraction of clips right), class-balanced accuracy (mean
per-class recall), per-class P/R/F1, macro F1, with 95 % confidence intervals from the clip counts
(speechseq.stats: Wilson per class and for the accuracy, a normal approximation for the balanced figure).

On the mini test split five words of one recording setup are two thirds of the clips, so plain
accuracy mostly measures them; the balanced figure weighs every class alike.
"""

from __future__ import annotations

import numpy as np

from speechseq.stats import (
    BALANCED_CI_METHOD,
    CI_LEVEL,
    balanced_accuracy,
    balanced_accuracy_interval,
    wilson_interval,
)


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
        "accuracy_ci": list(wilson_interval(int(tp.sum()), n)),
        "balanced_accuracy": balanced_accuracy(recall.tolist(), support.tolist()),
        "balanced_accuracy_ci": list(balanced_accuracy_interval(recall.tolist(), support.tolist())),
        "classes": int(present.sum()),
        "ci": {"level": CI_LEVEL, "accuracy": "Wilson score", "recall": "Wilson score", "balanced": BALANCED_CI_METHOD},
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "n": n,
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]),
                   "recall_ci": list(wilson_interval(int(tp[i]), int(support[i]))), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(labels)
        },
        "confusion_matrix": {"labels": list(labels), "matrix": cm.tolist()},
    }


def balanced_from_confusion(cm: np.ndarray) -> float:
    """Class-balanced accuracy of a confusion matrix (rows true classes): mean recall over the classes present."""
    cm = np.asarray(cm)
    support = cm.sum(axis=1)
    recall = np.divide(np.diag(cm), support, out=np.zeros(len(cm)), where=support > 0)
    return balanced_accuracy(recall.tolist(), support.tolist())


def headline_scores(report: dict) -> dict:
    """The figures a noise or room row keeps of a classification report."""
    keys = ("accuracy", "accuracy_ci", "balanced_accuracy", "balanced_accuracy_ci", "macro_f1", "n")
    return {k: report[k] for k in keys}


def add_speakers(report: dict, targets: np.ndarray, speakers: list[str | None]) -> dict:
    """report["speakers"] (distinct speakers among the scored clips) and per_class[...]["speakers"].

    `speakers[i]` is clip i's speaker (Speech Commands: the file name before `_nohash_`), None for
    a clip with no talker (silence drawn from noise). Returns `report`.
    """
    names = list(report["per_class"])
    by_class: dict[int, set] = {}
    for target, speaker in zip(np.asarray(targets).tolist(), speakers):
        if speaker is not None:
            by_class.setdefault(int(target), set()).add(speaker)
    for i, name in enumerate(names):
        report["per_class"][name]["speakers"] = len(by_class.get(i, ()))
    report["speakers"] = len(set().union(*by_class.values())) if by_class else 0
    return report


def pct_interval(ci) -> str:
    """[0.912, 0.95] -> '91.2-95.0'."""
    return f"{100 * ci[0]:.1f}-{100 * ci[1]:.1f}"


def balanced_line(report: dict, label: str = "class-balanced accuracy") -> str:
    """'class-balanced accuracy 0.9012 (95% CI 0.8850-0.9174; mean recall of 12 classes, 180 speakers)'."""
    lo, hi = report["balanced_accuracy_ci"]
    speakers = f", {report['speakers']} speakers" if "speakers" in report else ""
    return (f"{label} {report['balanced_accuracy']:.4f} ({100 * CI_LEVEL:g}% CI {lo:.4f}-{hi:.4f}; "
            f"mean recall of {report['classes']} classes{speakers})")


def format_report_table(report: dict) -> str:
    """Per class precision, recall with its 95 % interval (%), F1, clips and speakers; then macro F1
    and the two accuracies with theirs."""
    speakers = "speakers" in report
    rows = [f"{'class':<12} {'precision':>9} {'recall':>7} {'recall 95% CI':>13} {'f1':>6} {'support':>7}"
            + (f" {'speakers':>8}" if speakers else "")]
    for name, m in report["per_class"].items():
        rows.append(f"{name:<12} {m['precision']:>9.3f} {m['recall']:>7.3f} {pct_interval(m['recall_ci']):>13} "
                    f"{m['f1']:>6.3f} {m['support']:>7d}" + (f" {m['speakers']:>8d}" if speakers else ""))
    rows.append(f"{'macro F1':<12} {report['macro_f1']:>38.4f}")
    for key, name in (("balanced_accuracy", "balanced"), ("accuracy", "accuracy")):
        rows.append(f"{name:<12} {report[key]:>38.4f}  95% CI {pct_interval(report[key + '_ci'])} %")
    return "\n".join(rows)
