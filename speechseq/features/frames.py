"""Whole-signal frames of either frontend without torch: log-mel (numpy) or speech embeddings
(numpy + onnxruntime), for the torch-free runtimes, file classification and offline streams."""

from __future__ import annotations

import numpy as np

from speechseq.features.numpy_logmel import log_mel


def frame_features(wave: np.ndarray, spec) -> np.ndarray:
    """Mono samples in [-1, 1] at spec.sample_rate -> frames (spec.num_frames(len(wave)), spec.feature_dim)."""
    if spec.kind == "speech_embedding":
        from speechseq.features.embedding_onnx import embed_wave  # onnxruntime: only for this frontend

        return embed_wave(wave, spec)
    return log_mel(wave, spec)
