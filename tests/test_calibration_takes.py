"""calibration.takes: the end-of-run detector is tuned on several independent validation stream
pairs (near + room), the first of them the pair a single take builds."""

import pytest
from omegaconf import OmegaConf

from speechseq.data.layout import scan_dataset
from speechseq.labels import COMMANDS_10, LabelSet
from speechseq.streaming.synth_stream import read_labels
from speechseq.training.calibration import write_plain_streams, write_validation_streams
from speechseq.training.train import calibration_seconds


def _config(takes: int, plain_takes: int = 0):
    return OmegaConf.create({"enabled": True, "seconds": 60, "rooms": True, "rt60": 0.3, "distance": 1.0,
                             "seed": 3, "takes": takes, "plain_takes": plain_takes})


def test_takes_write_independent_pairs_and_keep_the_first(synthetic_root, tmp_path):
    index, label_set = scan_dataset(synthetic_root, "auto"), LabelSet(COMMANDS_10)
    one = write_validation_streams(_config(1), index, label_set, tmp_path / "one")
    two = write_validation_streams(_config(2), index, label_set, tmp_path / "two")
    assert [p.parent.name for p in one] == ["near", "far"]
    assert [p.parent.name for p in two] == ["near", "far", "near_2", "far_2"]
    # the first take is what a single take builds, so takes=1 runs calibrate as before
    for a, b in zip(one, two[:2]):
        assert a.read_bytes() == b.read_bytes()
    labels = [read_labels(p.with_name("labels.csv")) for p in two]
    assert labels[0] == labels[1] and labels[2] == labels[3]  # each room stream carries its near words
    assert labels[0] != labels[2]  # the second take has other words
    assert two[0].read_bytes() != two[2].read_bytes() and two[1].read_bytes() != two[3].read_bytes()


def test_the_time_kept_back_grows_with_the_takes():
    assert calibration_seconds(_config(2)) - 10 == pytest.approx(2 * (calibration_seconds(_config(1)) - 10))


def test_plain_takes_are_pairs_of_the_datasets_own_streams_apart_from_the_open_world_ones(synthetic_root, tmp_path):
    index, label_set = scan_dataset(synthetic_root, "auto"), LabelSet(COMMANDS_10)
    assert write_plain_streams(_config(1), index, label_set, tmp_path / "none") == []
    plain = write_plain_streams(_config(1, plain_takes=2), index, label_set, tmp_path / "p")
    assert [p.parent.name for p in plain] == ["plain", "plain_far", "plain_2", "plain_far_2"]
    near = write_validation_streams(_config(1), index, label_set, tmp_path / "near")
    labels = [read_labels(p.with_name("labels.csv")) for p in plain + near[:1]]
    assert labels[0] == labels[1] and labels[0] != labels[2] and labels[0] != labels[4]  # seeds of their own
    assert calibration_seconds(_config(1, plain_takes=1)) == pytest.approx(calibration_seconds(_config(2)))
