"""Classifier backends for the streaming loop.

A backend has `labels`, `frontend` (FrontendSpec) and `__call__(features) -> probabilities`,
where `features` are raw log-mel frames (frames, n_mels) float32 (the model normalises them).
Torch is imported only when a torch backend is made, so the rest of the streaming package runs
without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from speechseq.errors import CheckpointError
from speechseq.models.carried_state import CarriedState

RUNTIMES = ("torch", "onnx", "numpy")


class TorchClassifier(CarriedState):
    """A RecurrentClassifier on the CPU; windowed calls, and `step` for unidirectional models."""

    def __init__(self, model, labels: list[str], frontend, metadata: dict | None = None):
        import torch

        self._torch = torch
        self.model = model.eval()
        self.spec = model.spec
        self.labels = list(labels)
        self.frontend = frontend
        self.metadata = metadata or {}
        self.reset()

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> "TorchClassifier":
        from speechseq.deploy.checkpoint import load_inference

        loaded = load_inference(path, map_location="cpu")
        return cls(loaded.model, loaded.labels, loaded.frontend, loaded.metadata)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return self.batch(np.asarray(features)[None])[0]

    def batch(self, features: np.ndarray) -> np.ndarray:
        """(B, frames, n_mels) -> (B, n_classes); for offline sweeps over many windows."""
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
            return torch.softmax(self.model(x).float(), dim=-1).numpy()

    # --- stateful mode (CarriedState's hooks) ----------------------------------------------------
    def _advance(self, frames: np.ndarray) -> np.ndarray:
        torch, k = self._torch, self.spec.frame_stack
        with torch.inference_mode():
            x = self.model.normalize(torch.from_numpy(np.ascontiguousarray(frames)))
            out, self._state = self.model.rnn(x.reshape(1, len(frames) // k, k * frames.shape[1]), self._state)
            return out[0].numpy()

    def _pool(self, outputs: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            logits = self.model.classify(torch.from_numpy(outputs)[None])
            return torch.softmax(logits.float(), dim=-1)[0].numpy()


def load_classifier(checkpoint: str | Path, runtime: str = "torch", num_threads: int | None = 1):
    """A backend for `checkpoint`: `torch` or `numpy` (speechseq.deploy.numpy_runtime) on the .safetensors
    checkpoint, or `onnx` (speechseq.deploy.onnx_runtime) on an export.

    `num_threads` caps torch's CPU threads (numpy's BLAS threads for runtime=numpy): one small
    window per hop gains nothing from more, and a live loop should leave the other cores alone.
    """
    check_runtime_fits(checkpoint, runtime)
    if runtime == "torch":
        try:
            import torch
        except ImportError:
            raise RuntimeError("runtime=torch needs PyTorch, which is not installed here; "
                               "install it (pip install torch), use runtime=numpy, or runtime=onnx with an exported model") from None
        if num_threads:
            torch.set_num_threads(int(num_threads))
        return TorchClassifier.from_checkpoint(checkpoint)
    if runtime == "onnx":
        try:
            from speechseq.deploy.onnx_runtime import OnnxClassifier
        except ImportError as exc:
            raise RuntimeError(f"runtime=onnx is not available in this installation ({exc}); "
                               f"use runtime=torch") from None
        return OnnxClassifier(checkpoint)
    if runtime == "numpy":
        from speechseq.deploy.numpy_runtime import (  # numpy + safetensors only
            NumpyClassifier,
            limit_blas_threads,
        )

        limit_blas_threads(num_threads)
        return NumpyClassifier(checkpoint)
    raise ValueError(f"runtime={runtime!r}: choose one of {list(RUNTIMES)}")


def check_runtime_fits(checkpoint: str | Path, runtime: str) -> None:
    """Refuse a model file the runtime cannot read, naming the runtime that can (before any slow load)."""
    suffix = Path(str(checkpoint)).suffix.lower()
    if suffix == ".onnx" and runtime in ("torch", "numpy"):
        raise CheckpointError(f"checkpoint={checkpoint} is an ONNX export, which runtime={runtime} cannot read: "
                              f"add runtime=onnx (or give the .safetensors checkpoint it was exported from)")
    if suffix == ".safetensors" and runtime == "onnx":
        raise CheckpointError(f"checkpoint={checkpoint} is a safetensors checkpoint, which runtime=onnx cannot read: "
                              f"use runtime=torch or runtime=numpy, or export it with speechseq-export and give the .onnx")


PRETRAINED = "pretrained"  # checkpoint=pretrained: the shipped model, as no checkpoint at all


def names_pretrained(checkpoint: str | None) -> bool:
    """Whether `checkpoint` means the shipped model: none given, or `pretrained` where no file of that
    name is (a file so named is read as given)."""
    return not checkpoint or (str(checkpoint) == PRETRAINED and not Path(PRETRAINED).exists())


def resolve_checkpoint(checkpoint: str | None, runtime: str = "torch") -> str:
    """The checkpoint to use: the one given (`~` expanded: Hydra takes it only quoted, as in
    `checkpoint='~/m.safetensors'`, which no shell expands), else (None, or `pretrained` where no such
    file is) the packaged pretrained model for `runtime`."""
    if not names_pretrained(checkpoint):
        return os.path.expanduser(str(checkpoint))
    try:
        from speechseq.deploy.pretrained import default_checkpoint
    except ImportError:
        raise ValueError("no model given: pass checkpoint=PATH (e.g. runs/train/<run>/checkpoints/best.safetensors)") from None
    return str(default_checkpoint(runtime))
