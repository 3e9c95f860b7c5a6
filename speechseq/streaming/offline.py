"""The streaming loop's numbers, computed in batches: for tuning and benchmarks over long files.

`window_posteriors` gives exactly the posteriors the recognizer computes hop by hop (same front-end
stage, frames, windows and silence gate), many windows per classifier call; `replay` runs the
smoother over them. Sweeping smoothing settings then costs no model time. `with_flush` appends the
zeros `StreamingRecognizer.flush` feeds at the end of an input.
"""

from __future__ import annotations

import numpy as np

from speechseq.progress import Progress
from speechseq.streaming.enhance import FrontEnd, FrontEndSettings
from speechseq.streaming.frontend import frame_features
from speechseq.streaming.recognizer import hop_and_window_frames
from speechseq.streaming.silence import SILENCE_GATE_DBFS, SilenceGate
from speechseq.streaming.smoothing import Detection, PosteriorSmoother, SmoothingConfig


def hop_frame_indices(n_frames: int, hop_frames: int, window_frames: int) -> np.ndarray:
    """Indices of the last frame of each classified window (as StreamingRecognizer.feed)."""
    ends = np.arange(hop_frames - 1, n_frames, hop_frames)
    return ends[ends >= window_frames - 1]


def with_flush(wave: np.ndarray, sample_rate: int, hop_ms: float, window_ms: float = 1000.0) -> np.ndarray:
    """`wave` followed by the zeros `StreamingRecognizer.flush` feeds when an input ends."""
    pad = round((window_ms + 2 * hop_ms) * sample_rate / 1000)
    return np.concatenate([np.asarray(wave, np.float32), np.zeros(pad, np.float32)])


def window_posteriors(classifier, wave: np.ndarray, hop_ms: float, window_ms: float = 1000.0,
                      batch_size: int = 256, progress: bool = False,
                      front_end: FrontEndSettings | None = None,
                      silence_gate_dbfs: float = SILENCE_GATE_DBFS) -> tuple[np.ndarray, np.ndarray]:
    """(times_ms, probs[n_hops, n_classes]) for the whole wave, through the `front_end` stage (none by
    default) and the silence gate exactly as the live loop runs them."""
    spec = classifier.frontend
    gate = SilenceGate(list(classifier.labels), spec, silence_gate_dbfs)
    stage = FrontEnd(front_end)
    if stage.active:
        wave = stage.push(wave)  # the live loop's stage, fed the whole wave as one block
    feats = frame_features(wave, spec)
    hop_frames, window_frames = hop_and_window_frames(spec, hop_ms, window_ms)
    ends = hop_frame_indices(len(feats), hop_frames, window_frames)
    times = spec.frame_end_sample(ends) * 1000.0 / spec.sample_rate
    windows = np.lib.stride_tricks.sliding_window_view(feats, (window_frames, feats.shape[1]))[:, 0]
    probs = []
    # torch and numpy backends call it `batch`, the ONNX one `classify_batch`
    batched = getattr(classifier, "batch", None) or getattr(classifier, "classify_batch", None)
    starts_of_batches = range(0, len(ends), batch_size)
    for i in Progress(starts_of_batches, total=len(starts_of_batches), desc=f"posteriors hop {hop_ms:g} ms",
                      unit="batch", enabled=progress, mininterval=2.0):
        starts = ends[i:i + batch_size] - window_frames + 1
        chunk = windows[starts]
        probs.append(gate.apply(chunk, batched(chunk) if batched else np.stack([classifier(w) for w in chunk])))
    return times, (np.concatenate(probs) if probs else np.zeros((0, len(classifier.labels))))


def replay(times_ms: np.ndarray, probs: np.ndarray, labels: list[str], config: SmoothingConfig,
           window_ms: float | None = None) -> list[Detection]:
    smoother = PosteriorSmoother(labels, config, window_ms=window_ms)
    out = []
    for t, p in zip(times_ms, probs):
        det = smoother.update(float(t), p)
        if det is not None:
            out.append(det)
    return out
