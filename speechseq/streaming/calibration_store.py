"""Calibrated detector settings inside a model's metadata, so every runtime uses them.

The record sits under the `streaming` key of a checkpoint's safetensors metadata and of an
ONNX export's model.json (speechseq-export copies it). Torch-free: the safetensors file is
rewritten with numpy tensors, atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from speechseq.deploy.metadata import SAFETENSORS_KEY, STREAMING_KEY
from speechseq.fsutil import atomic_path, atomic_write_text

CALIBRATED_KNOBS = ("detector", "threshold", "class_thresholds", "average_window_ms", "suppression_ms",
                    "margin", "temperature")


class CalibrationError(ValueError):
    """A model file whose calibration cannot be read or written; the message says why."""


def calibration_of(metadata: dict | None) -> dict:
    """The calibrated knobs in a model's metadata ({} when it has none)."""
    record = (metadata or {}).get(STREAMING_KEY) or {}
    settings = record.get("settings", {}) if isinstance(record, dict) else {}
    return {k: settings[k] for k in CALIBRATED_KNOBS if k in settings}


def write_checkpoint_calibration(path: str | Path, record: dict, output: str | Path | None = None) -> Path:
    """`record` into the metadata of the .safetensors at `path` (in place, or a copy at `output`)."""
    return rewrite_checkpoint_metadata(path, lambda meta: meta.__setitem__(STREAMING_KEY, record), output)


def rewrite_checkpoint_metadata(path: str | Path, change: Callable[[dict], None], output: str | Path | None = None
                                ) -> Path:
    """Apply `change` to the speechseq metadata of the .safetensors at `path` (in place, or a copy at
    `output`); the tensors are kept as they are."""
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import save_file

    path = Path(path)
    target = Path(output) if output else path
    try:
        with safe_open(str(path), framework="numpy") as fh:
            header = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise CalibrationError(f"{path}: not a readable safetensors checkpoint ({exc})") from None
    if SAFETENSORS_KEY not in header:
        raise CalibrationError(f"{path}: a safetensors file without speechseq metadata")
    meta = json.loads(header[SAFETENSORS_KEY])
    change(meta)
    header[SAFETENSORS_KEY] = json.dumps(meta)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return target


def write_onnx_calibration(onnx_path: str | Path, record: dict) -> Path:
    """`record` into the model.json beside an ONNX export, atomically."""
    from speechseq.deploy.onnx_runtime import metadata_path

    meta_path = metadata_path(onnx_path)
    if not meta_path.is_file():
        raise CalibrationError(f"{meta_path} is missing: give an export made by speechseq-export")
    meta = json.loads(meta_path.read_text())
    meta[STREAMING_KEY] = record
    atomic_write_text(meta_path, json.dumps(meta, indent=2))
    return meta_path
