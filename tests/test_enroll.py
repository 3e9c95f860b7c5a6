"""Own words: a user's folder beside Speech Commands, transfer from a trained encoder, and the
detector calibrated at the end of training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from speechseq.data.enroll import MIN_TAKES, enrollment_index, split_takes, user_words
from speechseq.deploy.metadata import read_checkpoint_metadata
from speechseq.errors import CheckpointError, DatasetError
from speechseq.training.train import train
from tests.conftest import SR, word_tone


def write_takes(root: Path, word: str, n: int, tone: int, rate: int = SR, seconds: float = 1.0,
                channels: int = 1) -> list[Path]:
    rng = np.random.default_rng(tone)
    (root / word).mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        wave = word_tone(tone, rng, seconds)
        if rate != SR:
            wave = np.interp(np.arange(int(len(wave) * rate / SR)) * SR / rate, np.arange(len(wave)), wave)
        data = np.stack([wave] * channels, 1) if channels > 1 else wave
        path = root / word / f"me_nohash_{k}.wav"
        sf.write(path, data.astype(np.float32), rate, subtype="PCM_16")
        paths.append(path)
    return paths


@pytest.fixture
def custom_root(tmp_path) -> Path:
    root = tmp_path / "mine"
    write_takes(root, "alpha", 10, tone=20)
    write_takes(root, "beta", 10, tone=23, rate=44100, seconds=1.4, channels=2)  # another rate, length, stereo
    return root


def test_takes_split_without_lists_and_speech_commands_words_become_negatives(custom_root, synthetic_root):
    words, index = enrollment_index(custom_root, synthetic_root)
    assert words == ["alpha", "beta"]
    for word in words:
        train = [c for c in index.splits["train"] if c.word == word]
        val = [c for c in index.splits["validation"] if c.word == word]
        assert len(train) == 8 and len(val) == 2
        assert not {c.relpath for c in train} & {c.relpath for c in val}
    assert {c.word for c in index.splits["train"]} >= {"yes", "cat"}  # the negatives
    again = enrollment_index(custom_root, synthetic_root)[1]
    assert [c.relpath for c in again.splits["validation"]] == [c.relpath for c in index.splits["validation"]]


def test_speech_commands_clips_of_the_users_words_are_left_out_of_training(tmp_path, synthetic_root):
    write_takes(tmp_path / "mine", "yes", 6, tone=0)
    _, index = enrollment_index(tmp_path / "mine", synthetic_root)
    yes_train = [c.relpath for c in index.splits["train"] if c.word == "yes"]
    assert yes_train and all(Path(p).is_absolute() for p in yes_train)  # only the user's takes
    assert any(not Path(c.relpath).is_absolute() for c in index.splits["test"] if c.word == "yes")


def test_validation_share_keeps_at_least_one_take_each_side(tmp_path):
    paths = [tmp_path / f"t{k}.wav" for k in range(5)]
    train, val = split_takes(paths, 0.01)
    assert len(val) == 1 and len(train) == 4
    train, val = split_takes(paths, 0.5)
    assert len(val) == 2 and len(train) == 3


def test_too_few_readable_takes_is_one_clear_error(tmp_path):
    write_takes(tmp_path / "mine", "alpha", MIN_TAKES - 1, tone=20)
    (tmp_path / "mine" / "alpha" / "broken.wav").write_bytes(b"RIFF not audio")
    with pytest.raises(DatasetError, match=r"4 readable take\(s\) \(1 unreadable.*record at least 5"):
        user_words(tmp_path / "mine")


@pytest.mark.parametrize("name", ["_unknown_", "_silence_", "bad name"])
def test_word_names_that_clash_are_refused(tmp_path, name):
    write_takes(tmp_path / "mine", name, 6, tone=20)
    with pytest.raises(DatasetError, match="rename the folder"):
        user_words(tmp_path / "mine")


def test_missing_custom_root_says_how_to_record(tmp_path):
    with pytest.raises(DatasetError, match="speechseq-record"):
        user_words(tmp_path / "nowhere")


def test_enrolment_trains_from_another_models_encoder_and_calibrates(train_cfg, custom_root, tmp_path):
    source = train(train_cfg(epochs=2, out=tmp_path / "source"))["best_checkpoint"]
    cfg = train_cfg(f"data.custom_root={custom_root}", "data.task=custom", f"trainer.init_from={source}",
                    "calibration.enabled=true", "calibration.seconds=60", "calibration.rt60=0.2",
                    "calibration.distance=1.0", epochs=1, out=tmp_path / "enrolled")
    summary = train(cfg)
    meta = read_checkpoint_metadata(summary["best_checkpoint"], ValueError)
    assert meta["labels"] == ["_silence_", "_unknown_", "alpha", "beta"]
    record = meta["streaming"]
    assert record["max_false_alarms_per_hour"] == 30.0
    # two takes by default (calibration.takes), each near and in a room, 60 s each
    assert record["validation"]["input"] == " + ".join(f"calibration/{name}/stream.wav"
                                                       for name in ("near", "far", "near_2", "far_2"))
    assert record["validation"]["duration_s"] == 240.0
    assert (tmp_path / "enrolled" / "calibration" / "far_2" / "stream.wav").is_file()
    assert summary["calibration"]["settings"]["threshold"] == record["settings"]["threshold"]

    from speechseq import Recognizer

    r = Recognizer.load(summary["best_checkpoint"], runtime="numpy")
    assert r.settings.smoothing.threshold == record["settings"]["threshold"]


def test_init_from_copies_the_encoder_and_refuses_another_shape(train_cfg, tmp_path):
    from speechseq.deploy.checkpoint import load_inference
    from speechseq.models.recurrent import ModelSpec, RecurrentClassifier
    from speechseq.training.transfer import init_from_checkpoint

    source_path = train(train_cfg(epochs=1, out=tmp_path / "source"))["best_checkpoint"]
    source = load_inference(source_path)
    spec = source.model.spec
    target = RecurrentClassifier(ModelSpec(**{**spec.__dict__, "n_classes": 5}))
    copied = init_from_checkpoint(target, source_path, source.frontend)
    assert copied and not any(k.startswith("head.") for k in copied)
    for key in copied:
        assert torch.equal(target.state_dict()[key], source.model.state_dict()[key])
    wider = RecurrentClassifier(ModelSpec(**{**spec.__dict__, "hidden_size": spec.hidden_size * 2}))
    with pytest.raises(CheckpointError, match="does not fit this model"):
        init_from_checkpoint(wider, source_path, source.frontend)
