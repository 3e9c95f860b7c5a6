import numpy as np
import pytest
import soundfile as sf

from speechseq.audio import AudioReadError, fix_length, read_audio


def _tone(sr, seconds=1.0, f=440.0):
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "FLOAT"])
def test_bit_depths_decode_to_the_same_signal(tmp_path, subtype):
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, _tone(16000), 16000, subtype=subtype)
    wave = read_audio(path)
    assert wave.dtype == np.float32 and wave.shape == (16000,)
    assert np.abs(wave - _tone(16000)).max() < 0.02


def test_stereo_is_mixed_down_and_other_rates_resampled(tmp_path):
    stereo = np.stack([_tone(44100), _tone(44100)], axis=1)
    sf.write(tmp_path / "s.wav", stereo, 44100, subtype="PCM_16")
    wave = read_audio(tmp_path / "s.wav")
    assert wave.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) * 16000 / len(wave) - 440) < 2


def test_nan_and_inf_become_silence(tmp_path):
    x = _tone(16000)
    x[100:200] = np.nan
    x[300] = np.inf
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    wave = read_audio(tmp_path / "nan.wav")
    assert np.isfinite(wave).all() and np.all(wave[100:200] == 0) and wave[300] == 0


@pytest.mark.parametrize("content", [b"", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"this is not audio at all" * 10])
def test_unreadable_files_raise_audio_read_error(tmp_path, content):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioReadError, match="bad.wav"):
        read_audio(path)


def test_fix_length_pads_and_crops():
    assert fix_length(np.ones(10, np.float32), 16).tolist() == [1] * 10 + [0] * 6
    long = np.arange(20, dtype=np.float32)
    assert fix_length(long, 10).tolist() == list(range(5, 15))


# --- property tests: the reader never crashes on arbitrary bytes -------------------------------

import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speechseq.audio import resample

# Magic numbers of formats libsndfile knows, so random tails reach those decoders' parsers too.
MAGICS = [b"", b"RIFF", b"RIFX", b"RF64", b"FORM", b"fLaC", b"OggS", b".snd", b"caff", b"wvpk", b"ID3"]


def _riff(fmt_tag: int, channels: int, rate: int, bits: int, block: int, payload: bytes, data_len: int) -> bytes:
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, (rate * block) % 2**32, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_len) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


riff_files = st.builds(
    _riff,
    fmt_tag=st.sampled_from([0, 1, 2, 3, 6, 7, 0x11, 0x31, 0xFFFE]) | st.integers(0, 2**16 - 1),
    channels=st.sampled_from([0, 1, 2, 6, 255]) | st.integers(0, 2**16 - 1),
    rate=st.sampled_from([0, 1, 999, 8000, 16000, 16001, 44100, 44101, 96000, 2**31 - 1]) | st.integers(0, 2**32 - 1),
    bits=st.sampled_from([0, 1, 8, 12, 16, 24, 32, 64]) | st.integers(0, 2**16 - 1),
    block=st.integers(0, 2**16 - 1),
    payload=st.binary(max_size=4096),
    data_len=st.integers(0, 2**32 - 1),
)
raw_files = st.builds(lambda magic, tail: magic + tail, st.sampled_from(MAGICS), st.binary(max_size=2048))


def _read_or_own_error(content: bytes, max_seconds=None):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.wav"
        path.write_bytes(content)
        try:
            wave = read_audio(path, max_seconds=max_seconds)
        except AudioReadError:
            return
    assert wave.dtype == np.float32 and wave.ndim == 1 and len(wave) > 0
    assert np.isfinite(wave).all() and np.abs(wave).max() <= 1.0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_files)
def test_random_bytes_decode_or_raise_audio_read_error(content):
    _read_or_own_error(content)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(riff_files, st.sampled_from([None, 1.0]))
def test_random_wav_headers_decode_or_raise_audio_read_error(content, max_seconds):
    _read_or_own_error(content, max_seconds)


@settings(max_examples=40, deadline=None)
@given(st.integers(1000, 400_000))
def test_any_rate_resamples_to_the_right_length_and_pitch(rate):
    tone = _tone(rate, 0.25, f=300.0)
    wave = resample(tone, rate, 16000)
    assert wave.dtype == np.float32 and abs(len(wave) - len(tone) * 16000 / rate) <= 1
    assert abs(np.argmax(np.abs(np.fft.rfft(wave))) * 16000 / len(wave) - 300) < 8


def test_resampling_removes_what_would_alias():
    """A 10 kHz tone at 44.1 kHz is above the new 8 kHz Nyquist: dropped, not folded to 6 kHz."""
    wave = resample(_tone(44100, f=10000.0), 44100, 16000)
    assert np.sqrt(np.mean(wave[500:-500] ** 2)) < 1e-3 * np.sqrt(np.mean(_tone(16000) ** 2))


def test_odd_rate_is_resampled_quickly_not_with_a_gigabyte_kernel(tmp_path):
    # 44101 Hz has gcd 1 with 16 kHz: an exact polyphase sinc kernel would be 16000 x 44101 (~3 GB).
    sf.write(tmp_path / "odd.wav", _tone(44101), 44101, subtype="PCM_16")
    wave = read_audio(tmp_path / "odd.wav")
    assert abs(len(wave) - 16000) <= 1
    assert abs(np.argmax(np.abs(np.fft.rfft(wave))) * 16000 / len(wave) - 440) < 2


def test_sample_rate_below_audio_is_an_audio_read_error(tmp_path):
    sf.write(tmp_path / "slow.wav", np.zeros(100, np.float32), 10, subtype="PCM_16")
    with pytest.raises(AudioReadError, match="10 Hz"):
        read_audio(tmp_path / "slow.wav")


def test_long_file_reads_only_the_centred_window(tmp_path):
    sr = 16000
    wave = np.zeros(sr * 60, np.float32)
    wave[sr * 30 - 100: sr * 30 + 100] = 0.5  # a burst in the middle of a minute
    sf.write(tmp_path / "long.wav", wave, sr, subtype="PCM_16")
    window = read_audio(tmp_path / "long.wav", max_seconds=2.0)
    assert window.shape == (2 * sr,)
    assert np.array_equal(fix_length(window, sr), fix_length(read_audio(tmp_path / "long.wav"), sr))
