"""The open world in training: real_world's split, speech windows, negatives, recorded noise and rooms."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from speechseq.data.real_world import assign_splits, group_of, scan_real_world, says_a_word
from speechseq.data.splits import NoiseBank
from speechseq.data.windows import loudest_window, speech_windows

SR = 16000


def babble(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Syllable-like bursts of tones with pauses: 'speech' for the energy gate."""
    n = int(SR * seconds)
    t = np.arange(n) / SR
    env = (np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, 6)) > 0.2).astype(np.float32)
    return (0.3 * env * np.sin(2 * np.pi * rng.uniform(150, 400) * t) + rng.normal(0, 1e-3, n)).astype(np.float32)


def write_real_world(root, rng=None):
    """speech/ (a LibriSpeech-like reader per speaker, a word folder, transcribed takes), noise/, rirs/,
    with an unreadable, an empty, a stereo and a 44.1 kHz file among them."""
    rng = rng or np.random.default_rng(0)
    books = root / "speech" / "books"
    books.mkdir(parents=True)
    for spk in range(12):
        for utt in range(2):
            sf.write(books / f"{100 + spk}-7-{utt}.flac", babble(rng, 4.0), SR)
    words = root / "speech" / "mycroft_precise"
    for w in ("amelia", "athena", "hey-bob", "zed"):
        (words / w).mkdir(parents=True)
        for k in range(3):
            sf.write(words / w / f"{w}-{k}.wav", babble(rng, 1.2), SR)
    phrases = root / "speech" / "phrases"
    phrases.mkdir()
    sf.write(phrases / "p1.wav", babble(rng, 1.0), SR)
    sf.write(phrases / "p2.wav", babble(rng, 1.0), SR)
    (phrases / "metadata.csv").write_text("p1.wav,turn it on,en\np2.wav,wine glass,en\n")
    (books / "broken.flac").write_bytes(b"not audio at all")
    sf.write(books / "999-1-1.wav", np.zeros((0,), np.float32), SR)                   # empty
    sf.write(books / "998-1-1.wav", np.stack([babble(rng, 3.0)] * 2, axis=1), SR)       # stereo
    sf.write(books / "997-1-1.wav", babble(rng, 3.0)[:int(44100 * 3.0 * SR / 44100)], 44100)  # 44.1 kHz
    noise = root / "noise" / "kitchen"
    noise.mkdir(parents=True)
    for k in range(6):
        sf.write(noise / f"sound{k}_0.flac", rng.normal(0, 0.1, SR * 2).astype(np.float32), SR)
    sf.write(noise / "click_0.flac", rng.normal(0, 0.1, SR // 2).astype(np.float32), SR)  # a short sound
    rirs = root / "rirs" / "rooms"
    rirs.mkdir(parents=True)
    for k in range(6):
        h = np.zeros(SR // 4, np.float32)
        h[50] = 1.0
        h[51:] = rng.normal(0, 0.05, len(h) - 51) * np.exp(-np.arange(len(h) - 51) / 800)
        sf.write(rirs / f"room{k}.wav", h, SR)
    return root


@pytest.fixture
def real_world(tmp_path):
    return write_real_world(tmp_path / "real_world")


def test_groups_are_speakers_words_sounds_and_rooms():
    from pathlib import Path

    assert group_of("speech/librispeech", Path("103-1240-0000.flac")) == "103"
    assert group_of("speech/an4", Path("an406-fcaw-b.flac")) == "fcaw"
    assert group_of("speech/mycroft_precise/amelia", Path("amelia-1e51.flac")) == "amelia"
    assert group_of("noise/household", Path("aircon_2.flac")) == "aircon"
    assert group_of("noise/hu", Path("n25.flac")) == "n25"


def test_split_keeps_each_group_in_one_split_and_gives_every_split_some(real_world):
    index = scan_real_world(real_world)
    split_of_group: dict = {}
    for f in index.files:
        assert split_of_group.setdefault((f.source, f.group), f.split) == f.split
    books = {f.split for f in index.select("speech", sources=["speech/books"])}
    assert books == {"train", "validation", "test"}
    words = {f.group: f.split for f in index.select("speech", sources=["speech/mycroft_precise"])}
    assert sorted(words.values()).count("train") == 2  # four words: one each to validation and test


def test_split_is_stable_and_does_not_depend_on_the_folder_scanned(real_world):
    from speechseq.data.real_world import split_of_files

    index = scan_real_world(real_world)
    again = scan_real_world(real_world)
    assert [(f.path, f.split) for f in index.files] == [(f.path, f.split) for f in again.files]
    rooms = index.select("rirs")
    direct = split_of_files(real_world / "rirs", [f.path for f in rooms])
    assert all(direct[f.path] == f.split for f in rooms)
    assert assign_splits(["a", "b"], "x") == {"a": "train", "b": "train"}


def test_sources_keep_only_the_folders_listed(real_world):
    index = scan_real_world(real_world, sources=["speech/books", "rirs"])
    assert {f.source for f in index.files} == {"speech/books", "rirs/rooms"}


def test_a_folder_without_the_layout_is_a_one_line_error(tmp_path):
    from speechseq.errors import DatasetError

    with pytest.raises(DatasetError, match="openworld.root"):
        scan_real_world(tmp_path)


def test_transcripts_mark_what_says_a_keyword(real_world):
    index = scan_real_world(real_world)
    texts = {f.path.name: f.transcript for f in index.select("speech", sources=["speech/phrases"])}
    assert texts == {"p1.wav": "turn it on", "p2.wav": "wine glass"}
    assert says_a_word("turn it on", ("on", "off")) and not says_a_word("only once", ("on",))


def test_nemo_manifests_mark_isolated_commands_so_neither_training_nor_a_stream_takes_them_as_talk(
        tmp_path, synthetic_root):
    # AN4 as real_world ships it: isolated words whose text sits only in NeMo manifests (meta/*.json)
    import json

    from speechseq.data.layout import scan_dataset
    from speechseq.evaluation.evaluate import label_set_from_names
    from speechseq.evaluation.openworld_stream import stream_pools
    from speechseq.training.openworld import negative_files

    an4 = tmp_path / "rw" / "speech" / "an4"
    (an4 / "meta").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name, seconds in (("an1-fabc-b", 1.6), ("an2-mdef-b", 1.6), ("an3-mghi-b", 3.0)):
        sf.write(an4 / f"{name}.flac", babble(rng, seconds), SR)
    lines = [json.dumps({"audio_filepath": "tests/data/asr/train/an4/wav/an1-fabc-b.wav", "text": "yes"}),
             json.dumps({"audio_filepath": "tests/data/asr/test/an4/wav/an2-mdef-b.wav", "text": "help"}),
             "not json", json.dumps(["a", "list"]), json.dumps({"text": "no file"})]
    (an4 / "meta" / "asr_an4_train.json").write_text("\n".join(lines) + "\n")
    index = scan_real_world(tmp_path / "rw")
    assert {f.path.name: f.transcript for f in index.select("speech")} == {
        "an1-fabc-b.flac": "yes", "an2-mdef-b.flac": "help", "an3-mghi-b.flac": None}
    keywords = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
    splits = ("train", "validation", "test")
    assert sum(negative_files(index, split, None, keywords)[2] for split in splits) == 1  # "yes" left out
    label_set = label_set_from_names(["_silence_", "_unknown_", *keywords])
    pools = [stream_pools(scan_dataset(synthetic_root), "validation", label_set, index, split) for split in splits]
    assert {p.name for pool in pools for p in pool.talk} == {"an3-mghi-b.flac"}
    assert {p.name for pool in pools for p in pool.others} == {"an2-mdef-b.flac"}  # a short word, not talk


def test_windows_are_deterministic_for_a_seed_and_count_what_could_not_be_read(real_world):
    files = sorted((real_world / "speech" / "books").iterdir())
    first = speech_windows(files, seed=3, progress=False)
    again = speech_windows(files, seed=3, progress=False)
    other = speech_windows(files, seed=4, progress=False)
    assert np.array_equal(first.waves, again.waves) and first.sources == again.sources
    assert not np.array_equal(first.waves, other.waves)
    assert first.waves.dtype == np.int16 and first.waves.shape[1] == SR
    failed = {f["path"].rsplit("/", 1)[-1] for f in first.failed}
    assert failed == {"broken.flac", "999-1-1.wav"}  # the stereo and 44.1 kHz files were converted
    assert any(s.endswith("998-1-1.wav") for s in first.sources) and any(s.endswith("997-1-1.wav") for s in first.sources)


def test_a_short_take_gives_its_loudest_second():
    wave = np.zeros(int(1.3 * SR), np.float32)
    wave[int(0.9 * SR):int(1.1 * SR)] = 0.5
    window = loudest_window(wave, SR)
    assert len(window) == SR and np.abs(window).sum() == pytest.approx(0.5 * 0.2 * SR, rel=1e-3)


def test_negatives_join_the_draws_as_unknown_deterministically(synthetic_root, tmp_path):
    from speechseq.data.layout import scan_dataset
    from speechseq.data.splits import load_split
    from speechseq.labels import UNKNOWN, make_label_set

    label_set = make_label_set("v2_12")
    split = load_split(scan_dataset(synthetic_root), "train", label_set, cache_dir=str(tmp_path))
    windows = np.full((40, SR), 7, np.int16)
    more = split.with_negatives(windows, label_set.index(UNKNOWN), 50.0)
    assert more.n_negative == min(40, int(np.ceil(len(split.keyword_idx) * 0.5)))
    a, b = more.draw(np.random.default_rng(5)), more.draw(np.random.default_rng(5))
    assert np.array_equal(a, b)
    drawn = a[np.isin(a, more.negative_idx)]
    assert len(drawn) == more.n_negative
    assert (more.labels[torch.as_tensor(drawn)] == label_set.index(UNKNOWN)).all()
    assert np.array_equal(split.draw(np.random.default_rng(5)), a[:len(split.draw(np.random.default_rng(5)))])


def test_short_sounds_become_one_centred_segment(real_world):
    files = sorted((real_world / "noise" / "kitchen").glob("click*"))
    bank = NoiseBank.from_files(files, SR, SR)
    assert len(bank) == 1
    seg = bank.segments[0].numpy()
    assert not seg[:SR // 5].any() and seg[SR // 2] != 0


def test_recorded_rooms_mix_with_the_simulated_at_the_share():
    from speechseq.augment.rir_bank import RirBank, mix_banks

    def bank(n, width):
        return RirBank(torch.ones(n, width), torch.zeros(n, dtype=torch.long), torch.full((n,), width))

    mixed = mix_banks(bank(10, 5), bank(4, 8), 0.25)
    assert len(mixed) == 14 and mixed.rirs.shape[1] == 8
    drawn = mixed.draw(20000, torch.Generator().manual_seed(0))
    assert (drawn >= 10).float().mean().item() == pytest.approx(0.25, abs=0.02)


def test_rir_split_takes_only_that_splits_rooms(real_world):
    from speechseq.augment.rir_files import load_recorded_rirs

    sizes = {s: len(load_recorded_rirs(real_world / "rirs", SR, split=s).bank) for s in ("train", "validation", "test")}
    assert sizes["validation"] >= 1 and sizes["test"] >= 1 and sum(sizes.values()) == 6


@pytest.mark.parametrize("override, key", [
    ("openworld.speech_percentage=-1", "openworld.speech_percentage"),
    ("openworld.filter_threshold=1.5", "openworld.filter_threshold"),
    ("augment.rir_dir_share=2", "augment.rir_dir_share"),
    ("augment.rir_split=dev", "augment.rir_split"),
])
def test_bad_open_world_values_fail_with_the_key(train_cfg, real_world, override, key):
    from speechseq.config import ConfigError, validate_train

    cfg = train_cfg(f"openworld.root={real_world}", override)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate_train(cfg)


def test_a_missing_open_world_folder_is_a_config_error(train_cfg, tmp_path):
    from speechseq.config import ConfigError, validate_train

    with pytest.raises(ConfigError, match="openworld.root: .*openworld.root=null"):
        validate_train(train_cfg(f"openworld.root={tmp_path / 'nowhere'}"))


def test_mini_recipe_finds_real_world_beside_the_data(train_cfg, tmp_path):
    alone = train_cfg("experiment=mini", f"data.root={tmp_path / 'sc' / 'mini'}")
    assert alone.openworld.root is None and alone.augment.rir_dir is None  # none beside it: trained without
    (tmp_path / "sc" / "real_world").mkdir(parents=True)
    cfg = train_cfg("experiment=mini", f"data.root={tmp_path / 'sc' / 'mini'}")
    assert cfg.openworld.root == str(tmp_path / "sc" / "real_world")
    assert cfg.augment.rir_dir == str(tmp_path / "sc" / "real_world" / "rirs")
    off = train_cfg("experiment=mini", "openworld.root=null")
    assert off.augment.rir_dir is None


def test_rir_sources_keep_only_the_subfolders_listed(real_world):
    from speechseq.augment.rir_files import load_recorded_rirs
    from speechseq.config import ConfigError

    other = real_world / "rirs" / "halls"
    other.mkdir()
    for f in sorted((real_world / "rirs" / "rooms").iterdir())[:2]:
        (other / f.name).write_bytes(f.read_bytes())
    assert len(load_recorded_rirs(real_world / "rirs", SR, sources=["halls"]).bank) == 2
    assert len(load_recorded_rirs(real_world / "rirs", SR).bank) == 8
    with pytest.raises(ConfigError, match="augment.rir_dir"):
        load_recorded_rirs(real_world / "rirs", SR, sources=["nowhere"])
