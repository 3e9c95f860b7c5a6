"""Streaming recognition: audio sources (microphone, file, stdin) -> incremental log-mel -> windowed
classifier on a ring of frames -> posterior smoothing -> detections; detector calibration and the
`speechseq-stream` / `speechseq-listen` commands.

The core (sources for files and stdin, frontend, ring, smoothing, recognizer) imports numpy only,
so it runs where torch is not installed (the ONNX runtime); torch is imported lazily by the
torch backend.
"""

from speechseq.streaming.smoothing import Detection, PosteriorSmoother, SmoothingConfig

__all__ = ["Detection", "PosteriorSmoother", "SmoothingConfig"]
