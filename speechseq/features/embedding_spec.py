"""The speech-embedding front end's settings and model file, torch-free (the runtimes read them too).

`features=speech_embedding`: Google's speech_embedding model as openWakeWord 0.4.0 ships it
(`openwakeword/resources/models/embedding_model.onnx`), frozen. It turns 76 frames of its own mel
spectrogram (`embedding_mel`, 775 ms of audio) into one 96-d embedding, every 8 mel frames (80 ms).
For the rest of speechseq an embedding is a *frame*: `EmbeddingSpec` answers the questions a
`FrontendSpec` answers (frames in n samples, the sample a frame ends on, the width of a frame), so
the classifier, the streaming ring and the windows work on embeddings as they work on log-mel.
A 1 s window holds 3 of them.

openWakeWord itself is never imported (its other dependencies are not needed): only the file is
located, and its SHA-256 checked against the one the model was trained with.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from speechseq.features.embedding_mel import MEL_HOP, MEL_N_FFT, SAMPLE_RATE

KIND = "speech_embedding"
EMBEDDING_DIM = 96
WINDOW_MEL_FRAMES = 76   # mel frames one embedding reads
STEP_MEL_FRAMES = 8      # mel frames between embeddings (the network's own stride)
OPENWAKEWORD = "openwakeword==0.4.0"
MODEL_IN_PACKAGE = "resources/models/embedding_model.onnx"
MODEL_SHA256 = "ba754db3cd768a524c655ea90655ee5e6055a43b8dfd29366a11e93716ae9e51"  # openWakeWord 0.4.0's
INSTALL_HINT = "pip install 'speechseq[embedding]' (or pip install openwakeword==0.4.0 --no-deps onnxruntime)"


class EmbeddingUnavailable(RuntimeError):
    """The speech-embedding front end cannot run here (a package or its model file is missing)."""


@dataclass(frozen=True)
class EmbeddingSpec:
    """What a checkpoint records about the speech-embedding front end."""

    kind: str = KIND
    sample_rate: int = SAMPLE_RATE
    model: str = f"{OPENWAKEWORD}:{MODEL_IN_PACKAGE}"
    sha256: str = MODEL_SHA256
    # a copy of the model file to use first (an export's, beside its model.onnx); not recorded
    local_copy: str | None = field(default=None, compare=False)

    def __post_init__(self):
        if self.kind != KIND:
            raise ValueError(f"features.kind={self.kind!r} is not {KIND}")
        if self.sample_rate != SAMPLE_RATE:
            raise ValueError(f"the speech embedding reads {SAMPLE_RATE} Hz audio, not {self.sample_rate}")

    # --- the FrontendSpec questions, with an embedding as the frame ------------------------------
    hop_length = STEP_MEL_FRAMES * MEL_HOP                        # 1280 samples (80 ms)
    n_fft = (WINDOW_MEL_FRAMES - 1) * MEL_HOP + MEL_N_FFT         # 12512 samples one embedding covers
    feature_dim = EMBEDDING_DIM

    def num_frames(self, num_samples: int) -> int:
        """Embeddings in `num_samples` samples (3 in one second)."""
        from speechseq.features.spec import frames_in

        return frames_in(num_samples, self.n_fft, self.hop_length)

    def frame_end_sample(self, frame_index):
        """One past the last sample that embedding `frame_index` covers (an int or an index array)."""
        return frame_index * self.hop_length + self.n_fft

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("local_copy")
        return d

    @classmethod
    def from_dict(cls, d: dict, local_copy: str | Path | None = None) -> "EmbeddingSpec":
        fields = {k: d[k] for k in cls.__dataclass_fields__ if k in d and k != "local_copy"}
        return cls(**fields, local_copy=None if local_copy is None else str(local_copy))


def require_module(module: str, pip_name: str, why: str):
    """Import `module`, or raise EmbeddingUnavailable naming the package to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise EmbeddingUnavailable(f"features=speech_embedding needs the {pip_name} package ({why}): "
                                   f"{INSTALL_HINT}") from None


@lru_cache(maxsize=8)
def _sha256(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def installed_model_path() -> Path | None:
    """openWakeWord's embedding_model.onnx, found without importing openwakeword; None if absent."""
    found = importlib.util.find_spec("openwakeword")
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(list(found.submodule_search_locations)[0]) / MODEL_IN_PACKAGE
    return path if path.is_file() else None


LOCAL_COPY_SUFFIX = ".speech_embedding.onnx"  # model.onnx -> model.speech_embedding.onnx beside it


def local_copy_name(onnx_name: str | Path) -> Path:
    """Where speechseq-export puts its copy of the embedding model, beside `onnx_name`."""
    path = Path(onnx_name)
    return path.with_name(path.stem + LOCAL_COPY_SUFFIX)


def local_copy_in(model_path: str | Path | None) -> Path | None:
    """The copy beside an exported model file, if there is one."""
    if model_path is None:
        return None
    copy = local_copy_name(model_path)
    return copy if copy.is_file() else None


def embedding_model_path(spec: EmbeddingSpec = EmbeddingSpec()) -> Path:
    """The embedding's ONNX file: the spec's `local_copy` (an export's) if present, else openWakeWord's.

    Raises EmbeddingUnavailable when there is none, or when its SHA-256 is not the one the
    model was trained with (another openWakeWord release would silently change every feature)."""
    copy = Path(spec.local_copy) if spec.local_copy else None
    path = copy if copy is not None and copy.is_file() else installed_model_path()
    if path is None:
        raise EmbeddingUnavailable(f"features=speech_embedding needs the openwakeword package (its "
                                   f"{MODEL_IN_PACKAGE}), which is not installed: {INSTALL_HINT}")
    digest = _sha256(path, path.stat().st_mtime_ns)
    if digest != spec.sha256:
        raise EmbeddingUnavailable(f"{path} is not the embedding model this front end was trained with "
                                   f"(SHA-256 {digest[:12]}..., expected {spec.sha256[:12]}... from {spec.model}); "
                                   f"install {OPENWAKEWORD}")
    return path


def check_available(spec: EmbeddingSpec = EmbeddingSpec(), training: bool = True) -> Path:
    """The model file, after checking that everything the front end needs is here (onnxruntime, and
    onnx to train); raises EmbeddingUnavailable naming what is missing. Cheap: call it before slow work."""
    path = embedding_model_path(spec)
    require_module("onnxruntime", "onnxruntime", "to run the embedding model")
    if training:
        require_module("onnx", "onnx", "to read the embedding model for training")
    return path
