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
from speechseq.deploy.checkpoint_meta import (  # noqa: F401  (read_metadata, parse_metadata: re-exported)
    CheckpointError,
    open_checkpoint,
    parse_metadata,
    read_metadata,
)
from speechseq.deploy.metadata import CHECKPOINT_FORMAT, SAFETENSORS_KEY
from speechseq.features.logmel import FrontendSpec
from speechseq.fsutil import atomic_path
from speechseq.models.recurrent import RecurrentClassifier


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


def load_inference(path: str | Path, map_location: str | torch.device = "cpu",
                   expect_labels: list[str] | None = None,
                   expect_frontend: FrontendSpec | None = None) -> LoadedModel:
    info = open_checkpoint(path, expect_labels, expect_frontend)
    model = RecurrentClassifier(info.spec)
    state = load_file(str(info.path), device=str(map_location))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the model described in its metadata "
                              f"({str(exc).splitlines()[0]})") from None
    model.to(map_location).eval()
    return LoadedModel(model=model, labels=info.labels, frontend=info.frontend, metadata=info.metadata)


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
# Weight-shaping settings added later: resume state saved before them had these values.
RESUME_DEFAULTS = {"model.nonlinearity": "tanh", "features.kind": "logmel"}


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
            old, new = _with_defaults(key, old), _with_defaults(key, new)
            conflicts += [(f"{key}.{k}", old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys())
                          if old.get(k) != new.get(k)]
        elif old != new:
            conflicts.append((key, old, new))
    if conflicts:
        diffs = ", ".join(f"{k}={a!r} (this run: {b!r})" for k, a, b in conflicts)
        raise CheckpointError(f"{path} was trained with {diffs}; resume with the run's own settings "
                              f"(see its .hydra/config.yaml) or start a new run without trainer.resume")


def _with_defaults(key: str, settings: dict) -> dict:
    """`settings` (the group `key`) with the RESUME_DEFAULTS it lacks filled in."""
    return {**{k[len(key) + 1:]: v for k, v in RESUME_DEFAULTS.items() if k.startswith(key + ".")}, **settings}


def _lookup(config: dict, dotted: str):
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node
