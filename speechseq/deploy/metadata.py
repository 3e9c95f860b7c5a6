"""The JSON metadata beside the weights, shared by checkpoints and ONNX exports.

Torch-free, so the ONNX runtime can read exports without torch. Each format has its own version:
a reader refuses a newer one rather than misreading it.
"""

from __future__ import annotations

import json
from pathlib import Path

CHECKPOINT_FORMAT = 1  # best.safetensors / last.pt metadata
ONNX_FORMAT = 1        # model.json beside model.onnx
SAFETENSORS_KEY = "speechseq"  # the safetensors header entry that holds a checkpoint's metadata
STREAMING_KEY = "streaming"     # the metadata entry that holds the stored detector (streaming.calibration_store)


def decode_metadata(raw: str, source: str | Path, supported: int, kind: str,
                    error: type[Exception]) -> dict:
    """Parse `raw` and check its format_version against `supported`; failures raise `error`."""
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise error(f"{source}: damaged metadata ({exc})") from None
    if not isinstance(meta, dict):
        raise error(f"{source}: damaged metadata (a JSON {type(meta).__name__}, not an object)")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise error(f"{source}: metadata without a format version ({version!r}); not written by speechseq?")
    if version > supported:
        raise error(f"{source}: {kind} format {version} is newer than this speechseq understands "
                    f"({supported}); upgrade speechseq")
    return meta


def read_checkpoint_metadata(path: str | Path, error: type[Exception]) -> dict:
    """The metadata of a .safetensors checkpoint, read from its header alone (numpy, not torch)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            raw = (fh.metadata() or {}).get(SAFETENSORS_KEY)
    except (SafetensorError, OSError, ValueError) as exc:
        raise error(f"{path}: not a readable safetensors checkpoint ({exc})") from None
    if raw is None:
        raise error(f"{path}: a safetensors file without speechseq metadata")
    return decode_metadata(raw, path, CHECKPOINT_FORMAT, "checkpoint", error)


def trained_calibration(meta: dict) -> dict | None:
    """The `calibration.*` config the stored detector was chosen with, when the training run (or
    scripts/recalibrate.py) chose it on its own validation streams (calibration/ in the run folder);
    None when the checkpoint holds no detector or one calibrated elsewhere."""
    where = str(((meta.get(STREAMING_KEY) or {}).get("validation") or {}).get("input", ""))
    if not where.startswith("calibration/"):
        return None
    return (meta.get("config") or {}).get("calibration") or {}
