"""The exported classifier on onnxruntime and numpy alone: no torch import, for small boards.

`OnnxClassifier(path)` fulfils the streaming classifier-backend contract (`labels`, `frontend`,
`__call__(features[frames, n_mels]) -> probabilities[n_classes]`); `classify_file` runs a WAV
file through the numpy frontend and the graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechseq.deploy.metadata import ONNX_FORMAT, decode_metadata
from speechseq.features.spec import FrontendSpec, frontend_from_dict


class OnnxModelError(ValueError):
    """An exported model that cannot be used; the message says why."""


class OnnxModelNotFoundError(OnnxModelError, FileNotFoundError):
    """No exported model at the path given."""


def metadata_path(onnx_path: str | Path) -> Path:
    """model.onnx -> model.json: where speechseq-export writes the metadata and the runtime reads it."""
    return Path(onnx_path).with_suffix(".json")


class OnnxClassifier:
    """A speechseq ONNX export (model.onnx + model.json) as a classifier backend."""

    def __init__(self, path: str | Path, num_threads: int = 1):
        path = Path(path)
        if path.is_dir():
            if not (path / "model.onnx").is_file():
                raise OnnxModelNotFoundError(f"{path} is a folder without model.onnx in it; give the .onnx export "
                                             f"(made by speechseq-export)")
            path = path / "model.onnx"
        if path.suffix != ".onnx":
            raise OnnxModelError(f"{path}: give the exported .onnx file (made by speechseq-export), "
                                 f"not a {path.suffix or 'suffix-less'} file")
        if not path.is_file():
            raise OnnxModelNotFoundError(f"ONNX model {path} does not exist")
        meta_path = metadata_path(path)
        if not meta_path.is_file():
            raise OnnxModelError(f"{meta_path} is missing: speechseq-export writes it beside {path.name}; "
                                 f"keep the two files together")
        meta = decode_metadata(meta_path.read_text(), meta_path, ONNX_FORMAT, "export", OnnxModelError)
        self.path = path
        self.metadata = meta
        self.labels: list[str] = list(meta["labels"])
        try:  # an EmbeddingSpec for features=speech_embedding, with the model copied beside this graph
            self.frontend: FrontendSpec = frontend_from_dict(meta["frontend"], model_file=path)
        except ValueError as exc:
            raise OnnxModelError(f"{meta_path}: {exc}") from None
        if self.frontend.kind == "speech_embedding":
            from speechseq.features.embedding_spec import embedding_model_path

            embedding_model_path(self.frontend)  # missing or another file: one clear error now, not at the first hop
        self.min_frames = int(meta["input"].get("min_frames", 1))
        self._input = meta["input"]["name"]
        self._output = meta["output"]["name"]

        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread: a streaming hop is one small window, and threads only add hand-off latency.
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise OnnxModelError(f"{path}: onnxruntime cannot load it ({exc})") from None

    def classify_batch(self, features: np.ndarray) -> np.ndarray:
        """(batch, frames, feature_dim) raw log-mel (or embeddings) -> (batch, n_classes) probabilities."""
        features = np.ascontiguousarray(features, dtype=np.float32)
        if features.ndim != 3 or features.shape[2] != self.frontend.feature_dim:
            raise ValueError(f"expected features (batch, frames, {self.frontend.feature_dim}), got {features.shape}")
        if features.shape[1] < self.min_frames:
            raise ValueError(f"a window needs at least {self.min_frames} frames, got {features.shape[1]}")
        return self.session.run([self._output], {self._input: features})[0]

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """(frames, n_mels) raw log-mel of one window -> (n_classes,) probabilities."""
        features = np.asarray(features)
        if features.ndim != 2:
            raise ValueError(f"expected one window (frames, n_mels), got shape {features.shape}")
        return self.classify_batch(features[None])[0]


@dataclass
class FilePrediction:
    label: str
    probability: float
    probabilities: np.ndarray


def classify_file(classifier, path: str | Path, clip_seconds: float = 1.0) -> FilePrediction:
    """Read a WAV (any rate/channels soundfile reads), take a clip_seconds window, classify it.

    `classifier`: any backend taking raw frames (frames, feature_dim) -> probabilities (onnx, numpy)."""
    from speechseq.audio import fix_length, read_audio
    from speechseq.features.frames import frame_features

    spec = classifier.frontend
    wave = read_audio(path, spec.sample_rate)
    wave = fix_length(wave, int(round(clip_seconds * spec.sample_rate)))
    probs = classifier(frame_features(wave, spec))
    best = int(probs.argmax())
    return FilePrediction(classifier.labels[best], float(probs[best]), probs)


def classify_files_cli(prog: str, description: str, model_help: str, load, load_error: type[Exception],
                       argv: list[str] | None = None) -> int:
    """`prog MODEL FILE.wav...` -> `file<TAB>label<TAB>probability` per file; `load(MODEL)` makes the classifier."""
    import argparse
    import sys

    from speechseq.audio import AudioReadError

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("model", help=model_help)
    parser.add_argument("files", nargs="+", help="audio files (any rate; the middle 1 s is used)")
    args = parser.parse_args(argv)
    try:
        classifier = load(args.model)
    except load_error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for name in args.files:
        try:
            pred = classify_file(classifier, name)
        except AudioReadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
            continue
        print(f"{name}\t{pred.label}\t{pred.probability:.3f}")
    return status


def main(argv: list[str] | None = None) -> int:
    """`python -m speechseq.deploy.onnx_runtime MODEL.onnx FILE.wav...`: one line per file, torch never imported."""
    return classify_files_cli("python -m speechseq.deploy.onnx_runtime",
                              "Classify 1 s WAV clips with an exported speechseq model.",
                              "model.onnx written by speechseq-export (model.json beside it)",
                              OnnxClassifier, OnnxModelError, argv)


if __name__ == "__main__":
    raise SystemExit(main())
