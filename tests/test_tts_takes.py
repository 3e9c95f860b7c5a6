"""Synthetic takes of a user's own word (speechseq.data.tts.takes) and experiment=enroll's use of
them: in the training split only, made once, off or automatic by data.tts_takes."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.config import ConfigError, validate_data
from speechseq.data.enroll import enrollment_index
from speechseq.data.tts.engines import EngineMissingError
from speechseq.data.tts.takes import spoken_text, synthetic_takes, write_takes
from tests.conftest import compose_config
from tests.test_enroll import write_takes as write_recorded_takes
from tests.tts_helpers import fake_engine, needs_espeak, no_engines  # noqa: F401


@pytest.fixture
def custom_root(tmp_path) -> Path:
    root = tmp_path / "mine"
    write_recorded_takes(root, "lights_on", 10, tone=20)
    write_recorded_takes(root, "lights_off", 10, tone=23)
    return root


def test_the_spelling_is_what_is_said(fake_engine):
    assert spoken_text("lights_on") == "lights on" and spoken_text("turn-it_up") == "turn it up"
    waves, manifest = synthetic_takes("lights_on", n=6, seed=1)
    assert waves.shape == (6, 16000) and waves.dtype == np.int16
    assert {m["text"] for m in manifest} == {"lights on"} and set(fake_engine.calls) == {"lights on"}
    again, _ = synthetic_takes("lights_on", n=6, seed=1)
    assert np.array_equal(waves, again)
    assert len({(m["voice"], m["speed"], m["pitch"]) for m in manifest}) == 6


def test_takes_are_written_once_as_one_second_flac(fake_engine, tmp_path):
    paths = write_takes("lights_on", 5, tmp_path, seed=0, progress=False)
    assert len(paths) == 5 and all(p.suffix == ".flac" and p.is_file() for p in paths)
    data, rate = sf.read(paths[0], dtype="int16")
    assert rate == 16000 and data.shape == (16000,)
    calls = len(fake_engine.calls)
    assert write_takes("lights_on", 5, tmp_path, seed=0, progress=False) == paths
    assert len(fake_engine.calls) == calls  # read back, not spoken again


def test_enroll_adds_synthetic_takes_to_training_only(fake_engine, custom_root, synthetic_root, tmp_path):
    plain_words, plain = enrollment_index(custom_root, synthetic_root)  # the plain function's default: none
    words, index = enrollment_index(custom_root, synthetic_root, tts_takes=4, cache_dir=tmp_path / "cache")
    assert words == plain_words == ["lights_off", "lights_on"]
    synthetic = [c for c in index.splits["train"] if "/tts/" in c.relpath]
    assert sorted(c.word for c in synthetic) == ["lights_off"] * 4 + ["lights_on"] * 4
    assert all(Path(c.relpath).is_file() and Path(c.relpath).is_absolute() for c in synthetic)
    for split in ("validation", "test"):
        assert index.splits[split] == plain.splits[split]
        assert not any("/tts/" in c.relpath for c in index.splits[split])
    assert [c for c in index.splits["train"] if "/tts/" not in c.relpath] == plain.splits["train"]


def test_enroll_without_an_engine_warns_once_or_refuses_when_asked(no_engines, custom_root, synthetic_root,
                                                                   tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        _, index = enrollment_index(custom_root, synthetic_root, tts_takes=None, cache_dir=tmp_path)
    assert not any("/tts/" in c.relpath for c in index.splits["train"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "apt-get install espeak-ng" in warnings[0] and "\n" not in warnings[0]
    with pytest.raises(EngineMissingError, match=r"data.tts_takes=3: .*apt-get install espeak-ng"):
        enrollment_index(custom_root, synthetic_root, tts_takes=3, cache_dir=tmp_path)


@needs_espeak
def test_enroll_with_espeak_speaks_the_word(custom_root, synthetic_root, tmp_path):
    _, index = enrollment_index(custom_root, synthetic_root, tts_takes=2, cache_dir=tmp_path)
    synthetic = [c for c in index.splits["train"] if "/tts/" in c.relpath]
    assert len(synthetic) == 4
    data, rate = sf.read(synthetic[0].relpath, dtype="float32")
    assert rate == 16000 and len(data) == 16000 and np.abs(data).max() > 0.1


@pytest.mark.parametrize("value,ok", [("null", True), ("0", True), ("250", True), ("-1", False), ("20000", False)])
def test_data_tts_takes_range(value, ok, tmp_path):
    cfg = compose_config("train", ["experiment=enroll", "data.custom_root=mine", f"data.tts_takes={value}"], tmp_path)
    if ok:
        validate_data(cfg.data)
    else:
        with pytest.raises(ConfigError, match="data.tts_takes"):
            validate_data(cfg.data)


def test_command_takes_join_the_training_split_only(fake_engine, synthetic_root, tmp_path):
    from speechseq.training.data import open_dataset

    def opened(n):
        cfg = compose_config("train", [f"data.root={synthetic_root}", f"data.cache_dir={tmp_path / 'cache'}",
                                       f"data.tts_command_takes={n}"], tmp_path)
        return open_dataset(cfg.data)

    labels, plain = opened(0)
    _, index = opened(3)
    synthetic = [c for c in index.splits["train"] if "/tts/" in c.relpath]
    assert sorted(c.word for c in synthetic) == sorted(list(labels.words) * 3)
    assert {"yes", "no"} <= set(fake_engine.calls)  # the commands spoken from their names
    assert [c for c in index.splits["train"] if "/tts/" not in c.relpath] == plain.splits["train"]
    assert all(index.splits[s] == plain.splits[s] for s in ("validation", "test"))


def test_command_takes_out_of_range_or_without_an_engine_are_one_line(no_engines, synthetic_root, tmp_path):
    from speechseq.training.data import open_dataset

    cfg = compose_config("train", [f"data.root={synthetic_root}", "data.tts_command_takes=-1"], tmp_path)
    with pytest.raises(ConfigError, match="data.tts_command_takes"):
        validate_data(cfg.data)
    cfg = compose_config("train", [f"data.root={synthetic_root}", "data.tts_command_takes=2"], tmp_path)
    with pytest.raises(EngineMissingError, match=r"data.tts_command_takes=2: .*apt-get install espeak-ng.*\(or data.tts_command_takes=0: none\)$"):
        open_dataset(cfg.data)


def test_two_runs_making_the_same_takes_at_once_do_not_break_each_other(fake_engine, tmp_path, monkeypatch):
    """While this run writes, another starts on the same takes (it clears the folder it finds unfinished,
    as a run after a crash does) and then finishes first: this run still returns whole takes, the
    other's, and leaves no temporary folder behind."""
    import speechseq.data.tts.takes as takes_module
    real_write, writes, others = sf.write, [], []

    def another_run_meanwhile(path, *args, **kwargs):
        writes.append(path)
        if len(writes) == 1:
            for unfinished in (tmp_path / "tts").glob("takes_lights_on_*"):
                shutil.rmtree(unfinished)
        elif len(writes) == 2:
            others.extend(write_takes("lights_on", 5, tmp_path, seed=0, progress=False))
        return real_write(path, *args, **kwargs)

    monkeypatch.setattr(takes_module.sf, "write", another_run_meanwhile)
    paths = write_takes("lights_on", 5, tmp_path, seed=0, progress=False)
    assert paths == others and all(sf.read(p, dtype="int16")[0].shape == (16000,) for p in paths)
    assert [p.name for p in (tmp_path / "tts").iterdir()] == [paths[0].parent.name]
