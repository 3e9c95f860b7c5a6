"""Checkpoints.

- The inference artifact (`best.safetensors`): weights in safetensors plus JSON metadata
  (labels, frontend and model specs, metrics, versions). Loading it never unpickles anything.
- The resume state (`last.pt`): model, optimiser, scheduler, scaler and RNG states, loaded with
  `torch.load(weights_only=True)`, which refuses pickles that would run code.
Both are written atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from speechseq import __version__
from speechseq.features import FrontendSpec
from speechseq.fsutil import atomic_path
from speechseq.metadata import (
    CHECKPOINT_FORMAT,
    SAFETENSORS_KEY,
    read_checkpoint_metadata,
)
from speechseq.model import ModelSpec, RecurrentClassifier


class CheckpointError(Exception):
    """A checkpoint that cannot be used here; the message says why."""


@dataclass
class LoadedModel:
    model: RecurrentClassifier
    labels: list[str]
    frontend: FrontendSpec
    metadata: dict


def environment_versions() -> dict:
    import torchaudio
    return {"speechseq": __version__, "torch": torch.__version__,
            "torchaudio": torchaudio.__version__, "python": platform.python_version()}


def save_inference(path: str | Path, model: RecurrentClassifier, labels: list[str],
                   frontend: FrontendSpec, extra: dict | None = None) -> None:
    meta = {
        "format_version": CHECKPOINT_FORMAT,
        "labels": list(labels),
        "frontend": frontend.to_dict(),
        "model": model.spec.to_dict(),
        "versions": environment_versions(),
        **(extra or {}),
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={SAFETENSORS_KEY: json.dumps(meta)})


def read_metadata(path: str | Path) -> dict:
    return read_checkpoint_metadata(path, CheckpointError)


def parse_metadata(path: str | Path, meta: dict) -> tuple[list[str], FrontendSpec, ModelSpec]:
    """Labels, frontend and model spec from the metadata; anything missing, mistyped or unknown
    to this version (a frontend or model setting it would silently ignore) is a CheckpointError."""
    try:
        labels = meta["labels"]
        if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)):
            raise TypeError(f"labels must be a list of names, got {labels!r}")
        for name, cls in (("frontend", FrontendSpec), ("model", ModelSpec)):
            if not isinstance(meta[name], dict):
                raise TypeError(f"{name} must be a mapping, got {meta[name]!r}")
            unknown = sorted(set(meta[name]) - set(cls.__dataclass_fields__))
            if unknown:
                raise CheckpointError(f"{path}: its {name} has settings {unknown} that this speechseq does not "
                                      f"know (another frontend or model type); upgrade speechseq or use "
                                      f"a checkpoint trained with this version")
        frontend = FrontendSpec.from_dict(meta["frontend"])
        spec = ModelSpec.from_dict(meta["model"])
        sizes = ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels", "f_max")
        if not all(isinstance(getattr(frontend, k), (int, float)) and getattr(frontend, k) > 0 for k in sizes):
            raise ValueError(f"frontend settings out of range: {frontend}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: incomplete or damaged metadata ({type(exc).__name__}: {exc})") from None
    return labels, frontend, spec


def load_inference(path: str | Path, map_location: str | torch.device = "cpu",
                   expect_labels: list[str] | None = None,
                   expect_frontend: FrontendSpec | None = None) -> LoadedModel:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
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
    if spec.n_classes != len(labels) or spec.n_inputs != frontend.n_mels:
        raise CheckpointError(f"{path}: metadata is inconsistent (model for {spec.n_classes} classes / "
                              f"{spec.n_inputs} inputs, {len(labels)} labels / {frontend.n_mels} mels)")
    model = RecurrentClassifier(spec)
    state = load_file(str(path), device=str(map_location))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the model described in its metadata "
                              f"({str(exc).splitlines()[0]})") from None
    model.to(map_location).eval()
    return LoadedModel(model=model, labels=labels, frontend=frontend, metadata=meta)


def save_resume_state(path: str | Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_resume_state(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"resume state {path} does not exist")
    if path.suffix == ".safetensors":
        raise CheckpointError(f"{path} is an inference checkpoint; trainer.resume needs the run's "
                              f"checkpoints/last.pt")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for anything that is not plain tensors/containers
        raise CheckpointError(f"{path}: refused to load resume state ({str(exc).splitlines()[0]}); "
                              f"only plain tensors and containers are accepted") from None


RESUME_KEYS = ("epoch", "model", "optimizer", "scaler", "best_val_acc", "best_epoch", "history", "config")
# Settings that shape the weights: a resumed run must use the ones it was started with.
RESUME_FIXED = ("model", "features", "data.task", "data.words")


def check_resume_state(path: str | Path, state: object, current_config: dict) -> None:
    """Refuse resume state that is not ours, or that was trained with other weight-shaping settings."""
    missing = [k for k in RESUME_KEYS if k not in state] if isinstance(state, dict) else list(RESUME_KEYS)
    if missing:
        raise CheckpointError(f"{path} is not speechseq resume state (missing {missing}); give the "
                              f"checkpoints/last.pt of a speechseq-train run")
    try:
        saved = json.loads(state["config"])
    except (TypeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: damaged run config in resume state ({exc})") from None
    conflicts = []
    for key in RESUME_FIXED:
        old, new = _lookup(saved, key), _lookup(current_config, key)
        if isinstance(old, dict) and isinstance(new, dict):
            conflicts += [(f"{key}.{k}", old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys())
                          if old.get(k) != new.get(k)]
        elif old != new:
            conflicts.append((key, old, new))
    if conflicts:
        diffs = ", ".join(f"{k}={a!r} (this run: {b!r})" for k, a, b in conflicts)
        raise CheckpointError(f"{path} was trained with {diffs}; resume with the run's own settings "
                              f"(see its .hydra/config.yaml) or start a new run without trainer.resume")


def _lookup(config: dict, dotted: str):
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node
