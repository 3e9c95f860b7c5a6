import librosa
import numpy as np
import torch

from speechseq.features.logmel import LOG_FLOOR, FrontendSpec, LogMel


def test_shape_is_batch_frames_mels():
    spec = FrontendSpec()
    feats = LogMel(spec)(torch.randn(3, 16000) * 0.1)
    assert feats.shape == (3, spec.num_frames(16000), spec.n_mels) == (3, 97, 40)


def test_close_to_librosa_for_the_same_settings():
    spec = FrontendSpec()
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 0.05, 16000)).astype(np.float32)
    ours = LogMel(spec)(torch.from_numpy(wave)[None])[0].numpy()
    ref = librosa.feature.melspectrogram(
        y=wave, sr=spec.sample_rate, n_fft=spec.n_fft, win_length=spec.win_length, hop_length=spec.hop_length,
        window="hann", center=False, power=2.0, n_mels=spec.n_mels, fmin=spec.f_min, fmax=spec.f_max,
        htk=True, norm=None)
    ref = np.log(ref + LOG_FLOOR).T
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-3


def test_frames_depend_only_on_their_own_samples():
    frontend = LogMel()
    x = torch.randn(1, 16000) * 0.1
    full = frontend(x)[0]
    tail = frontend(x[:, 160 * 50:])[0]  # start 50 hops later
    assert torch.allclose(full[50:], tail, atol=1e-4)
