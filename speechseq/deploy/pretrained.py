"""The model shipped inside the package, so a fresh install can run the microphone demo at once.

`default_checkpoint("torch")` (and `"numpy"`) -> speechseq/pretrained/kws12_mini.safetensors,
`default_checkpoint("onnx")` -> speechseq/pretrained/kws12_mini.onnx (kws12_mini.json beside it).
Both are rebuilt by scripts/train_pretrained.sh; MODEL_CARD.md there says how they were made
(written by speechseq.deploy.model_card).
Torch-free, so the ONNX runtime can ask for its default too.
"""

from __future__ import annotations

from pathlib import Path

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
MODEL_NAME = "kws12_mini"
SUFFIXES = {"torch": ".safetensors", "numpy": ".safetensors", "onnx": ".onnx"}


class PretrainedModelMissing(FileNotFoundError):
    """The package was installed without its pretrained model."""


def default_checkpoint(runtime: str = "torch") -> Path:
    """Path of the shipped model for `runtime` (torch | numpy | onnx); raises PretrainedModelMissing if absent."""
    if runtime not in SUFFIXES:
        raise ValueError(f"runtime={runtime!r}: choose one of {sorted(SUFFIXES)}")
    path = PRETRAINED_DIR / f"{MODEL_NAME}{SUFFIXES[runtime]}"
    if not path.is_file():
        raise PretrainedModelMissing(
            f"no pretrained model at {path}: this install ships without one. Give checkpoint=PATH, "
            f"or build it with scripts/train_pretrained.sh (trains on the mini set, ~20 min on a CPU)")
    return path
