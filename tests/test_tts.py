"""Synthetic speech (speechseq.data.tts): what the negatives may say, the one-second windows, the
cache, the engines (real ones where installed, a stand-in otherwise) and the missing-engine errors."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from speechseq.data.tts import corpus, engines, phonemes, vocabulary, windows
from speechseq.data.tts.corpus import build_negatives, kind_counts, synthetic_negatives
from speechseq.data.tts.engines import EngineMissingError, resolve_engines
from speechseq.labels import COMMANDS_10
from tests.tts_helpers import fake_engine, needs_espeak, needs_flite, needs_piper, no_engines  # noqa: F401

# --- vocabulary: never a command, never a homophone ---


def all_negative_words() -> list[str]:
    near = {w for words in vocabulary.near_miss_words().values() for w in words}
    return sorted(near | set(vocabulary.general_vocabulary()))


def test_commands_and_their_homophones_are_never_negatives():
    words = set(all_negative_words())
    assert len(words) > 5000
    for banned in [*COMMANDS_10, "write", "rite", "wright", "know"]:
        assert banned not in words
    # and the near-misses that are different words are there
    for command, near in {"right": "light", "left": "lift", "no": "nose", "go": "goat", "on": "upon",
                          "off": "cough", "up": "cup", "down": "town", "stop": "shop", "yes": "guess"}.items():
        assert near in vocabulary.NEAR_MISSES[command]
    assert "ago" not in words  # heard as "a go"


def test_a_models_own_words_are_excluded_by_spelling():
    banned = vocabulary.never_negative(("lights_on", "abacus"))
    assert {"lights", "on", "lights on", "abacus"} <= banned
    assert "abacus" in vocabulary.general_words() and "abacus" not in vocabulary.general_vocabulary(("abacus",))
    assert vocabulary.vocabulary_digest(("abacus",)) != vocabulary.vocabulary_digest()


@pytest.mark.parametrize("word,command,heard", [
    (("r", "aI", "t"), ("r", "aI", "t"), True),                            # write: a homophone
    (("s", "t", "0", "p", "w", "0", "tS"), ("s", "t", "0", "p"), True),    # stop|watch
    (("@", "g", "oU"), ("g", "oU"), True),                                 # a|go
    (("n", "oU", "z"), ("n", "oU"), False),                                # nose: a near-miss
    (("s", "n", "oU"), ("n", "oU"), False),                                # snow
    (("k", "V", "p"), ("V", "p"), False),                                  # cup
    (("l", "aI", "t"), ("r", "aI", "t"), False),                           # light
])
def test_the_rule_that_keeps_a_word_out(word, command, heard):
    assert phonemes.command_heard_in(word, command) is heard


def test_espeak_mnemonics_are_normalised():
    assert phonemes.normalise("s_t2_'0_p_w_0_tS") == ("s", "t", "0", "p", "w", "0", "tS")
    assert phonemes.phoneme_distance(("r", "aI", "t"), ("l", "aI", "t")) == 1


@needs_espeak
def test_no_negative_word_sounds_like_or_holds_a_command():
    words = all_negative_words()
    assert phonemes.words_holding(words, list(COMMANDS_10)) == set()
    assert phonemes.words_holding(["write", "know", "stopwatch", "upstairs", "going", "nose"],
                                  list(COMMANDS_10)) == {"write", "know", "stopwatch", "upstairs", "going"}


# --- windows ---


def test_a_window_is_one_second_of_int16_at_the_target_loudness():
    rng = np.random.default_rng(0)
    # silence trimmed in 10 ms frames: 3200 and 1600 samples of it, 6400 of a quiet tone between
    speech = np.concatenate([np.zeros(3200), 0.05 * np.sin(np.arange(6400) * 0.2), np.zeros(1600)]).astype(np.float32)
    window, offset = windows.to_window(speech, rng)
    assert window.shape == (16000,) and window.dtype == np.int16
    voiced = window[offset:offset + 6400].astype(np.float64) / 32767
    assert abs(20 * np.log10(np.sqrt(np.mean(voiced ** 2))) - windows.TARGET_RMS_DBFS) < 0.5
    assert not window[:offset].any() and not window[offset + 6400:].any()


def test_partial_windows_keep_only_part_of_the_speech():
    speech = np.ones(8000, np.float32) * 0.1
    for seed in range(20):
        window, offset = windows.to_window(speech, np.random.default_rng(seed), partial=True)
        kept = np.count_nonzero(window)
        assert 0.29 * 8000 <= kept <= 0.71 * 8000
        assert offset < 0 or offset + 8000 > 16000  # cut by one edge of the window
    long = np.ones(24000, np.float32) * 0.1  # longer than a second: a random one-second crop of it
    window, offset = windows.to_window(long, np.random.default_rng(0))
    assert np.count_nonzero(window) == 16000 and -8000 <= offset <= 0


# --- the corpus: deterministic, cached, every window 16000 int16 ---


def test_negatives_are_deterministic_for_a_seed(fake_engine):
    waves, manifest = synthetic_negatives(None, seed=3, n_clips=40, progress=False)
    again, manifest_again = synthetic_negatives(None, seed=3, n_clips=40, progress=False)
    other, _ = synthetic_negatives(None, seed=4, n_clips=40, progress=False)
    assert waves.shape == (40, 16000) and waves.dtype == np.int16
    assert np.array_equal(waves, again) and manifest == manifest_again
    assert not np.array_equal(waves, other)
    assert all(np.abs(w).max() > 1000 for w in waves)  # every window holds speech
    kinds = [m["kind"] for m in manifest]
    assert {k: kinds.count(k) for k in corpus.KINDS} == kind_counts(40) == {"near_miss": 16, "general": 12,
                                                                            "two_word": 6, "partial": 6}
    assert all(len(m["text"].split()) == 2 for m in manifest if m["kind"] == "two_word")
    banned = vocabulary.never_negative()
    assert not any(w in banned for m in manifest for w in m["text"].split())
    assert set(manifest[0]) >= {"text", "engine", "voice", "speed", "pitch", "kind", "offset"}


def test_the_cache_is_read_back_without_calling_the_engine(fake_engine, tmp_path):
    first = build_negatives(tmp_path, seed=0, n_clips=30, progress=False)
    calls = len(fake_engine.calls)
    assert calls == 30 and not first.from_cache
    assert list((tmp_path / "tts").glob("negatives_*.npy"))
    second = build_negatives(tmp_path, seed=0, n_clips=30, progress=False)
    assert second.from_cache and len(fake_engine.calls) == calls
    assert np.array_equal(first.waves, second.waves) and first.manifest == second.manifest
    build_negatives(tmp_path, seed=1, n_clips=30, progress=False)  # another recipe: generated anew
    assert len(fake_engine.calls) == 2 * calls


def test_a_damaged_cache_is_generated_again(fake_engine, tmp_path):
    build_negatives(tmp_path, seed=0, n_clips=10, progress=False)
    for npy in (tmp_path / "tts").glob("*.npy"):
        npy.write_bytes(b"not numpy")
    again = build_negatives(tmp_path, seed=0, n_clips=10, progress=False)
    assert not again.from_cache and again.waves.shape == (10, 16000)


# --- engines: missing ones are one line naming the package ---


def test_a_missing_engine_names_the_package(no_engines):
    for name, package in [("espeak", "apt-get install espeak-ng"), ("flite", "apt-get install flite"),
                          ("piper", "piper-tts")]:
        with pytest.raises(EngineMissingError, match=package):
            resolve_engines(name)
    with pytest.raises(EngineMissingError, match="no text-to-speech engine is installed: apt-get install espeak-ng"):
        synthetic_negatives(None, n_clips=5)
    with pytest.raises(ValueError, match="choose auto or any of espeak, flite, piper"):
        resolve_engines("festival")


def test_speechseq_data_tts_prints_one_line_for_a_missing_engine(no_engines, tmp_path, capsys):
    from speechseq.cli import run_guarded
    from speechseq.data import download

    cfg = OmegaConf.create({"action": "tts", "out": str(tmp_path), "clips": 5, "seed": 0, "engines": "espeak",
                            "root": "data", "version": "v0.02", "debug": False})
    with pytest.raises(SystemExit) as exc:
        run_guarded("speechseq-data", lambda: download.run(cfg))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "apt-get install espeak-ng" in err


def test_speechseq_data_tts_builds_then_reuses_the_cache(fake_engine, tmp_path, capsys):
    from speechseq.data import download

    cfg = OmegaConf.create({"action": "tts", "out": str(tmp_path), "clips": 12, "seed": 0, "engines": "auto",
                            "root": "data", "version": "v0.02", "debug": False})
    download.run(cfg)
    out = capsys.readouterr().out
    assert "12 synthetic negatives generated" in out and "fake: 12 clips" in out
    download.run(cfg)
    assert "12 synthetic negatives read from the cache" in capsys.readouterr().out
    cfg.engines = ["fake"]  # engines=[fake] on the command line: a list naming the same engine, the same corpus
    download.run(cfg)
    assert "12 synthetic negatives read from the cache" in capsys.readouterr().out
    assert len(fake_engine.calls) == 12


def test_the_tts_keys_are_known_to_speechseq_data():
    from speechseq.cli import unknown_key_problem

    assert unknown_key_problem("data_tool", ["action=tts", "out=/tmp/x", "clips=10", "seed=2", "engines=espeak"]) is None


# --- the real engines, where installed ---


def _real_corpus_is_speech_and_repeats(name: str, n: int) -> list[dict]:
    waves, manifest = synthetic_negatives(None, seed=0, n_clips=n, engines=name, progress=False)
    again, _ = synthetic_negatives(None, seed=0, n_clips=n, engines=name, progress=False)
    assert waves.shape == (n, 16000) and waves.dtype == np.int16
    assert np.array_equal(waves, again)
    assert all(np.abs(w).max() > 3000 for w in waves)
    assert {m["engine"] for m in manifest} == {name}
    return manifest


@needs_espeak
def test_espeak_ng_speaks_the_corpus():
    manifest = _real_corpus_is_speech_and_repeats("espeak", 24)
    assert len({m["voice"] for m in manifest}) > 10


@needs_flite
def test_flite_speaks_the_corpus():
    _real_corpus_is_speech_and_repeats("flite", 8)


@needs_piper
def test_piper_speaks_the_corpus_the_same_for_a_seed():
    _real_corpus_is_speech_and_repeats("piper", 4)


def test_engine_names_in_auto_follow_what_is_installed(fake_engine):
    assert [e.name for e in resolve_engines("auto")] == ["fake"]
    assert engines.INSTALL["espeak"] == "apt-get install espeak-ng"
