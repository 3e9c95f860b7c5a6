"""What `Recognizer.load` takes: the stream options it accepts and the runtime it picks.

Kept apart from speechseq.streaming.api so the commands can check their options and runtime before
a model loads (speechseq-listen does, before it opens the microphone).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path

from speechseq.streaming.backends import load_classifier, resolve_checkpoint
from speechseq.streaming.recognizer import StreamSettings

RUNTIME_CHOICES = ("auto", "torch", "onnx", "numpy")


def settings_knobs(settings_type=StreamSettings) -> frozenset[str]:
    """The knob names of the stream settings: their own fields, and the fields of the groups nested
    in them (smoothing, ...), as the `stream` config group spells them flat."""
    names = set()
    for f in fields(settings_type):
        group = f.default_factory if f.default_factory is not MISSING else None
        names |= {g.name for g in fields(group)} if is_dataclass(group) else {f.name}
    return frozenset(names)


STREAM_OPTIONS = settings_knobs()


def stream_options(knobs: Mapping) -> dict:
    """The Recognizer options among a mapping's keys (e.g. the `stream` config group of the
    speechseq-stream/-listen/-serve commands), null values left out (they mean "calibrated")."""
    return {k: knobs[k] for k in knobs if k in STREAM_OPTIONS and knobs[k] is not None}


def check_stream_options(options: Mapping) -> None:
    unknown = sorted(set(options) - STREAM_OPTIONS)
    if unknown:
        raise TypeError(f"unknown stream option(s) {unknown}; choose from {sorted(STREAM_OPTIONS)}")


def choose_runtime(checkpoint, runtime: str) -> str:
    """`auto`: onnx for an .onnx export (or a folder holding model.onnx), else torch where it is
    installed, else numpy (the same numbers from the .safetensors checkpoint)."""
    if runtime not in RUNTIME_CHOICES:
        raise ValueError(f"runtime={runtime!r}: choose one of {list(RUNTIME_CHOICES)}")
    if runtime != "auto":
        return runtime
    if checkpoint is not None:
        path = Path(checkpoint)
        if path.suffix == ".onnx" or (path.is_dir() and (path / "model.onnx").is_file()):
            return "onnx"
    return "torch" if importlib.util.find_spec("torch") is not None else "numpy"


def load_model(checkpoint, runtime: str, num_threads: int | None):
    """(classifier backend, the runtime chosen, the checkpoint path) for `Recognizer.load`'s arguments.

    A missing path, or a folder without a model, raises FileNotFoundError; a file that is no model
    (or one the runtime cannot read) ValueError (speechseq.errors.CheckpointError)."""
    if not isinstance(checkpoint, (str, Path, type(None))):
        raise TypeError(f"checkpoint: expected a path (str or pathlib.Path) or None for the shipped model, "
                        f"got {type(checkpoint).__name__}")
    chosen = choose_runtime(checkpoint, runtime)
    path = resolve_checkpoint(str(checkpoint) if checkpoint is not None else None, chosen)
    return load_classifier(path, chosen, num_threads=num_threads), chosen, path
