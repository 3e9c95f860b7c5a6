"""What an inference checkpoint (.safetensors) says about itself, read without torch.

The torch loader (speechseq.deploy.checkpoint) and the numpy runtime (speechseq.deploy.numpy_runtime) both
open a checkpoint through `open_checkpoint`, so they accept and refuse the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from speechseq.deploy.metadata import read_checkpoint_metadata
from speechseq.errors import CheckpointError, CheckpointNotFoundError  # noqa: F401  (raised here; importable from here)
from speechseq.features.spec import FrontendSpec, frontend_class, frontend_from_dict
from speechseq.models.spec import ModelSpec


@dataclass
class CheckpointInfo:
    path: Path
    metadata: dict
    labels: list[str]
    frontend: FrontendSpec  # or EmbeddingSpec (features=speech_embedding)
    spec: ModelSpec


def read_metadata(path: str | Path) -> dict:
    return read_checkpoint_metadata(path, CheckpointError)


def _frontend_class(path: str | Path, frontend: dict):
    kind = frontend.get("kind", "logmel")
    try:
        return frontend_class(kind)
    except ValueError:
        raise CheckpointError(f"{path}: its frontend is of kind {kind!r}, which this speechseq does not know; "
                              f"upgrade speechseq or use a checkpoint trained with this version") from None


def parse_metadata(path: str | Path, meta: dict) -> tuple[list[str], FrontendSpec, ModelSpec]:
    """Labels, frontend and model spec from the metadata; anything missing, mistyped or unknown
    to this version (a frontend or model setting it would silently ignore) is a CheckpointError."""
    try:
        labels = meta["labels"]
        if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)):
            raise TypeError(f"labels must be a list of names, got {labels!r}")
        for name in ("frontend", "model"):
            if not isinstance(meta[name], dict):
                raise TypeError(f"{name} must be a mapping, got {meta[name]!r}")
            cls = ModelSpec if name == "model" else _frontend_class(path, meta[name])
            unknown = sorted(set(meta[name]) - set(cls.__dataclass_fields__) - {"kind"})
            if unknown:
                raise CheckpointError(f"{path}: its {name} has settings {unknown} that this speechseq does not "
                                      f"know (another frontend or model type); upgrade speechseq or use "
                                      f"a checkpoint trained with this version")
        frontend = frontend_from_dict(meta["frontend"])
        spec = ModelSpec.from_dict(meta["model"])
        sizes = ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels", "f_max")
        if frontend.kind == "logmel" and not all(
                isinstance(getattr(frontend, k), (int, float)) and getattr(frontend, k) > 0 for k in sizes):
            raise ValueError(f"frontend settings out of range: {frontend}")
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: incomplete or damaged metadata ({type(exc).__name__}: {exc})") from None
    return labels, frontend, spec


def open_checkpoint(path: str | Path, expect_labels: list[str] | None = None,
                    expect_frontend: FrontendSpec | None = None) -> CheckpointInfo:
    """Check that `path` is a usable inference checkpoint and describe it (the weights are not read)."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointNotFoundError(f"checkpoint {path} is a folder without a model in it; give a .safetensors "
                                      f"checkpoint (a run's checkpoints/best.safetensors) or an .onnx export")
    if not path.is_file():
        raise CheckpointNotFoundError(f"checkpoint {path} does not exist")
    if path.suffix == ".pt":
        raise CheckpointError(f"{path} is resume state; give the inference checkpoint "
                              f"(checkpoints/best.safetensors) or pass it as trainer.resume")
    meta = read_metadata(path)
    labels, frontend, spec = parse_metadata(path, meta)
    if expect_labels is not None and list(expect_labels) != labels:
        raise CheckpointError(f"{path} predicts labels {labels}, but {list(expect_labels)} were "
                              f"expected; use a checkpoint trained for this label set")
    if expect_frontend is not None and expect_frontend != frontend:
        raise CheckpointError(f"{path} was trained with frontend {frontend}, not {expect_frontend}")
    if spec.n_classes != len(labels) or spec.n_inputs != frontend.feature_dim:
        width = "mels" if frontend.kind == "logmel" else "numbers per embedding"
        raise CheckpointError(f"{path}: metadata is inconsistent (model for {spec.n_classes} classes / "
                              f"{spec.n_inputs} inputs, {len(labels)} labels / {frontend.feature_dim} {width})")
    return CheckpointInfo(path, meta, labels, frontend, spec)
