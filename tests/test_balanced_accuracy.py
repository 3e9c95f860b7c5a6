"""Class-balanced accuracy (mean per-class recall), per-class recall intervals and the counts behind them."""

from __future__ import annotations

import numpy as np
import pytest

from speechseq.evaluation.metrics import (
    add_speakers,
    balanced_from_confusion,
    balanced_line,
    classification_report,
    format_report_table,
)
from speechseq.stats import balanced_accuracy, balanced_accuracy_interval, wilson_interval

# By hand: "a" 8 clips, 6 right (2 heard as "b"); "b" 2 clips, 1 right (1 heard as "c"); "c" 10 clips, all
# right. Accuracy 17/20 = 0.85; class-balanced (6/8 + 1/2 + 10/10) / 3 = (0.75 + 0.5 + 1) / 3 = 0.75.
HAND_MATRIX = np.array([[6, 2, 0],
                        [0, 1, 1],
                        [0, 0, 10]])


def _clips(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    targets, preds = [], []
    for true, row in enumerate(matrix):
        for pred, count in enumerate(row):
            targets += [true] * int(count)
            preds += [pred] * int(count)
    return np.array(targets), np.array(preds)


def test_balanced_accuracy_of_a_hand_made_confusion_matrix():
    targets, preds = _clips(HAND_MATRIX)
    report = classification_report(targets, preds, ["a", "b", "c"])
    assert report["accuracy"] == pytest.approx(0.85)
    assert report["balanced_accuracy"] == pytest.approx(0.75)
    assert balanced_from_confusion(HAND_MATRIX) == pytest.approx(0.75)
    assert [report["per_class"][k]["recall"] for k in "abc"] == pytest.approx([0.75, 0.5, 1.0])
    assert report["classes"] == 3 and report["confusion_matrix"]["matrix"] == HAND_MATRIX.tolist()


def test_a_class_without_clips_does_not_count():
    with_empty = np.zeros((4, 4), dtype=int)
    with_empty[:3, :3] = HAND_MATRIX
    assert balanced_from_confusion(with_empty) == pytest.approx(0.75)
    targets, preds = _clips(with_empty)
    assert classification_report(targets, preds, list("abcd"))["classes"] == 3
    assert balanced_accuracy([], []) == 0.0


def test_wilson_interval_by_hand():
    # p = 0.9, n = 50, z = 1.96: centre (p + z^2/2n) / (1 + z^2/n) = 0.8715, half-width 0.0851
    low, high = wilson_interval(45, 50)
    assert (low, high) == pytest.approx((0.7864, 0.9565), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)  # no clips: nothing known


def test_balanced_interval_by_hand():
    # two classes at 45/50: adjusted recall (45 + z^2/2) / (50 + z^2) = 0.87146, its variance
    # 0.87146 * 0.12854 / 53.84 = 0.0020805; se = sqrt(2 * 0.0020805) / 2 = 0.032252; 0.9 +- 1.96 se
    assert balanced_accuracy_interval([0.9, 0.9], [50, 50]) == pytest.approx((0.8368, 0.9632), abs=1e-4)


@pytest.mark.parametrize("interval,point", [
    (lambda recall, n: wilson_interval(round(recall * n), n), lambda recall: recall),
    (lambda recall, n: balanced_accuracy_interval([recall, 1.0, 0.5], [n, 2 * n, n]),
     lambda recall: (recall + 1.0 + 0.5) / 3),
], ids=["wilson", "balanced"])
@pytest.mark.parametrize("recall", [0.0, 0.3, 0.9, 1.0])
def test_intervals_contain_the_point_stay_in_0_1_and_shrink_with_more_clips(interval, point, recall):
    widths = []
    for n in (10, 100, 1000):
        low, high = interval(recall, n)
        assert 0.0 <= low <= point(recall) <= high <= 1.0
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2] > 0  # a class all right (or all wrong) is still uncertain


def test_report_has_intervals_and_speakers_and_the_table_shows_them():
    targets, preds = _clips(HAND_MATRIX)
    speakers = ["s1"] * 4 + ["s2"] * 4 + ["s3", "s3"] + [None] * 10  # "c": silence drawn from noise
    report = add_speakers(classification_report(targets, preds, ["a", "b", "c"]), targets, speakers)
    assert report["speakers"] == 3
    assert [report["per_class"][k]["speakers"] for k in "abc"] == [2, 1, 0]
    low, high = report["per_class"]["b"]["recall_ci"]
    assert low < 0.5 < high and report["ci"]["level"] == 0.95
    assert report["accuracy_ci"][0] < 0.85 < report["accuracy_ci"][1]
    table = format_report_table(report).splitlines()
    assert table[0].split()[-1] == "speakers" and "recall 95% CI" in table[0]
    assert table[1].split() == ["a", "1.000", "0.750", "40.9-92.9", "0.857", "8", "2"]
    assert table[-2].startswith("balanced") and "0.7500" in table[-2]
    assert table[-1].startswith("accuracy") and "0.8500" in table[-1]
    assert balanced_line(report).startswith("class-balanced accuracy 0.7500 (95% CI ")
    assert balanced_line(report).endswith("; mean recall of 3 classes, 3 speakers)")


def test_speakers_come_from_speech_commands_file_names():
    from speechseq.data.layout import speaker_of, which_set

    assert speaker_of("yes/0a7c2a8d_nohash_1.wav") == "0a7c2a8d"
    assert speaker_of("noise.wav") == "noise.wav"
    assert which_set("yes/0a7c2a8d_nohash_1.wav") == which_set("no/0a7c2a8d_nohash_3.wav")  # same speaker, same split
