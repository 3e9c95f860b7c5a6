"""Start from a trained model's encoder (`trainer.init_from`): few takes of a new word suffice
when the recurrent layers already hear speech. The head, whose classes differ, starts fresh."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from speechseq.deploy.checkpoint import load_inference
from speechseq.errors import CheckpointError
from speechseq.features.spec import FrontendSpec
from speechseq.models.recurrent import RecurrentClassifier

log = logging.getLogger(__name__)
FRESH_PREFIXES = ("head.",)  # the classifier layer: its rows are the old label set's


def resolve_init_source(name: str) -> Path:
    """`pretrained` -> the shipped model; anything else is a .safetensors path."""
    from speechseq.streaming.backends import resolve_checkpoint

    path = Path(resolve_checkpoint(name))
    if not path.is_file():
        raise CheckpointError(f"trainer.init_from={name} does not exist; give a .safetensors checkpoint or "
                              f"trainer.init_from=pretrained")
    return path


def init_from_checkpoint(model: RecurrentClassifier, name: str, frontend: FrontendSpec) -> list[str]:
    """Copy every weight of the source but the head into `model` (and its feature normalisation);
    returns the copied names. Raises CheckpointError when the shapes or features differ."""
    path = resolve_init_source(name)
    source = load_inference(path, map_location="cpu")
    if source.frontend != frontend:
        raise CheckpointError(f"trainer.init_from={name}: its features ({source.frontend}) differ from this "
                              f"run's ({frontend}); use the same features group (experiment=enroll_logmel does)")
    mine = model.state_dict()
    copied = []
    for key, value in source.model.state_dict().items():
        if key.startswith(FRESH_PREFIXES):
            continue
        if key not in mine or mine[key].shape != value.shape:
            raise CheckpointError(f"trainer.init_from={name}: its layer {key} {tuple(value.shape)} does not fit "
                                  f"this model ({tuple(mine[key].shape) if key in mine else 'absent'}); give the "
                                  f"model the source's shape (experiment=enroll_logmel does for the shipped model)")
        copied.append(key)
    with torch.no_grad():
        for key in copied:
            mine[key].copy_(source.model.state_dict()[key])
    log.info("started from the encoder of %s (%d tensors; the head is new)", path.name, len(copied))
    return copied
