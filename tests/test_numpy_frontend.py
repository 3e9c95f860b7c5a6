"""The numpy log-mel must equal LogMel, or a torch-free runtime would feed the model other numbers."""

import numpy as np
import pytest
import soundfile as sf
import torch

from speechseq.features.logmel import FrontendSpec, LogMel
from speechseq.features.numpy_logmel import log_mel, mel_filterbank

SPECS = [FrontendSpec(), FrontendSpec(n_mels=64, f_min=0.0, f_max=8000.0),
         FrontendSpec(n_fft=400, win_length=400, hop_length=100, n_mels=32)]


@pytest.mark.parametrize("spec", SPECS)
def test_filterbank_matches_torchaudio_and_librosa(spec):
    import librosa
    import torchaudio.functional as AF

    ours = mel_filterbank(spec)
    ref = AF.melscale_fbanks(spec.n_fft // 2 + 1, spec.f_min, spec.f_max, spec.n_mels, spec.sample_rate,
                             norm=None, mel_scale="htk").numpy()
    assert ours.shape == ref.shape == (spec.n_fft // 2 + 1, spec.n_mels)
    assert np.abs(ours - ref).max() < 1e-5
    assert np.abs(LogMel(spec).filterbank().numpy() - ref).max() < 1e-6  # what training uses
    lib = librosa.filters.mel(sr=spec.sample_rate, n_fft=spec.n_fft, n_mels=spec.n_mels, fmin=spec.f_min,
                              fmax=spec.f_max, htk=True, norm=None).T
    assert lib.shape == ours.shape and np.abs(ours - lib).max() < 1e-5


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("seconds", [1.0, 0.0371, 2.5])
def test_log_mel_matches_logmel(spec, seconds):
    rng = np.random.default_rng(1)
    n = int(spec.sample_rate * seconds)
    t = np.arange(n) / spec.sample_rate
    wave = (0.4 * np.sin(2 * np.pi * 523 * t) + rng.normal(0, 0.05, n)).astype(np.float32)
    wave[: n // 4] = 0.0  # digital silence: the log floor must agree too
    ours = log_mel(wave, spec)
    ref = LogMel(spec)(torch.from_numpy(wave)[None])[0].numpy()
    assert ours.dtype == np.float32 and ours.shape == ref.shape == (spec.num_frames(n), spec.n_mels)
    assert np.abs(ours - ref).max() < 1e-4


def test_log_mel_matches_on_real_clips(mini_root):
    # Real speech has quiet mel bands next to loud ones; there LogMel's float32 STFT rounding
    # (relative to the frame's whole energy) reaches a few 1e-4 in log units on a handful of
    # entries, while this float64 version is the exact value. The bulk must agree to 1e-4.
    clips = sorted(mini_root.glob("*/*.wav"))[::400]
    diffs = []
    for clip in clips:
        wave, rate = sf.read(clip, dtype="float32")
        assert rate == 16000
        ref = LogMel()(torch.from_numpy(wave)[None])[0].numpy()
        diffs.append(np.abs(log_mel(wave) - ref).ravel())
    d = np.concatenate(diffs)
    assert len(clips) >= 10
    assert np.percentile(d, 99.9) < 1e-4 and d.mean() < 1e-5 and d.max() < 1e-3


def test_too_short_gives_no_frames_and_stereo_is_refused():
    assert log_mel(np.zeros(100, np.float32)).shape == (0, 40)
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((16000, 2), np.float32))


@pytest.mark.parametrize("rate", [44100, 48000, 8000, 22050, 44101])
def test_resampled_files_read_as_the_same_signal_made_at_16k(tmp_path, rate):
    from speechseq.audio import read_audio

    def signal(sr):
        t = np.arange(int(sr * 1.2)) / sr
        return 0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3100 * t)

    sf.write(tmp_path / "a.wav", np.stack([signal(rate), signal(rate)], axis=1), rate, subtype="FLOAT")
    got = read_audio(tmp_path / "a.wav")
    assert got.dtype == np.float32 and abs(len(got) - 19200) <= 1
    assert np.abs(got[800:-800] - signal(16000)[800:len(got) - 800]).max() < 2e-3
