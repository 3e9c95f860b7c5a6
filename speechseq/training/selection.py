"""Which epoch is the best: validation scored each epoch, and the figure `trainer.select_on` picks by.

`balanced_accuracy` (the default) is the mean recall over the classes, so that five frequent words
of one recording setup (two thirds of the mini set's validation and test clips) do not decide
alone; `accuracy` is the share of clips right, as runs chose before; `loss` is the validation
cross-entropy, class-balanced the same way (lower is better), which a handful of validation clips
(an own word's four held-out takes) moves by degrees where one clip flips an accuracy.
"""

from __future__ import annotations

import logging

import numpy as np

from speechseq.evaluation.inference import clip_speakers
from speechseq.evaluation.metrics import classification_report

log = logging.getLogger(__name__)

SELECT_ON = {"balanced_accuracy": "val_balanced_acc", "accuracy": "val_acc", "loss": "val_balanced_loss"}  # knob -> key
LOWER_IS_BETTER = {"loss"}


def balanced_loss(targets: np.ndarray, probs: np.ndarray) -> float:
    """Cross-entropy of the true class, averaged within each class present and then over them."""
    nll = -np.log(np.clip(probs[np.arange(len(targets)), targets], 1e-7, 1.0))
    return float(np.mean([nll[targets == c].mean() for c in np.unique(targets)])) if len(targets) else float("nan")


def validation_scores(targets: np.ndarray, probs: np.ndarray, labels: list[str]) -> dict:
    """An epoch's validation figures: val_acc, val_balanced_acc and the latter's 95 % interval."""
    report = classification_report(targets, probs.argmax(1), labels)
    return {"val_acc": report["accuracy"], "val_balanced_acc": report["balanced_accuracy"],
            "val_balanced_ci": report["balanced_accuracy_ci"], "val_balanced_loss": balanced_loss(targets, probs)}


def score_of(row: dict, select_on: str) -> float | None:
    """The figure `select_on` picks by in an epoch's row, higher better (a loss negated); None when the row
    predates it."""
    value = row.get(SELECT_ON[select_on])
    return -value if value is not None and select_on in LOWER_IS_BETTER else value


def resumed_best_score(history: list[dict], best_epoch: int, select_on: str) -> float:
    """The best epoch's figure by `select_on`, from the history a resumed run brings.

    A run started before the balanced figure was logged has none: the next validated epoch then
    becomes the best (said in the log), rather than one compared on the other figure.
    """
    row = next((r for r in history if r.get("epoch") == best_epoch), None)
    score = score_of(row, select_on) if row is not None else None
    if score is None:
        if best_epoch > 0:
            log.warning("the resumed run's epoch %d has no %s recorded; the next epoch becomes the best",
                        best_epoch, SELECT_ON[select_on])
        return -1.0
    return float(score)


def best_summary(history: list[dict], best_epoch: int, select_on: str) -> dict:
    """The summary's figures of the best epoch (plain and class-balanced validation accuracy)."""
    row = next((r for r in history if r.get("epoch") == best_epoch), {})
    return {"select_on": select_on, "best_val_score": score_of(row, select_on) if row else None,
            "best_val_acc": row.get("val_acc"), "best_val_balanced_acc": row.get("val_balanced_acc"),
            "best_val_balanced_ci": row.get("val_balanced_ci")}


def validation_counts(split, indices: np.ndarray) -> dict:
    """How many clips and speakers the validation figures rest on."""
    speakers = {s for s in clip_speakers(split, indices) if s is not None}
    return {"val_n": int(len(indices)), "val_speakers": len(speakers)}
