"""Export a trained classifier to ONNX: `speechseq-export checkpoint=PATH format=onnx [output=DIR/model.onnx]`.

The graph takes raw log-mel windows (batch, frames, n_mels) -- the output of LogMel or of
`speechseq.features.numpy_logmel.log_mel` -- and returns class probabilities (softmax applied).
The feature normalisation is inside the graph; the STFT/mel frontend is not (STFT export is
fragile, and numpy computes it in a few lines). `model.json` beside the graph carries the
labels, frontend and model specs a runtime needs. A features=speech_embedding model takes
embedding frames (batch, frames, 96) instead, and the embedding model it was trained on is copied
beside the graph (`model.speech_embedding.onnx`, checked by its SHA-256): the runtime computes the
embeddings once per 80 ms and the classifier re-reads them every hop, which one composed graph
(audio in) could not share (docs/export.md).

Exporter: the TorchScript-based one (`dynamo=False`). The dynamo exporter in torch 2.11 fixes
the time axis of nn.LSTM/GRU/RNN to the example's length, so windows of another length fail.
"""

from __future__ import annotations

import json
import logging
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from speechseq.cli import hydra_entry, run_guarded
from speechseq.config import ConfigError
from speechseq.deploy.checkpoint import CheckpointError, load_inference
from speechseq.deploy.metadata import ONNX_FORMAT
from speechseq.deploy.model_info import training_data
from speechseq.deploy.onnx_runtime import (
    metadata_path,  # one definition of where model.json lives
)
from speechseq.features.embedding_spec import embedding_model_path, local_copy_name
from speechseq.fsutil import OutputWriteError, atomic_path, atomic_write_text

log = logging.getLogger(__name__)

INPUT_NAME, OUTPUT_NAME = "features", "probabilities"
DEFAULT_OPSET = 17
AGREEMENT_TOLERANCE = 1e-4


class ProbabilityHead(nn.Module):
    """RecurrentClassifier on raw features with the softmax folded in."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(features), dim=-1)


def export_onnx(checkpoint: str | Path, output: str | Path, opset: int = DEFAULT_OPSET) -> dict:
    """Write `output` (.onnx) and its metadata JSON; check ONNX Runtime agrees with torch. Returns the metadata."""
    output = Path(output)
    if output.is_dir():
        raise ConfigError(f"output={output} is a folder; give a file in it, e.g. output={output / 'model.onnx'}")
    if output.suffix != ".onnx":
        raise ConfigError(f"output={output}: the file name must end in .onnx")
    loaded = load_inference(checkpoint, map_location="cpu")
    spec = loaded.model.spec
    wrapped = ProbabilityHead(loaded.model).eval()
    frames = loaded.frontend.num_frames(loaded.frontend.sample_rate)  # a 1 s window as the example
    example = torch.randn(2, frames, spec.n_inputs) * 3 - 8
    with output_hint(), atomic_path(output) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and RNN batch-size notes
        torch.onnx.export(
            wrapped, (example,), str(tmp), dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch", 1: "frames"}, OUTPUT_NAME: {0: "batch"}},
        )
    max_diff = check_agreement(wrapped, output, spec.n_inputs, spec.frame_stack)
    meta = {
        "format_version": ONNX_FORMAT,
        "labels": loaded.labels,
        "frontend": loaded.frontend.to_dict(),
        "model": spec.to_dict(),
        "metrics": loaded.metadata.get("metrics", {}),
        "parameters": loaded.metadata.get("parameters"),
        "source_checkpoint": Path(checkpoint).name,  # the name only: shipped files carry no machine paths
        "source_versions": loaded.metadata.get("versions", {}),
        "data": training_data(loaded.metadata),  # what Recognizer.info says on every runtime
        "input": {"name": INPUT_NAME, "shape": ["batch", "frames", spec.n_inputs], "dtype": "float32",
                  "min_frames": spec.frame_stack, "description": INPUT_DESCRIPTIONS[loaded.frontend.kind]},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", len(loaded.labels)], "dtype": "float32",
                   "description": "class probabilities (softmax), in the order of `labels`"},
        "opset": opset,
        "export_check_max_abs_diff": max_diff,
    }
    if "streaming" in loaded.metadata:  # calibrated detector settings travel with the model
        meta["streaming"] = loaded.metadata["streaming"]
    with output_hint():
        meta.update(copy_frontend_files(loaded.frontend, output))
        atomic_write_text(metadata_path(output), json.dumps(meta, indent=2))
    return meta


INPUT_DESCRIPTIONS = {
    "logmel": "raw (unnormalised) log-mel frames from LogMel / numpy_frontend.log_mel",
    "speech_embedding": "raw (unnormalised) speech embeddings, one per 80 ms, from "
                        "speechseq.features.embedding_onnx (the model file beside this graph)",
}


def copy_frontend_files(frontend, output: Path) -> dict:
    """The speech embedding's model, copied beside the graph so the export runs without openWakeWord;
    returns what model.json says about it (nothing for log-mel)."""
    if frontend.kind != "speech_embedding":
        return {}
    source = embedding_model_path(frontend)  # checks the SHA-256 the classifier was trained with
    target = local_copy_name(output)
    with atomic_path(target) as tmp:
        Path(tmp).write_bytes(source.read_bytes())
    return {"frontend_files": {"embedding_model": target.name, "sha256": frontend.sha256,
                               "source": frontend.model,
                               "licence": "openWakeWord's feature model (Google's speech_embedding); see docs/frontends.md"}}


@contextmanager
def output_hint():
    """An output that cannot be written (folder missing, not writable, a file): add the setting to change."""
    try:
        yield
    except OutputWriteError as exc:
        raise OutputWriteError(f"{exc}; give output= a file in a writable folder") from None


@torch.no_grad()
def check_agreement(wrapped: nn.Module, onnx_path: Path, n_mels: int, frame_stack: int) -> float:
    """Largest |onnx - torch| over a few batch sizes and window lengths; raises past the tolerance."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(0)
    worst = 0.0
    for batch, frames in ((1, 97), (3, 50), (2, 301), (1, max(frame_stack, 3))):
        x = torch.randn(batch, frames, n_mels, generator=gen) * 3 - 8
        ref = wrapped(x).numpy()
        got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
        worst = max(worst, float(np.abs(got - ref).max()))
    if worst > AGREEMENT_TOLERANCE:
        onnx_path.unlink(missing_ok=True)
        raise CheckpointError(f"the exported graph disagrees with torch by {worst:.2e} "
                              f"(> {AGREEMENT_TOLERANCE}); nothing was written")
    return worst


def run_export(cfg: DictConfig) -> Path:
    if cfg.format != "onnx":
        raise ConfigError(f"format={cfg.format!r}: only onnx is supported")
    output = Path(cfg.output) if cfg.output else Path(cfg.paths.output_dir) / "model.onnx"
    meta = export_onnx(cfg.checkpoint, output, cfg.opset)
    extra = f" and {meta['frontend_files']['embedding_model']}" if "frontend_files" in meta else ""
    print(f"wrote {output}, {metadata_path(output)}{extra} ({len(meta['labels'])} classes; "
          f"onnxruntime vs torch max abs diff {meta['export_check_max_abs_diff']:.1e})")
    return output


@hydra_entry("export")
def main(cfg: DictConfig) -> None:
    run_guarded("speechseq-export", lambda: run_export(cfg) and None, debug=cfg.debug)


if __name__ == "__main__":
    main()
