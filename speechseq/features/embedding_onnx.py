"""The speech embedding on onnxruntime and numpy alone: the streaming loop and the torch-free runtimes.

`OnnxEmbedder(spec)` runs openWakeWord's `embedding_model.onnx` as shipped, on windows of 76 mel
frames 8 apart (`embed_mel`), or on a whole wave (`__call__`). `full_conv_graph` rewrites the same
graph to take any number of mel frames at once (its two fixed reshapes become transposes): one
pass per clip gives every embedding, bit for bit what the windows give, at half the CPU time;
the trainer runs it (speechseq.features.speech_embedding). Rewriting needs the `onnx` package;
running either needs only onnxruntime.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from speechseq.features.embedding_mel import MEL_BANDS, mel_frames
from speechseq.features.embedding_spec import (
    EMBEDDING_DIM,
    STEP_MEL_FRAMES,
    WINDOW_MEL_FRAMES,
    EmbeddingSpec,
    embedding_model_path,
    require_module,
)

INPUT_NAME = "input_1"  # the graph's, (windows, 76, 32, 1)
BATCH_WINDOWS = 64


def ort_session(model: str | Path | bytes, threads: int = 1):
    """An onnxruntime CPU session on `model` (a file or a serialised graph), `threads` intra-op threads."""
    ort = require_module("onnxruntime", "onnxruntime", "to run the embedding model")
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the graph's unused initialisers are not worth a warning per session
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), sess_options=options,
                                providers=["CPUExecutionProvider"])


def window_starts(n_mel_frames: int) -> np.ndarray:
    """First mel frame of each embedding a run of `n_mel_frames` frames holds."""
    if n_mel_frames < WINDOW_MEL_FRAMES:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_mel_frames - WINDOW_MEL_FRAMES + 1, STEP_MEL_FRAMES)


class OnnxEmbedder:
    """Mel frames or waves -> 96-d embeddings, with the unmodified ONNX graph on onnxruntime."""

    def __init__(self, spec: EmbeddingSpec = EmbeddingSpec(), threads: int = 1):
        self.spec = spec
        self.path = embedding_model_path(spec)
        self.session = ort_session(self.path, threads)

    def embed_mel(self, mel: np.ndarray) -> np.ndarray:
        """(n, 32) scaled mel frames -> ((n - 76) // 8 + 1, 96) float32 embeddings (none below 76 frames)."""
        mel = np.asarray(mel, dtype=np.float32)
        if mel.ndim != 2 or mel.shape[1] != MEL_BANDS:
            raise ValueError(f"expected mel frames (n, {MEL_BANDS}), got shape {mel.shape}")
        starts = window_starts(len(mel))
        if starts.size == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(mel, (WINDOW_MEL_FRAMES, MEL_BANDS))[starts, 0]
        out = [self.session.run(None, {INPUT_NAME: np.ascontiguousarray(windows[i:i + BATCH_WINDOWS, :, :, None])})[0]
               for i in range(0, len(windows), BATCH_WINDOWS)]
        return np.concatenate(out).reshape(len(windows), EMBEDDING_DIM)

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        """Mono samples in [-1, 1] at 16 kHz -> (spec.num_frames(len(wave)), 96) embeddings."""
        return self.embed_mel(mel_frames(wave))


@lru_cache(maxsize=4)
def embedder_for(spec: EmbeddingSpec) -> OnnxEmbedder:
    """One embedder (one onnxruntime session) per process for a spec: streams and files share it."""
    return OnnxEmbedder(spec)


def embed_wave(wave: np.ndarray, spec: EmbeddingSpec) -> np.ndarray:
    """Whole-signal embeddings (frames, 96); what the streaming loop produces frame by frame."""
    return embedder_for(spec)(wave)


def full_conv_graph(path: str | Path) -> bytes:
    """The embedding graph rewritten to read (batch, any mel frames, 32, 1) and give (batch, embeddings, 96).

    The network is convolutional in time (valid in time, stride 8), so on a long input it computes
    exactly the embeddings of the 76-frame windows 8 apart, sharing the work of the overlaps.
    """
    onnx = require_module("onnx", "onnx", "to rewrite the embedding graph for whole clips")
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    graph = model.graph
    nodes = list(graph.node)
    first, last = nodes[1], nodes[-1]
    if first.op_type != "Reshape" or last.op_type != "Reshape" or nodes[0].op_type != "Pad":
        raise ValueError(f"{path}: not the graph speechseq knows (Pad, Reshape ... Reshape)")
    # (batch, frames, 34, 1) -> (batch, 1, frames, 34): the channel axis is 1 wide, so this is the reshape
    nodes[1] = helper.make_node("Transpose", [first.input[0]], [first.output[0]], perm=[0, 3, 1, 2])
    # (batch, 96, embeddings, 1) -> (batch, embeddings, 96)
    graph.initializer.append(helper.make_tensor("speechseq_embeddings_shape", TensorProto.INT64, [3],
                                                [0, -1, EMBEDDING_DIM]))
    nodes[-1:] = [helper.make_node("Transpose", [last.input[0]], ["speechseq_embeddings_4d"], perm=[0, 2, 3, 1]),
                  helper.make_node("Reshape", ["speechseq_embeddings_4d", "speechseq_embeddings_shape"],
                                   [last.output[0]])]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.input[0].type.tensor_type.shape.dim[1].dim_param = "mel_frames"
    out = graph.output[0].type.tensor_type.shape
    del out.dim[:]
    for name in ("batch", "embeddings"):
        out.dim.add().dim_param = name
    out.dim.add().dim_value = EMBEDDING_DIM
    return model.SerializeToString()
