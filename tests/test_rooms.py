"""Rooms: the simulated RIR bank and its cache, recorded RIRs, aligned convolution, config checks."""

import logging

import numpy as np
import pytest
import soundfile as sf
import torch

from speechseq.augment import rir_bank
from speechseq.augment.rir_bank import RoomSpec, build_bank, load_or_build_bank
from speechseq.augment.rir_files import load_recorded_rirs
from speechseq.augment.rooms import put_in_rooms, reverberate, reverberate_stream
from speechseq.augment.transforms import WaveAugment, WaveAugmentConfig
from speechseq.config import ConfigError, validate_train
from speechseq.data.splits import NoiseBank
from tests.conftest import compose_config

SR = 16000
# small, dry rooms with the talker close: quick to simulate, and the direct path is the loudest tap
SMALL = dict(rt60=(0.15, 0.25), distance=(0.5, 1.0), length_m=(3.0, 4.0), width_m=(3.0, 4.0),
             height_m=(2.4, 2.6), max_seconds=0.3)


@pytest.fixture(scope="module")
def small_bank():
    return build_bank(RoomSpec(size=6, **SMALL))


def _impulses(n: int, at: int, length: int = SR) -> torch.Tensor:
    x = torch.zeros(n, length)
    x[:, at] = 1.0
    return x


def _augment(bank, **kw) -> WaveAugment:
    base = dict(time_shift_ms=0.0, noise_prob=0.0, gain_db=(0.0, 0.0), room_prob=1.0)
    base.update(kw)
    noise = NoiseBank(torch.randn(8, SR, generator=torch.Generator().manual_seed(1)) * 0.05)
    return WaveAugment(noise, SR, WaveAugmentConfig(**base), silence_label=0, unknown_label=1, rooms=bank)


def test_bank_is_the_same_for_a_seed_and_differs_for_another(small_bank):
    again = build_bank(RoomSpec(size=6, **SMALL))
    other = build_bank(RoomSpec(size=6, seed=1, **SMALL))
    assert torch.equal(small_bank.rirs, again.rirs) and torch.equal(small_bank.direct, again.direct)
    assert small_bank.rirs.shape != other.rirs.shape or not torch.equal(small_bank.rirs, other.rirs)
    assert np.all((small_bank.info["rt60"] >= 0.15) & (small_bank.info["rt60"] <= 0.25))
    assert np.all((small_bank.info["distance"] >= 0.5) & (small_bank.info["distance"] <= 1.0))
    rows = torch.arange(len(small_bank))
    assert torch.equal(small_bank.rirs[rows, small_bank.direct].abs(), small_bank.rirs.abs().max(1).values)


def test_bank_is_cached_by_its_parameters(tmp_path, monkeypatch, small_bank):
    spec = RoomSpec(size=6, **SMALL)
    monkeypatch.setattr(rir_bank, "build_bank", lambda s: small_bank)
    load_or_build_bank(spec, tmp_path)
    assert len(list((tmp_path / "rirs").glob("rirs-*.npz"))) == 1

    def must_not_simulate(s):
        raise AssertionError("simulated again")

    monkeypatch.setattr(rir_bank, "build_bank", must_not_simulate)
    cached = load_or_build_bank(spec, tmp_path)
    assert torch.equal(cached.rirs, small_bank.rirs) and torch.equal(cached.direct, small_bank.direct)
    assert np.array_equal(cached.info["rt60"], small_bank.info["rt60"])
    assert rir_bank.bank_key(spec) != rir_bank.bank_key(RoomSpec(size=6, seed=1, **SMALL))
    assert rir_bank.bank_key(spec) != rir_bank.bank_key(RoomSpec(size=6, sample_rate=8000, **SMALL))


def test_an_impulse_lands_at_its_own_time_followed_by_the_room(small_bank):
    x = _impulses(12, at=5000)
    out, _, _ = _augment(small_bank)(x, torch.full((12,), 5), torch.Generator().manual_seed(0))
    assert torch.all(out.abs().argmax(1) == 5000)
    assert torch.all(out[:, :5000 - rir_bank.PRE_DIRECT].abs() < 1e-6)  # nothing before the direct path
    assert torch.all(out[:, 5000 + 200:].abs().sum(1) > 0)      # the reverberation tail follows


def test_put_in_rooms_matches_each_rir_from_its_direct_path_and_keeps_the_level(small_bank):
    x = _impulses(3, at=1000)
    choice = torch.tensor([0, 2, 4])
    out = put_in_rooms(x, small_bank, torch.tensor([True, False, True]), choice)
    assert torch.equal(out[1], x[1])
    for row in (0, 2):
        k = int(choice[row])
        rir, direct = small_bank.rirs[k, :small_bank.lengths[k]], int(small_bank.direct[k])
        expected = torch.zeros(SR)
        expected[1000 - direct:1000 - direct + len(rir)] = rir
        expected *= x[row].norm() / expected.norm()
        assert torch.allclose(out[row], expected, atol=1e-5)


def test_silence_clips_stay_out_of_rooms(small_bank):
    x = torch.randn(8, SR) * 0.1
    labels = torch.tensor([0] * 4 + [5] * 4)
    out, _, _ = _augment(small_bank)(x.clone(), labels, torch.Generator().manual_seed(0))
    assert torch.equal(out[:4], x[:4]) and not torch.equal(out[4:], x[4:])


def test_room_prob_zero_changes_nothing_and_draws_nothing(small_bank):
    x = torch.randn(32, SR) * 0.1
    labels = torch.tensor([0, 1] + [5] * 30)
    recipe = dict(time_shift_ms=100.0, noise_prob=0.8, gain_db=(-6.0, 6.0), fragment_prob=0.2)
    runs = []
    for rooms in (None, small_bank):
        g = torch.Generator().manual_seed(3)
        out = _augment(rooms, room_prob=0.0, **recipe)(x.clone(), labels, g)
        runs.append((out, g.get_state()))
    (a, state_a), (b, state_b) = runs
    assert all(torch.equal(u, v) for u, v in zip(a, b)) and torch.equal(state_a, state_b)
    untouched, _, _ = _augment(small_bank, room_prob=0.0)(x.clone(), labels, torch.Generator().manual_seed(3))
    assert torch.equal(untouched, x)


def test_room_prob_puts_about_that_share_in_rooms(small_bank):
    x = torch.randn(400, SR // 4) * 0.1
    out, _, _ = _augment(small_bank, room_prob=0.25)(x.clone(), torch.full((400,), 5), torch.Generator().manual_seed(0))
    changed = (out != x).any(1).float().mean()
    assert 0.15 < float(changed) < 0.35


def _write(path, data, rate=SR, subtype="FLOAT"):
    sf.write(path, np.asarray(data, dtype=np.float32), rate, subtype=subtype)


def test_recorded_rirs_skip_and_count_unreadable_and_odd_files(tmp_path, caplog):
    decay = np.exp(-np.arange(4000) / 500.0) * np.random.default_rng(0).normal(size=4000)
    decay[300] = 8.0  # the direct path, after 300 samples of lead-in
    _write(tmp_path / "mono.wav", decay / 10)
    _write(tmp_path / "stereo.flac", np.stack([decay / 10, np.zeros(4000)], 1), subtype="PCM_24")
    _write(tmp_path / "48k.wav", np.repeat(decay / 10, 3), rate=48000)
    (tmp_path / "notes.txt").write_text("not audio")
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00")
    _write(tmp_path / "empty.wav", np.zeros(0))
    _write(tmp_path / "nan.wav", np.full(100, np.nan))
    _write(tmp_path / "long.wav", np.ones(6 * 8000) * 0.1, rate=8000)
    _write(tmp_path / "silent.wav", np.zeros(1000))
    with caplog.at_level(logging.INFO, logger="speechseq.augment.rir_files"):
        recorded = load_recorded_rirs(tmp_path, SR)
    assert len(recorded.bank) == 3 and len(recorded.unreadable) == 2 and len(recorded.odd) == 4
    assert "3 impulse responses; skipped 2 unreadable and 4 odd" in caplog.text
    assert torch.all(recorded.bank.direct == rir_bank.PRE_DIRECT)  # trimmed to just before the peak
    out = put_in_rooms(_impulses(3, at=8000), recorded.bank, torch.ones(3, dtype=torch.bool), torch.arange(3))
    assert torch.all(out.abs().argmax(1) == 8000)


def test_rir_dir_without_usable_files_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="augment.rir_dir: .* is empty"):
        load_recorded_rirs(tmp_path, SR)
    (tmp_path / "notes.txt").write_text("not audio")
    with pytest.raises(ConfigError, match="no usable impulse response"):
        load_recorded_rirs(tmp_path, SR)


@pytest.mark.parametrize("override,key", [
    ("augment.rt60=[0.05,0.5]", "augment.rt60"), ("augment.rt60=[1.0,0.5]", "augment.rt60"),
    ("augment.rt60=[0.5,3.0]", "augment.rt60"), ("augment.distance=[0.5,20]", "augment.distance"),
    ("augment.distance=[0.0,2]", "augment.distance"), ("augment.room_prob=1.5", "augment.room_prob"),
    ("augment.rir_bank_size=0", "augment.rir_bank_size"), ("augment.rir_dir=/no/such/folder", "augment.rir_dir"),
])
def test_bad_room_values_fail_with_the_key(tmp_path, override, key):
    cfg = compose_config("train", [override], tmp_path)
    with pytest.raises(ConfigError, match=key) as err:
        validate_train(cfg)
    assert "\n" not in str(err.value)


def test_default_recipe_has_no_rooms_and_far_has_them(tmp_path):
    default = compose_config("train", ["data.cache_dir=/somewhere"], tmp_path).augment
    assert default.room_prob == 0 and default.rir_cache_dir == "/somewhere"
    far = compose_config("train", ["augment=far"], tmp_path).augment
    validate_train(compose_config("train", ["augment=far"], tmp_path))
    assert far.room_prob == 0.5 and list(far.rt60) == [0.2, 1.0] and list(far.distance) == [0.5, 5.0]


def test_reverberate_is_deterministic_and_keeps_words_in_place(tmp_path):
    waves = _impulses(5, at=6000).numpy()
    first = reverberate(waves, rt60=0.2, seed=7, distance=(0.5, 1.0), rooms=2, cache_dir=tmp_path)
    again = reverberate(waves, rt60=0.2, seed=7, distance=(0.5, 1.0), rooms=2, cache_dir=tmp_path)
    other = reverberate(waves, rt60=0.2, seed=8, distance=(0.5, 1.0), rooms=2)
    assert isinstance(first, np.ndarray) and first.shape == waves.shape
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert np.all(np.abs(first).argmax(1) == 6000)


def test_a_stream_through_one_room_stays_in_time():
    stream = np.zeros(3 * SR, dtype=np.float32)
    stream[[10000, 30000]] = 0.5
    wet = reverberate_stream(stream, rt60=0.2, distance=0.5, seed=0)
    assert wet.shape == stream.shape
    assert np.abs(wet[5000:20000]).argmax() + 5000 == 10000 and np.abs(wet[25000:]).argmax() + 25000 == 30000
