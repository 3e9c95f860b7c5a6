"""Streaming recognition: audio sources -> incremental log-mel -> windowed classifier -> smoothed detections.

The core (sources for files and stdin, frontend, ring, smoothing, recognizer) imports numpy only,
so it runs where torch is not installed (the ONNX runtime); torch is imported lazily by the
torch backend.
"""

from speechseq.streaming.smoothing import Detection, PosteriorSmoother, SmoothingConfig

__all__ = ["Detection", "PosteriorSmoother", "SmoothingConfig"]
