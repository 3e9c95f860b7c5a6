"""The streaming loop: audio blocks in, detections out.

Every `hop_ms` of audio the classifier sees the last `window_ms` of frames (the ring: log-mel,
or speech embeddings every 80 ms for features=speech_embedding, whose hops then fall every 80 ms)
and its posteriors go to the smoother. An optional front-end stage (`settings.front_end`,
speechseq.streaming.enhance: dereverberation) changes the samples before the log-mel. Hops fall
on fixed frame indices, so the detections do not depend on how the audio was cut into blocks.
A window quieter than `silence_gate_dbfs` is `_silence_` without asking the model
(speechseq.streaming.silence). `flush()` ends the input: zeros until the last window holds none of
it, so a word at the very end is scored as any other.

A classifier is any object with `labels`, `frontend` (FrontendSpec) and
`__call__(features[frames, n_mels]) -> probabilities[n_classes]`. One that also has
`step(frames) -> probabilities | None` and `reset()` (a unidirectional RNN) can run in
stateful mode: it carries its state frame by frame instead of re-reading the window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from speechseq.models.ring import FrameRing
from speechseq.streaming.calibration_store import calibration_of
from speechseq.streaming.enhance import FrontEnd, FrontEndSettings
from speechseq.streaming.frontend import incremental_frontend
from speechseq.streaming.samples import mono_block
from speechseq.streaming.silence import SILENCE_GATE_DBFS, SilenceGate
from speechseq.streaming.smoothing import Detection, PosteriorSmoother, SmoothingConfig

MODES = ("window", "stateful", "auto")


@dataclass(frozen=True)
class StreamSettings:
    hop_ms: float = 100.0
    window_ms: float = 1000.0
    mode: str = "window"     # window | stateful | auto (stateful when the model allows it)
    silence_gate_dbfs: float = SILENCE_GATE_DBFS  # quieter windows are _silence_; -inf: off
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    front_end: FrontEndSettings = field(default_factory=FrontEndSettings)  # stream.enhance

    def __post_init__(self):
        if self.hop_ms < 10:
            raise ValueError(f"stream.hop_ms must be at least one frame (10 ms), got {self.hop_ms}")
        if self.window_ms < 100:
            raise ValueError(f"stream.window_ms must be at least 100, got {self.window_ms}")
        if self.mode not in MODES:
            raise ValueError(f"stream.mode={self.mode!r}: choose one of {list(MODES)}")
        if not self.silence_gate_dbfs <= 0:  # NaN too
            raise ValueError(f"stream.silence_gate_dbfs must be at most 0 dBFS (-inf turns the gate off), "
                             f"got {self.silence_gate_dbfs}")


def hop_and_window_frames(spec, hop_ms: float, window_ms: float) -> tuple[int, int]:
    """Frames between classified windows, and frames in a window, for these settings."""
    hop_frames = max(1, round(hop_ms * spec.sample_rate / 1000 / spec.hop_length))
    return hop_frames, spec.num_frames(round(window_ms * spec.sample_rate / 1000))


def supports_stateful(classifier) -> bool:
    return callable(getattr(classifier, "step", None)) and bool(getattr(classifier, "stateful", False))


class StreamingRecognizer:
    def __init__(self, classifier, settings: StreamSettings | None = None):
        """`settings` None: the detector settings calibrated into the classifier's metadata, else the defaults."""
        self.classifier = classifier
        if settings is None:
            settings = settings_from_config({}, calibration_of(getattr(classifier, "metadata", None)))
        self.settings = settings
        spec = classifier.frontend
        self.spec = spec
        self.front_end = FrontEnd(settings.front_end)  # before the log-mel
        self.frontend = incremental_frontend(spec)
        self.hop_frames, self.window_frames = hop_and_window_frames(spec, settings.hop_ms, settings.window_ms)
        if settings.mode == "stateful" and not supports_stateful(classifier):
            raise ValueError("stream.mode=stateful needs a unidirectional model (model.bidirectional=false) "
                             "and a runtime that carries its state; use stream.mode=window")
        self.stateful = settings.mode == "stateful" or (settings.mode == "auto" and supports_stateful(classifier))
        self.ring = FrameRing(self.window_frames, spec.feature_dim)
        self.gate = SilenceGate(list(classifier.labels), spec, settings.silence_gate_dbfs)
        self.smoother = PosteriorSmoother(classifier.labels, settings.smoothing, window_ms=settings.window_ms)
        self.hop_seconds: list[float] = []  # compute time per hop (classifier + smoother)
        self.probs: np.ndarray | None = None  # the latest raw posteriors
        self.level_dbfs = -120.0
        self.reset()

    def reset(self) -> None:
        self.front_end.reset()
        self.frontend.reset()
        self._samples_in = 0
        self.front_end_seconds = 0.0  # compute time of the front-end stage (not in hop_seconds)
        self.ring.clear()
        self.smoother.reset()
        self._pending_state_frames: list[np.ndarray] = []
        if self.stateful:
            self.classifier.reset(window_frames=self.window_frames)
        self.hop_seconds = []
        self.probs = None
        self.latest_frames = np.zeros((0, self.spec.feature_dim), np.float32)

    @property
    def samples_seen(self) -> int:
        return self._samples_in

    def time_ms_of_frame(self, frame_index: int) -> float:
        """Time at which frame `frame_index` is complete, from the start of the audio."""
        return self.spec.frame_end_sample(frame_index) * 1000.0 / self.spec.sample_rate

    def feed(self, samples: np.ndarray) -> list[Detection]:
        """Mono samples at the frontend's rate -> detections that fired within them.

        Float samples in [-1, 1] as the sources give them, or int16 PCM, scaled by 1/32768 as the
        microphone path scales it; other dtypes, NaN/inf, floats beyond +-2 and several channels raise
        ValueError (speechseq.streaming.samples says why: int16 taken as floats used to detect nothing).
        """
        samples = mono_block(samples, "StreamingRecognizer.feed")
        if samples.size:
            rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
            self.level_dbfs = 20 * np.log10(max(rms, 1e-6))
        self._samples_in += samples.size
        return self._push(samples)

    def flush_samples(self) -> int:
        """Zeros `flush` feeds: a window and two hops, so the last hop's window holds none of the input
        (and a peak detector sees the score fall)."""
        return round((self.settings.window_ms + 2 * self.settings.hop_ms) * self.spec.sample_rate / 1000)

    def flush(self) -> list[Detection]:
        """The input has ended: the detections its last words give when followed by digital silence,
        as a word followed by more audio would be scored. Not counted in `samples_seen` or the level."""
        return self._push(np.zeros(self.flush_samples(), np.float32))

    def _push(self, samples: np.ndarray) -> list[Detection]:
        if self.front_end.active:
            t0 = time.perf_counter()
            samples = self.front_end.push(samples)
            self.front_end_seconds += time.perf_counter() - t0
        first = self.frontend.frames_out
        frames = self.frontend.push(samples)
        self.latest_frames = frames  # what the model sees, for live views (speechseq-serve's spectrogram)
        detections = []
        start = 0
        while start < len(frames):
            index = first + start  # absolute index of frames[start]
            # push up to and including the next frame whose index completes a hop
            to_boundary = (self.hop_frames - 1 - index) % self.hop_frames
            stop = min(len(frames), start + to_boundary + 1)
            chunk = frames[start:stop]
            self.ring.push(chunk)
            if self.stateful:
                self._pending_state_frames.append(chunk)
            last = first + stop - 1
            if (last + 1) % self.hop_frames == 0 and self.ring.full:
                det = self._hop(last)
                if det is not None:
                    detections.append(det)
            start = stop
        return detections

    def _hop(self, last_frame: int) -> Detection | None:
        t0 = time.perf_counter()
        silent = self.gate.silent(self.ring.window())
        if self.stateful:  # the state steps on, silent or not
            pending = np.concatenate(self._pending_state_frames)
            self._pending_state_frames = []
            probs = self.classifier.step(pending)
        else:
            probs = None if silent else self.classifier(self.ring.window())
        if silent and (probs is not None or not self.stateful):
            probs = self.gate.probs
        det = None
        if probs is not None:
            self.probs = np.asarray(probs)
            det = self.smoother.update(self.time_ms_of_frame(last_frame), self.probs)
        self.hop_seconds.append(time.perf_counter() - t0)
        return det

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The k most likely classes of the latest hop (raw posteriors)."""
        if self.probs is None:
            return []
        order = np.argsort(self.probs)[::-1][:k]
        return [(self.classifier.labels[i], float(self.probs[i])) for i in order]


def hop_timing_summary(hop_seconds: list[float]) -> dict:
    if not hop_seconds:
        return {"hops": 0}
    ms = np.asarray(hop_seconds) * 1000
    return {"hops": int(ms.size), "mean_ms": float(ms.mean()), "median_ms": float(np.median(ms)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max())}


def smoothing_from_config(knobs, calibration: dict | None = None) -> SmoothingConfig:
    """The detector settings: each knob as given, where null (or absent) the calibrated value, else
    the default. An explicit `threshold` also drops calibrated per-class thresholds; empty
    `class_thresholds` means none given."""
    calibration = calibration or {}
    defaults = SmoothingConfig()

    def pick(key):
        value = knobs.get(key) if hasattr(knobs, "get") else None
        return value if value is not None else calibration.get(key, getattr(defaults, key))

    explicit_classes = knobs.get("class_thresholds") if hasattr(knobs, "get") else None
    if explicit_classes:
        per_class = dict(explicit_classes)
    elif (knobs.get("threshold") if hasattr(knobs, "get") else None) is not None:
        per_class = {}
    else:
        per_class = dict(calibration.get("class_thresholds") or {})
    return SmoothingConfig(average_window_ms=float(pick("average_window_ms")), threshold=float(pick("threshold")),
                           suppression_ms=float(pick("suppression_ms")), minimum_count=int(pick("minimum_count")),
                           detector=str(pick("detector")), margin=float(pick("margin")),
                           temperature=float(pick("temperature")),
                           class_thresholds=tuple((str(k), float(v)) for k, v in per_class.items()))


def front_end_from_config(knobs) -> FrontEndSettings:
    """The front-end stage from the `stream` knob `enhance` (null or absent: none)."""
    value = knobs.get("enhance") if hasattr(knobs, "get") else None
    return FrontEndSettings() if value is None else FrontEndSettings(enhance=str(value))


def settings_from_config(knobs, calibration: dict | None = None) -> StreamSettings:
    """StreamSettings from the `stream` config group (any mapping with its keys), null knobs filled
    from `calibration` (the `calibration_of` a model's metadata), then from the defaults."""
    defaults = StreamSettings()

    def get(key):
        value = knobs.get(key) if hasattr(knobs, "get") else None
        return getattr(defaults, key) if value is None else value

    return StreamSettings(hop_ms=float(get("hop_ms")), window_ms=float(get("window_ms")), mode=str(get("mode")),
                          silence_gate_dbfs=float(get("silence_gate_dbfs")),
                          smoothing=smoothing_from_config(knobs, calibration),
                          front_end=front_end_from_config(knobs))


def settings_for(classifier, knobs) -> StreamSettings:
    """The settings for `classifier`: the config's knobs over the calibration in its metadata."""
    return settings_from_config(knobs, calibration_of(getattr(classifier, "metadata", None)))
