"""The speech embedding's own mel spectrogram, in numpy (the torch twin is in `speech_embedding`).

Google's speech_embedding model, as openWakeWord 0.4.0 ships it (`embedding_model.onnx`), reads
windows of 76 frames of a 32-band mel spectrogram that openWakeWord computes with
`melspectrogram.onnx` (a torchlibrosa graph) and rescales by `x / 10 + 2`. That graph is: 16-bit
sample values as floats (-32768..32767), a periodic 400-point Hann window centred in a 512-point
FFT, hop 160, no padding; power; librosa's Slaney mel filters (32 bands, 60-3800 Hz, Slaney area
norm); 10 * log10(max(power, 1e-10)); then every value is raised to at least (the largest value in
the whole input tensor) - 80 dB. That last floor depends on the whole input (the whole batch, in
fact), so a stream computed piece by piece could never equal the clip it came from. Here it is
taken per frame instead (each frame's own loudest band - 80 dB): every frame is then a function of
its own 512 samples, so streamed frames equal offline ones exactly. Where the input's range is
under 80 dB (any clip with a little noise) the two agree; tests/test_speech_embedding.py checks
this against melspectrogram.onnx.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
MEL_BANDS = 32
MEL_N_FFT = 512
MEL_WIN = 400
MEL_HOP = 160
MEL_F_MIN, MEL_F_MAX = 60.0, 3800.0
POWER_FLOOR = 1e-10
TOP_DB = 80.0
INT16_SCALE = 32768.0  # the model reads 16-bit sample values; speechseq's samples are in [-1, 1]


def _hz_to_slaney(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    logstep = np.log(6.4) / 27.0
    linear = hz / f_sp
    return np.where(hz >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(hz, 1e-12) / min_log_hz) / logstep, linear)


def _slaney_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


@lru_cache(maxsize=1)
def slaney_filterbank() -> np.ndarray:
    """(257, 32) float64: librosa.filters.mel(sr=16000, n_fft=512, n_mels=32, fmin=60, fmax=3800).T."""
    freqs = np.linspace(0, SAMPLE_RATE / 2, MEL_N_FFT // 2 + 1)
    edges = _slaney_to_hz(np.linspace(_hz_to_slaney(MEL_F_MIN), _hz_to_slaney(MEL_F_MAX), MEL_BANDS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # Slaney norm: each band's area equal
    fb = weights.T.copy()
    fb.flags.writeable = False
    return fb


@lru_cache(maxsize=1)
def analysis_window() -> np.ndarray:
    """The periodic 400-point Hann window, zero-padded to 512 and centred."""
    n = np.arange(MEL_WIN)
    window = np.zeros(MEL_N_FFT)
    left = (MEL_N_FFT - MEL_WIN) // 2
    window[left:left + MEL_WIN] = 0.5 - 0.5 * np.cos(2 * np.pi * n / MEL_WIN)
    window.flags.writeable = False
    return window


def mel_frame_count(num_samples: int) -> int:
    return 0 if num_samples < MEL_N_FFT else 1 + (num_samples - MEL_N_FFT) // MEL_HOP


def scale_db(db: np.ndarray) -> np.ndarray:
    """Mel power in dB -> what the embedding model reads: each frame floored at its top - 80 dB, then x/10 + 2."""
    db = np.maximum(db, db.max(axis=-1, keepdims=True) - TOP_DB)
    return db / 10.0 + 2.0


def frames_to_mel(frames: np.ndarray) -> np.ndarray:
    """(n, 512) frames of samples in [-1, 1] -> (n, 32) float32 scaled mel frames."""
    spectrum = np.fft.rfft(np.asarray(frames, np.float64) * INT16_SCALE * analysis_window(), n=MEL_N_FFT, axis=-1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    db = 10.0 * np.log10(np.maximum(power @ slaney_filterbank(), POWER_FLOOR))
    return scale_db(db).astype(np.float32)


def mel_frames(wave: np.ndarray) -> np.ndarray:
    """Mono samples in [-1, 1] at 16 kHz -> (frames, 32) scaled mel frames; frame i covers samples
    [160 i, 160 i + 512)."""
    wave = np.asarray(wave, dtype=np.float64).reshape(-1)
    n = mel_frame_count(wave.size)
    if n == 0:
        return np.zeros((0, MEL_BANDS), np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(wave, MEL_N_FFT)[::MEL_HOP][:n]
    return frames_to_mel(frames)
