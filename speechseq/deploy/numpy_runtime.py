"""A trained checkpoint (.safetensors) on numpy alone: no torch, no onnxruntime.

`NumpyClassifier(path)` fulfils the streaming classifier-backend contract (`labels`, `frontend`,
`__call__(features[frames, n_mels]) -> probabilities[n_classes]`, and `step`/`reset` for
unidirectional models); `python -m speechseq.deploy.numpy_runtime CHECKPOINT FILE.wav...` classifies
clips. The weights are read with safetensors' numpy API; the forward pass is speechseq.models.numpy_model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from speechseq.deploy.checkpoint_meta import CheckpointError, open_checkpoint
from speechseq.models.carried_state import CarriedState
from speechseq.models.numpy_model import NumpyRecurrentClassifier, softmax


class NumpyClassifier(CarriedState):
    """A speechseq inference checkpoint as a numpy classifier backend."""

    def __init__(self, path: str | Path, dtype=np.float32):
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        path = Path(path)
        if path.suffix == ".onnx":
            raise CheckpointError(f"{path}: runtime=numpy reads the .safetensors checkpoint; "
                                  f"an .onnx export needs runtime=onnx")
        info = open_checkpoint(path)
        if info.frontend.kind == "speech_embedding":
            raise CheckpointError(f"{path}: runtime=numpy cannot run the speech_embedding front end (a network that "
                                  f"needs onnxruntime); use runtime=torch, or export it and use runtime=onnx")
        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: cannot read its weights ({exc})") from None
        try:
            self.model = NumpyRecurrentClassifier(info.spec, tensors, dtype)
        except ValueError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
        self.path = path
        self.spec = info.spec
        self.labels = info.labels
        self.frontend = info.frontend
        self.metadata = info.metadata
        self.reset()

    def batch(self, features: np.ndarray) -> np.ndarray:
        """(B, frames, n_mels) raw log-mel -> (B, n_classes) probabilities."""
        return self.model.probabilities(features)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """(frames, n_mels) raw log-mel of one window -> (n_classes,) probabilities."""
        features = np.asarray(features)
        if features.ndim != 2:
            raise ValueError(f"expected one window (frames, n_mels), got shape {features.shape}")
        return self.batch(features[None])[0]

    # --- stateful mode (CarriedState's hooks) ----------------------------------------------------
    def _advance(self, frames: np.ndarray) -> np.ndarray:
        outputs, self._state = self.model.encode(self.model.normalize(frames[None]), self._state)
        return outputs[0]

    def _pool(self, outputs: np.ndarray) -> np.ndarray:
        logits = self.model.classify(np.asarray(outputs, self.model.dtype)[None])
        return softmax(logits)[0].astype(np.float32)


def limit_blas_threads(num_threads: int | None) -> None:
    """Cap numpy's BLAS threads (process-wide), as num_threads caps torch's: a window's small matmuls
    gain nothing from more, and OpenBLAS threads spin-waiting on a busy machine stall hops by 100 ms."""
    if not num_threads:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a minimal install: OPENBLAS_NUM_THREADS=1 in the environment does the same
        return
    threadpool_limits(int(num_threads), user_api="blas")


def main(argv: list[str] | None = None) -> int:
    """`python -m speechseq.deploy.numpy_runtime CHECKPOINT FILE.wav...`: one line per file, torch never imported."""
    from speechseq.deploy.onnx_runtime import (
        classify_files_cli,  # the same command line as the ONNX runtime
    )

    return classify_files_cli("python -m speechseq.deploy.numpy_runtime",
                              "Classify 1 s WAV clips with a speechseq checkpoint, computed in numpy.",
                              "an inference checkpoint (.safetensors) written by speechseq-train",
                              NumpyClassifier, CheckpointError, argv)


if __name__ == "__main__":
    raise SystemExit(main())
