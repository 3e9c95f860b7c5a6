"""`speechseq.Recognizer`: keyword spotting for applications, in a few lines.

    >>> import numpy as np
    >>> from speechseq import Recognizer
    >>> r = Recognizer.load()                     # the shipped 12-class model, its calibrated detector
    >>> r.labels[2:5]
    ['yes', 'no', 'up']
    >>> quiet = np.random.default_rng(0).normal(0, 0.01, 16000)   # 1 s of faint noise
    >>> r.classify(quiet).label
    '_silence_'
    >>> r.process(np.zeros(1280, np.int16))     # 80 ms of a stream: the words detected in it
    []

One model, one stream: each Recognizer keeps its own stream state, so several can run side by
side on the same frames (two thresholds, two models, two runtimes). The detector is the streaming
loop of speechseq.streaming.recognizer: the knobs of conf/stream/default.yaml, where not given the
values calibrated into the model (speechseq-eval mode=calibrate). speechseq-stream, -listen and
-serve are built on this class (`recognizer_for_config`, then `process`). Guide: docs/api.md.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields, is_dataclass
from pathlib import Path

from speechseq.streaming.backends import load_classifier, resolve_checkpoint
from speechseq.streaming.clips import Classification, classify_wave
from speechseq.streaming.listening import Listening
from speechseq.streaming.recognizer import (
    StreamingRecognizer,
    StreamSettings,
    settings_for,
    settings_from_config,
)
from speechseq.streaming.samples import FrameInput, clip_at_rate
from speechseq.streaming.smoothing import NON_KEYWORDS

RUNTIME_CHOICES = ("auto", "torch", "onnx", "numpy")


def settings_knobs(settings_type=StreamSettings) -> frozenset[str]:
    """The knob names of the stream settings: their own fields, and the fields of the groups nested
    in them (smoothing, ...), as the `stream` config group spells them flat."""
    names = set()
    for f in fields(settings_type):
        group = f.default_factory if f.default_factory is not MISSING else None
        names |= {g.name for g in fields(group)} if is_dataclass(group) else {f.name}
    return frozenset(names)


STREAM_OPTIONS = settings_knobs()


@dataclass(frozen=True)
class KeywordDetection:
    """A word heard in a stream: `label`, its pooled `score`, and `time_s` (from the first frame
    since load or `reset()`) at which the detector fired."""

    label: str
    score: float
    time_s: float

    @property
    def time_ms(self) -> float:
        """`time_s` in milliseconds, as speechseq-stream's CSV writes it. Detections fire on whole
        samples, so rounding to the microsecond takes off only the float error of the seconds."""
        return round(self.time_s * 1000.0, 6)


def stream_options(knobs: Mapping) -> dict:
    """The Recognizer options among a mapping's keys (e.g. the `stream` config group of the
    speechseq-stream/-listen/-serve commands), null values left out (they mean "calibrated")."""
    return {k: knobs[k] for k in knobs if k in STREAM_OPTIONS and knobs[k] is not None}


def check_stream_options(options: Mapping) -> None:
    unknown = sorted(set(options) - STREAM_OPTIONS)
    if unknown:
        raise TypeError(f"unknown stream option(s) {unknown}; choose from {sorted(STREAM_OPTIONS)}")


def choose_runtime(checkpoint, runtime: str) -> str:
    """`auto`: onnx for an .onnx export (or a folder holding model.onnx), else torch where it is
    installed, else numpy (the same numbers from the .safetensors checkpoint)."""
    if runtime not in RUNTIME_CHOICES:
        raise ValueError(f"runtime={runtime!r}: choose one of {list(RUNTIME_CHOICES)}")
    if runtime != "auto":
        return runtime
    if checkpoint is not None:
        path = Path(checkpoint)
        if path.suffix == ".onnx" or (path.is_dir() and (path / "model.onnx").is_file()):
            return "onnx"
    return "torch" if importlib.util.find_spec("torch") is not None else "numpy"


def load_model(checkpoint, runtime: str, num_threads: int | None):
    """(classifier backend, the runtime chosen, the checkpoint path) for `Recognizer.load`'s arguments."""
    chosen = choose_runtime(checkpoint, runtime)
    path = resolve_checkpoint(str(checkpoint) if checkpoint is not None else None, chosen)
    return load_classifier(path, chosen, num_threads=num_threads), chosen, path


class Recognizer:
    """A keyword-spotting model with its stream state: `classify` clips, `process` frames, `listen`.

    Audio may be int16 PCM (scaled by 1/32768, as the microphone path does) or float in [-1, 1],
    mono or several channels (averaged: channels-last `(samples, channels)` or channels-first
    `(channels, samples)`, at most 8), at any sample rate (resampled with soxr). Anything else,
    NaN or inf included, raises ValueError saying what was expected.
    """

    def __init__(self, classifier, settings: StreamSettings | None = None, *, runtime: str = "custom",
                 checkpoint: str | None = None):
        """Wrap a loaded classifier backend (speechseq.streaming.backends); `settings` None: its calibrated ones.

        A stateful (unidirectional) classifier carries its stream state: give each Recognizer its own.
        """
        self.classifier = classifier
        self.stream = StreamingRecognizer(classifier, settings)
        self.runtime, self.checkpoint = runtime, checkpoint
        self._frames = FrameInput(self.sample_rate)
        self._lock = threading.Lock()  # process() from the caller and from a listen() thread

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, runtime: str = "auto", *, num_threads: int | None = 1,
             **stream_options) -> Recognizer:
        """Load a model: None is the shipped one, else a `.safetensors` checkpoint or an `.onnx` export.

        `runtime`: auto | torch | onnx | numpy (see `choose_runtime`). `stream_options` are the knobs
        of conf/stream/default.yaml (threshold=0.8, class_thresholds={"stop": 0.6}, hop_ms=50, ...);
        those not given take the values calibrated into the model, else the defaults. `num_threads`
        caps torch's (numpy's BLAS) threads, process-wide: one small window per hop gains nothing from more.

        >>> Recognizer.load(runtime="numpy", threshold=0.8).settings.smoothing.threshold
        0.8
        """
        check_stream_options(stream_options)
        settings_from_config(stream_options)  # bad values fail before the model loads
        classifier, chosen, path = load_model(checkpoint, runtime, num_threads)
        return cls(classifier, settings_for(classifier, stream_options), runtime=chosen, checkpoint=path)

    @property
    def labels(self) -> list[str]:
        """Every class the model predicts, `_silence_` and `_unknown_` included."""
        return list(self.classifier.labels)

    @property
    def keywords(self) -> list[str]:
        """The classes a detection can carry (the labels but `_silence_` and `_unknown_`)."""
        return [lab for lab in self.classifier.labels if lab not in NON_KEYWORDS]

    @property
    def sample_rate(self) -> int:
        """The model's sample rate; audio at other rates is resampled to it."""
        return int(self.classifier.frontend.sample_rate)

    @property
    def settings(self) -> StreamSettings:
        """The detector in use (hop, window, thresholds, smoothing)."""
        return self.stream.settings

    @property
    def latest_scores(self) -> dict[str, float]:
        """The raw posteriors of the latest hop of the stream ({} before the first)."""
        probs = self.stream.probs
        return {} if probs is None else {lab: float(p) for lab, p in zip(self.classifier.labels, probs)}

    def classify(self, audio, sample_rate: int = 16000) -> Classification:
        """One clip of any length -> its Classification (`label`, `score`, `scores`); no stream state.

        Shorter than the model's window (1 s): zero-padded at the end, as in training. Longer: the
        window whose top class is a word with the highest score (speechseq.streaming.clips).

        >>> import numpy as np
        >>> r = Recognizer.load(runtime="numpy")
        >>> stereo = np.random.default_rng(0).normal(0, 0.01, (48000, 2))   # 1 s at 48 kHz, channels last
        >>> result = r.classify(stereo, sample_rate=48000)
        >>> result.label, sorted(result.scores) == sorted(r.labels)
        ('_silence_', True)
        """
        wave = clip_at_rate(audio, sample_rate, self.sample_rate)
        return classify_wave(self.classifier, wave, self._window_samples, self.stream.hop_frames)

    def classify_file(self, path: str | Path) -> Classification:
        """`classify` a sound file (any format soundfile reads, any rate and channel count)."""
        from speechseq.audio import read_audio

        return classify_wave(self.classifier, read_audio(path, self.sample_rate), self._window_samples,
                             self.stream.hop_frames)

    @property
    def _window_samples(self) -> int:
        return round(self.settings.window_ms * self.sample_rate / 1000)

    def process(self, frame, sample_rate: int = 16000) -> list[KeywordDetection]:
        """The next frame of a stream (any length, int16 or float) -> the words detected in it.

        Frames must keep one sample rate until `reset()`. Detections are rare: one per word said.

        >>> import numpy as np
        >>> r = Recognizer.load(runtime="numpy")
        >>> [r.process(np.zeros(1280, np.int16)) for _ in range(3)]
        [[], [], []]
        """
        samples = self._frames(frame, sample_rate)
        with self._lock:
            fired = self.stream.feed(samples)
        return [KeywordDetection(d.label, d.score, d.time_ms / 1000.0) for d in fired]

    def reset(self) -> None:
        """Forget the stream: the next frame starts a new one (its time 0)."""
        with self._lock:
            self.stream.reset()
            self._frames.reset()

    def listen(self, on_detection: Callable[[KeywordDetection], object], device: int | str | None = None, *,
               block_ms: float = 50.0, source=None) -> Listening:
        """Call `on_detection(detection)` for each word heard on a microphone, from a background thread.

        `device`: an input device index or name (None: the default input). `source`: any
        speechseq.streaming.sources AudioSource to read instead (e.g. WavFileSource(path,
        realtime=True)). Starts a new stream (reset). Raises SourceError when there is no microphone,
        no sounddevice package or no PortAudio, saying what to install. Stop with `.stop()`, or:

            with r.listen(lambda d: print(d.label)):
                time.sleep(60)
        """
        if source is None:
            from speechseq.streaming.sources import MicrophoneSource

            source = MicrophoneSource(device, block_ms=block_ms, sample_rate=self.sample_rate)
        self.reset()
        return Listening(self.process, source, on_detection).start()

    def __repr__(self) -> str:
        smoothing = self.settings.smoothing
        return (f"Recognizer({self.checkpoint or type(self.classifier).__name__!s}, runtime={self.runtime}, "
                f"threshold={smoothing.threshold:g}, keywords={self.keywords})")


def recognizer_for_config(cfg, classifier=None) -> Recognizer:
    """The Recognizer a speechseq-stream/-listen/-serve config asks for: `cfg.checkpoint` on
    `cfg.runtime` with `cfg.num_threads`, the `cfg.stream` knobs over the model's calibration.

    `classifier`: a backend already loaded (the tests inject one) instead of the checkpoint. The
    whole `stream` group goes to the settings, as `Recognizer.load(**stream_options(group))` would.
    """
    settings_from_config(cfg.stream)  # bad knobs fail before the model loads
    runtime, checkpoint = "custom", None
    if classifier is None:
        classifier, runtime, checkpoint = load_model(cfg.checkpoint, cfg.runtime, cfg.num_threads)
    return Recognizer(classifier, settings_for(classifier, cfg.stream), runtime=runtime, checkpoint=checkpoint)
