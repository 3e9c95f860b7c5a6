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
