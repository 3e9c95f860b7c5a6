"""What a model says about itself, the same whichever runtime reads it: `Recognizer.info`.

A checkpoint (.safetensors) and its ONNX export (model.json) store their metadata differently (the
checkpoint keeps the training config, the export a summary of it); `model_info` reads either into
one `ModelInfo`. Torch-free. Machine paths never appear: the data is named by its folder's name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from speechseq.fsutil import portable_name


@dataclass(frozen=True)
class ModelInfo:
    """`name` (the model file's, e.g. kws12_mini), `version` (of speechseq, which trained it), every
    class in `labels`, what it was trained on (`data`: the folder's name, the task, own words) and
    the detector calibrated into it (`detector`: settings, false-alarm budget, validation scores; {}
    when it has none)."""

    name: str
    version: str | None
    labels: tuple[str, ...]
    data: dict = field(default_factory=dict)
    detector: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {**asdict(self), "labels": list(self.labels)}


def training_data(metadata: dict) -> dict:
    """The data a model was trained on, from its metadata: an export's stored summary, else the
    `data` group of a checkpoint's training config ({} when neither is there)."""
    if isinstance(metadata.get("data"), dict):
        return dict(metadata["data"])
    data = (metadata.get("config") or {}).get("data") or {}
    if not data.get("root"):
        return {}
    summary = {"name": portable_name(data["root"]), "task": data.get("task")}
    if data.get("task") == "custom":
        summary["words"] = list(data.get("words") or [])
    if data.get("custom_root"):
        summary["own_words_folder"] = portable_name(data["custom_root"])
    return summary


def model_name(metadata: dict, path: str | Path | None) -> str:
    """The stored name, else the checkpoint file's stem (an export's: its source checkpoint's)."""
    if metadata.get("name"):
        return str(metadata["name"])
    source = metadata.get("source_checkpoint") or (Path(path).name if path else "")
    return Path(str(source)).stem or "unnamed"


def model_info(metadata: dict | None, path: str | Path | None = None) -> ModelInfo:
    """The ModelInfo of a checkpoint's or an export's metadata (see the module docstring)."""
    meta = metadata or {}
    versions = meta.get("versions") or meta.get("source_versions") or {}
    return ModelInfo(name=model_name(meta, path), version=versions.get("speechseq"),
                     labels=tuple(meta.get("labels") or ()), data=training_data(meta),
                     detector=dict(meta.get("streaming") or {}))
