import os

import numpy as np
import soundfile as sf

from speechseq.data.cache import load_or_build


def _write(path, value):
    sf.write(path, np.full(8000, value, np.float32), 16000, subtype="PCM_16")


def test_second_load_comes_from_the_cache_and_changes_invalidate_it(tmp_path, monkeypatch):
    files = []
    for i in range(3):
        files.append(tmp_path / f"{i}.wav")
        _write(files[-1], 0.1 * (i + 1))
    cache = tmp_path / "cache"
    first = load_or_build(files, cache, 16000, 16000)
    assert first.waves.shape == (3, 16000) and first.waves.dtype == np.int16
    assert abs(first.waves[1, 0] / 32767 - 0.2) < 1e-3 and first.waves[1, -1] == 0  # padded to 1 s
    assert len(list(cache.glob("*.npy"))) == 1

    import speechseq.data.cache as cache_mod
    calls = []
    real = cache_mod.decode_clips
    monkeypatch.setattr(cache_mod, "decode_clips", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = load_or_build(files, cache, 16000, 16000)
    assert not calls and np.array_equal(again.waves, first.waves)

    _write(files[1], 0.5)
    st = os.stat(files[1])
    os.utime(files[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    changed = load_or_build(files, cache, 16000, 16000)
    assert calls and abs(changed.waves[1, 0] / 32767 - 0.5) < 1e-3


def test_unreadable_files_are_skipped_and_listed(tmp_path):
    good, bad = tmp_path / "good.wav", tmp_path / "bad.wav"
    _write(good, 0.1)
    bad.write_bytes(b"garbage" * 20)
    decoded = load_or_build([bad, good], tmp_path / "cache", 16000, 16000)
    assert decoded.ok.tolist() == [1] and decoded.waves.shape == (1, 16000)
    assert decoded.failed[0]["path"].endswith("bad.wav")


def test_unwritable_cache_dir_only_costs_a_warning(tmp_path, caplog):
    good = tmp_path / "good.wav"
    _write(good, 0.1)
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    decoded = load_or_build([good], blocker / "cache", 16000, 16000)
    assert decoded.waves.shape == (1, 16000)
    assert "could not write the waveform cache" in caplog.text
