"""Audio handed to the recognizer by an application: checked, scaled, mixed to mono, resampled.

Integer PCM is scaled the way the microphone path scales it: `MicrophoneSource` asks PortAudio for
float32, and PortAudio turns the device's int16 into float by dividing by 32768; `StdinPcmSource`
divides raw PCM by 32768 too. So int16 frames and the float frames a microphone gives are the same
numbers. Floats (full scale 1.0) follow the rule files follow too (speechseq.audio.checked_floats).

A 2-D array is several channels, averaged to mono. Channels-last `(samples, channels)` is what
soundfile and sounddevice give; channels-first `(channels, samples)` is what torchaudio gives. An
axis of at most MAX_CHANNELS is the channel axis, the last axis when both are that short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np

from speechseq.audio import EXPECTED, FLOAT_PEAK_LIMIT, MIN_SAMPLE_RATE, checked_floats, to_mono_16k  # noqa: F401

# What `Recognizer.classify` and `process` take: a numpy array, or a list of samples (ints are
# int16 PCM, floats are in [-1, 1]); for type checkers (see docs/api.md, "What audio is accepted").
AudioLike = Union[np.ndarray, Sequence[float], Sequence[int], Sequence[Sequence[float]], Sequence[Sequence[int]]]

PCM_SCALES = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}
MAX_CHANNELS = 8
INT16_RANGE = (-32768, 32767)


class AudioTypeError(TypeError, ValueError):
    """Audio of a type that holds no samples (bytes, text, objects). A TypeError, and a ValueError as
    every other refusal of `classify`/`process` is."""


def as_array(samples, what: str) -> np.ndarray:
    """`samples` as a numpy array; a list of Python ints becomes int16 PCM (np.asarray would make it
    int64, whose scale is ambiguous), when every value fits."""
    if isinstance(samples, (bytes, bytearray, memoryview)):
        raise AudioTypeError(f"{what}: expected {EXPECTED} as a numpy array, got {type(samples).__name__}; raw "
                             f"16-bit PCM bytes? np.frombuffer(data, np.int16) makes the array")
    if isinstance(samples, str):
        raise AudioTypeError(f"{what}: expected {EXPECTED} as a numpy array, got a str; a file name? use "
                             f"classify_file(path)")
    try:
        array = np.asarray(samples)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise ValueError(f"{what}: expected {EXPECTED} as a numpy array, got {type(samples).__name__} ({exc})") from None
    if not isinstance(samples, np.ndarray) and array.dtype.kind in "iu" and array.size:
        low, high = int(array.min()), int(array.max())
        if low < INT16_RANGE[0] or high > INT16_RANGE[1]:
            raise ValueError(f"{what}: a list of ints is taken as int16 PCM, but it reaches {max(-low, high)}; "
                             f"give a numpy array of its own dtype (int32 PCM: np.asarray(x, np.int32))")
        array = array.astype(np.int16)
    return array


def pcm_to_float(samples, what: str = "audio") -> np.ndarray:
    """int16/int32 PCM or float samples -> float32 in [-1, 1]; anything else raises ValueError.

    Floats follow the rule files follow too (speechseq.audio.checked_floats): NaN or inf refused,
    beyond +-FLOAT_PEAK_LIMIT refused, up to it clipped."""
    array = as_array(samples, what)
    kind = array.dtype.kind
    if kind == "f":
        floats = array.astype(np.float32, copy=False)
    elif array.dtype in PCM_SCALES:
        floats = array.astype(np.float32) * np.float32(1.0 / PCM_SCALES[array.dtype])
    elif kind in "iu":
        raise ValueError(f"{what}: expected {EXPECTED}, got {array.dtype} samples, whose scale is ambiguous; "
                         f"convert PCM with .astype(np.int16) or give floats in [-1, 1]")
    elif kind in "SUO":
        raise AudioTypeError(f"{what}: expected {EXPECTED}, got an array of dtype {array.dtype} "
                             f"({type(samples).__name__})")
    else:
        raise ValueError(f"{what}: expected {EXPECTED}, got an array of dtype {array.dtype} "
                         f"({type(samples).__name__})")
    return checked_floats(floats, what, is_float=kind == "f")


def channel_axis(shape: tuple[int, ...]) -> int:
    """Which axis of a 2-D audio array holds the channels (see the module docstring)."""
    if shape[1] <= MAX_CHANNELS:
        return 1
    if shape[0] <= MAX_CHANNELS:
        return 0
    raise ValueError(f"expected mono samples or (samples, channels) / (channels, samples) with at most "
                     f"{MAX_CHANNELS} channels, got shape {shape}")


def to_mono(samples: np.ndarray, what: str = "audio") -> np.ndarray:
    """1-D samples as they are; 2-D: the channels averaged; anything else raises ValueError."""
    if samples.ndim == 1:
        return samples
    if samples.ndim == 2:
        try:
            return samples.mean(axis=channel_axis(samples.shape), dtype=np.float32)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
    raise ValueError(f"{what}: expected mono samples (1-D) or (samples, channels), got a "
                     f"{samples.ndim}-D array of shape {samples.shape}")


def check_sample_rate(sample_rate, what: str = "sample_rate") -> int:
    """A whole number of Hz (sounddevice reports rates as floats such as 44100.0)."""
    whole = isinstance(sample_rate, (int, np.integer)) or (
        isinstance(sample_rate, (float, np.floating)) and float(sample_rate).is_integer())
    if isinstance(sample_rate, bool) or not whole or sample_rate < MIN_SAMPLE_RATE:
        raise ValueError(f"{what}: expected the audio's sample rate in Hz, a whole number of at least "
                         f"{MIN_SAMPLE_RATE} (e.g. 16000), got {sample_rate!r}")
    return int(sample_rate)


def mono_block(samples, what: str = "samples") -> np.ndarray:
    """A block for the streaming loop: mono (1-D, or 2-D with one channel), possibly empty."""
    floats = pcm_to_float(samples, what)
    if floats.ndim == 1:
        return floats
    if floats.ndim == 2 and 1 in floats.shape:
        return floats.reshape(-1)
    raise ValueError(f"{what}: expected mono samples (1-D), got shape {floats.shape}; mix the channels "
                     f"down first (speechseq.Recognizer.process does)")


def mono_float(audio, what: str = "audio") -> np.ndarray:
    """Any accepted audio (see the module docstring) -> non-empty mono float32 at its own rate."""
    mono = to_mono(pcm_to_float(audio, what), what)
    if mono.size == 0:
        raise ValueError(f"{what}: expected {EXPECTED}, got no samples")
    return mono


def clip_at_rate(audio, sample_rate: int, model_rate: int) -> np.ndarray:
    """A whole clip -> mono float32 at `model_rate` (resampled with speechseq.audio's soxr helper)."""
    mono = mono_float(audio)
    wave = to_mono_16k(mono, check_sample_rate(sample_rate), model_rate)
    if wave.size == 0:
        raise ValueError(f"audio: {mono.size} sample(s) at {sample_rate} Hz are too short to resample")
    return wave


class FrameInput:
    """Frames of a stream -> mono float32 at the model's rate, resampling across frame boundaries.

    A stream at another rate goes through one soxr stream resampler (quality HQ, as
    speechseq.audio.resample), so cutting the audio into frames changes nothing but the last few
    samples' delay. The rate must stay the same until `reset()`.
    """

    def __init__(self, model_rate: int):
        self.model_rate = model_rate
        self.reset()

    def reset(self) -> None:
        self._rate: int | None = None
        self._resampler = None

    def finish(self) -> np.ndarray:
        """The samples the resampler still holds at the end of a stream (none at the model's rate)."""
        if self._resampler is None:
            return np.zeros(0, np.float32)
        return self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)

    def __call__(self, frame, sample_rate: int) -> np.ndarray:
        rate = check_sample_rate(sample_rate)
        mono = mono_float(frame, "frame")
        if self._rate is None:
            self._rate = rate
        elif rate != self._rate:
            raise ValueError(f"sample_rate: this stream is at {self._rate} Hz, got a frame at {rate} Hz; "
                             f"call reset() before starting a stream at another rate")
        if rate == self.model_rate:
            return mono
        if self._resampler is None:
            import soxr

            self._resampler = soxr.ResampleStream(rate, self.model_rate, 1, dtype="float32", quality="HQ")
        return self._resampler.resample_chunk(np.ascontiguousarray(mono))
