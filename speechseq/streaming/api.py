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
    >>> r.classify(np.zeros(16000, np.int16)).label    # digital silence, as a muted microphone gives
    '_silence_'

One model, one stream: each Recognizer keeps its own stream state, so several can run side by
side on the same frames (two thresholds, two models, two runtimes). The detector is the streaming
loop of speechseq.streaming.recognizer: the knobs of conf/stream/default.yaml, where not given the
values calibrated into the model (speechseq-eval mode=calibrate). speechseq-stream, -listen and
-serve are built on this class (`recognizer_for_config`, then `process`). Guide: docs/api.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from speechseq.deploy.model_info import ModelInfo, model_info
from speechseq.streaming.clips import Classification, classify_wave
from speechseq.streaming.listening import Listening
from speechseq.streaming.loading import (  # noqa: F401  (importable from here, as they always were)
    RUNTIME_CHOICES,
    STREAM_OPTIONS,
    check_stream_options,
    choose_runtime,
    load_model,
    settings_knobs,
    stream_options,
)
from speechseq.streaming.recognizer import (
    StreamingRecognizer,
    StreamSettings,
    settings_for,
    settings_from_config,
)
from speechseq.streaming.samples import AudioLike, FrameInput, clip_at_rate
from speechseq.streaming.smoothing import NON_KEYWORDS, Detection


@dataclass(frozen=True)
class KeywordDetection:
    """A word heard in a stream: `label`, its pooled `score`, and `time_s` (from the first frame
    since load or `reset()`) at which the detector fired.

    `score` is the score pooled over `average_window_ms` at the hop the word fired at: with the
    default detector the first hop above the threshold, so it sits just above it (`detector="peak"`
    reports the highest pooled score, a hop or more later). `scores` holds every class's pooled
    score at that hop; `start_s` and `end_s` where the word is as the pooled windows see it (the
    audio every window whose top class was the word holds; within a hop or two of the speech).
    """

    label: str
    score: float
    time_s: float
    start_s: float | None = field(default=None, compare=False)
    end_s: float | None = field(default=None, compare=False)
    scores: Mapping[str, float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def time_ms(self) -> float:
        """`time_s` in milliseconds, as speechseq-stream's CSV writes it. Detections fire on whole
        samples, so rounding to the microsecond takes off only the float error of the seconds."""
        return round(self.time_s * 1000.0, 6)

    @classmethod
    def from_detection(cls, d: Detection, labels: list[str]) -> KeywordDetection:
        """The streaming loop's Detection (milliseconds, scores in the labels' order) for applications."""
        def seconds(ms: float | None) -> float | None:
            return None if ms is None else max(0.0, ms / 1000.0)

        return cls(d.label, d.score, d.time_ms / 1000.0, seconds(d.start_ms), seconds(d.end_ms),
                   dict(zip(labels, d.scores)))


class Recognizer:
    """A keyword-spotting model with its stream state: `classify` clips, `process` frames, `listen`.

    Audio may be int16 PCM (scaled by 1/32768, as the microphone path does) or float in [-1, 1],
    mono or several channels (averaged: channels-last `(samples, channels)` or channels-first
    `(channels, samples)`, at most 8), at any sample rate (resampled with soxr); a list of ints is
    int16 PCM. Anything else, NaN or inf included, raises ValueError saying what was expected. Files
    are held to the same rule (speechseq.audio.checked_floats).
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
        self._ended = False  # flush() ended the stream: the next frame starts a new one

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, runtime: str = "auto", *, num_threads: int | None = 1,
             **stream_options) -> Recognizer:
        """Load a model: None is the shipped one, else a `.safetensors` checkpoint or an `.onnx` export.

        `runtime`: auto | torch | onnx | numpy (see `choose_runtime`). `stream_options` are the knobs
        of conf/stream/default.yaml (threshold=0.8, class_thresholds={"stop": 0.6}, hop_ms=50, ...);
        those not given take the values calibrated into the model, else the defaults. `num_threads`
        caps torch's (numpy's BLAS) threads, process-wide: one small window per hop gains nothing from more.
        A missing path, or a folder without a model in it, raises FileNotFoundError; a file that is
        not a model, or one the runtime cannot read, ValueError (speechseq.errors.CheckpointError).

        >>> Recognizer.load(runtime="numpy", threshold=0.8).settings.smoothing.threshold
        0.8
        """
        check_stream_options(stream_options)
        settings_from_config(stream_options)  # bad values fail before the model loads
        classifier, chosen, path = load_model(checkpoint, runtime, num_threads)
        return cls(classifier, settings_for(classifier, stream_options), runtime=chosen, checkpoint=path)

    @property
    def info(self) -> ModelInfo:
        """The model's name, speechseq version, labels, training data and calibrated detector, as
        stored in it: the same on every runtime (speechseq.deploy.model_info)."""
        return model_info(getattr(self.classifier, "metadata", None), self.checkpoint)

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
        """The raw posteriors of the latest hop of the stream ({} before the first; a window of digital
        silence: `_silence_` at 1.0, see `silence_gate_dbfs` in docs/api.md)."""
        probs = self.stream.probs
        return {} if probs is None else {lab: float(p) for lab, p in zip(self.classifier.labels, probs)}

    def classify(self, audio: AudioLike, sample_rate: float = 16000) -> Classification:
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
        return classify_wave(self.classifier, wave, self._window_samples, self.stream.hop_frames, self.stream.gate)

    def classify_file(self, path: str | Path) -> Classification:
        """`classify` a sound file (any format soundfile reads, any rate and channel count).

        A missing file raises FileNotFoundError, one that is not audio OSError, samples the model
        cannot use (NaN, floats far beyond full scale) ValueError: all speechseq.audio.AudioReadError.
        """
        from speechseq.audio import read_audio

        if not isinstance(path, (str, Path)):
            hint = "; for samples use classify(audio, sample_rate)" if not isinstance(path, bytes) else ""
            raise TypeError(f"classify_file: expected a path (str or pathlib.Path), got {type(path).__name__}{hint}")
        return classify_wave(self.classifier, read_audio(path, self.sample_rate, strict=True), self._window_samples,
                             self.stream.hop_frames, self.stream.gate)

    @property
    def _window_samples(self) -> int:
        return round(self.settings.window_ms * self.sample_rate / 1000)

    def process(self, frame: AudioLike, sample_rate: float = 16000, *, final: bool = False) -> list[KeywordDetection]:
        """The next frame of a stream (any length, int16 or float) -> the words detected in it.

        Frames must keep one sample rate until `reset()`. Detections are rare: one per word said.
        `final=True`: the input ends with this frame (see `flush`).

        >>> import numpy as np
        >>> r = Recognizer.load(runtime="numpy")
        >>> [r.process(np.zeros(1280, np.int16)) for _ in range(3)]
        [[], [], []]
        """
        samples = self._frames(frame, sample_rate) if not self._ended else None
        with self._lock:
            if samples is None:  # the first frame after flush(): a new stream
                self._restart()
                samples = self._frames(frame, sample_rate)
            fired = self.stream.feed(samples)
        detections = self._keyword_detections(fired)
        return detections + self.flush() if final else detections

    def flush(self) -> list[KeywordDetection]:
        """The input has ended (a file, a pipe): the words its last second still holds.

        A word at the very end is otherwise never reported, since the detector needs the audio after
        it; flush feeds digital silence until no window holds the input, so that word is scored as
        one followed by more audio would be (its detection may lie up to a second past the end). The
        next `process` starts a new stream at time 0; until then `latest_scores` and `stream` keep
        the ended one's.
        """
        with self._lock:
            if self._ended:
                return []
            tail = self._frames.finish()  # what the resampler still holds
            fired = self.stream.feed(tail) if tail.size else []
            fired += self.stream.flush()
            self._ended = True
        return self._keyword_detections(fired)

    def _keyword_detections(self, fired: list[Detection]) -> list[KeywordDetection]:
        return [KeywordDetection.from_detection(d, self.classifier.labels) for d in fired]

    def reset(self) -> None:
        """Forget the stream: the next frame starts a new one (its time 0)."""
        with self._lock:
            self._restart()

    def _restart(self) -> None:
        self.stream.reset()
        self._frames.reset()
        self._ended = False

    def listen(self, on_detection: Callable[[KeywordDetection], object], device: int | str | None = None, *,
               block_ms: float = 50.0, source=None) -> Listening:
        """Call `on_detection(detection)` for each word heard on a microphone, from a background thread.

        `device`: an input device index or name (None: the default input). `source`: any
        speechseq.streaming.sources AudioSource to read instead (e.g. WavFileSource(path,
        realtime=True)); when a file ends, its last words are flushed (`flush`). Starts a new stream
        (reset). Raises SourceError when there is no microphone, no sounddevice package or no
        PortAudio, saying what to install. Stop with `.stop()`, or:

            with r.listen(lambda d: print(d.label)):
                time.sleep(60)
        """
        if source is None:
            from speechseq.streaming.sources import MicrophoneSource

            source = MicrophoneSource(device, block_ms=block_ms, sample_rate=self.sample_rate)
        self.reset()
        return Listening(self.process, source, on_detection, flush=self.flush).start()

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
