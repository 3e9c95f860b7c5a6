"""The model card's class-balanced figures (deploy.model_card): mean recall over the classes with its
95 % interval, per-class recall intervals, and the clips and speakers each figure rests on.

Reports written before these figures existed (the shipped model's) still render: the balanced
figure and the intervals are computed again from their per-class recall and clip counts, and what
they never recorded (speakers, the validation's balanced figure) is said to be missing.
"""

from __future__ import annotations

from speechseq.stats import CI_LEVEL, balanced_accuracy, balanced_accuracy_interval, wilson_interval

SPEAKER_NOTE = ("speakers: the file names' part before `_nohash_`; `_silence_` clips drawn from background noise "
                "have none")


def _pct(fraction: float) -> str:
    return f"{100.0 * fraction:.2f} %"


def _interval(ci) -> str:
    return f"{100 * ci[0]:.1f}-{100 * ci[1]:.1f} %"


def test_balanced(report: dict) -> tuple[float, list[float], int]:
    """(class-balanced accuracy, its interval, classes) of a test report, recomputed for old reports."""
    recalls = [m["recall"] for m in report["per_class"].values()]
    supports = [m["support"] for m in report["per_class"].values()]
    if "balanced_accuracy" in report:
        return report["balanced_accuracy"], report["balanced_accuracy_ci"], report.get("classes", len(recalls))
    classes = sum(n > 0 for n in supports)
    return balanced_accuracy(recalls, supports), list(balanced_accuracy_interval(recalls, supports)), classes


def recall_interval(m: dict) -> list[float]:
    """A class's recall interval: the report's, or Wilson's from its recall and clips (old reports)."""
    return m.get("recall_ci") or list(wilson_interval(round(m["recall"] * m["support"]), m["support"]))


def chosen_on(summary: dict) -> str:
    """What picked the shipped epoch: runs before trainer.select_on chose on plain accuracy."""
    return ("best class-balanced validation accuracy" if summary.get("select_on") == "balanced_accuracy"
            else "best validation accuracy")


def _counts(n, speakers) -> str:
    if n is None:
        return "not recorded"
    return f"{n:,} clips" + (f" from {speakers:,} speakers" if speakers is not None else " (speakers not recorded)")


def balanced_rows(summary: dict, report: dict) -> str:
    """Two rows of the card's head table: class-balanced accuracy (validation, test) and its counts."""
    value, ci, classes = test_balanced(report)
    level = f"{100 * CI_LEVEL:g} % CI"
    val = summary.get("best_val_balanced_acc")
    val_text = (f"validation {_pct(val)} ({level} {_interval(summary['best_val_balanced_ci'])})" if val is not None
                else "validation not recorded (a run from before the figure)")
    note = f" ({SPEAKER_NOTE})" if report.get("speakers") is not None else ""
    return (f"| Class-balanced accuracy (mean recall over {classes} classes) | {val_text}; "
            f"**test {_pct(value)}** ({level} {_interval(ci)}) |\n"
            f"| Clips and speakers behind the figures | validation: {_counts(summary.get('val_n'), summary.get('val_speakers'))}; "
            f"test: {_counts(report.get('n'), report.get('speakers'))}{note} |\n")


def per_class_rows(report: dict) -> str:
    """One row per class: precision, recall, F1, clips, recall interval, speakers ('-' when not recorded)."""
    return "\n".join(f"| {k} | {100 * v['precision']:.1f} | {100 * v['recall']:.1f} | {100 * v['f1']:.1f} | "
                     f"{v['support']} | {_interval(recall_interval(v))} | {v.get('speakers', '-')} |"
                     for k, v in report["per_class"].items())


def seed_metric(key: str) -> str | None:
    """aggregate.json's class-balanced keys as row names; None for the others."""
    if key.startswith("test_balanced_") and key.endswith("dB"):
        return f"test, class-balanced, {key[len('test_balanced_'):-2]} dB SNR"
    return {"best_val_balanced_acc": "validation, class-balanced (best epoch)",
            "test_balanced": "test, clean, class-balanced"}.get(key)
