"""Frontend settings, torch-free so light runtimes (ONNX, numpy) can read them too.

Two kinds: `FrontendSpec` (log-mel, the default) and `EmbeddingSpec` (features=speech_embedding,
speechseq.features.embedding_spec). Both answer the same questions about frames (`num_frames`,
`frame_end_sample`, `hop_length`, `sample_rate`, `feature_dim`); `frontend_from_dict` reads either
from a checkpoint's metadata, by its `kind` (absent: log-mel).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

LOG_FLOOR = 1e-6  # added to mel power before the log


@dataclass(frozen=True)
class FrontendSpec:
    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 480   # 30 ms
    hop_length: int = 160   # 10 ms
    n_mels: int = 40
    f_min: float = 20.0
    f_max: float = 7600.0

    kind = "logmel"  # not a field: log-mel checkpoints record no kind, as before there were two

    @property
    def feature_dim(self) -> int:
        """Numbers per frame: what the classifier reads at each step."""
        return self.n_mels

    def num_frames(self, num_samples: int) -> int:
        """Frames in `num_samples` samples: each frame spans n_fft samples (the window sits centred in it)."""
        return frames_in(num_samples, self.n_fft, self.hop_length)

    def frame_end_sample(self, frame_index):
        """One past the last sample that frame `frame_index` covers (an int or an index array)."""
        return frame_index * self.hop_length + self.n_fft

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FrontendSpec":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


FRONTEND_KINDS = ("logmel", "speech_embedding")


def frontend_class(kind: str):
    """The spec class of a frontend `kind`; ValueError for one this speechseq does not know."""
    if kind == "logmel":
        return FrontendSpec
    if kind == "speech_embedding":
        from speechseq.features.embedding_spec import EmbeddingSpec

        return EmbeddingSpec
    raise ValueError(f"frontend kind {kind!r} is not one of {list(FRONTEND_KINDS)}")


def frontend_from_dict(d: dict, model_file: str | Path | None = None):
    """FrontendSpec or EmbeddingSpec from a checkpoint's or an export's `frontend` mapping.

    `model_file`: an exported model, beside which its copy of the embedding model is used first."""
    cls = frontend_class(d.get("kind", "logmel"))
    if cls is FrontendSpec:
        return FrontendSpec.from_dict(d)
    from speechseq.features.embedding_spec import local_copy_in

    return cls.from_dict(d, local_copy=local_copy_in(model_file))


def frames_in(num_samples: int, span: int, hop: int) -> int:
    """Frames of `span` samples every `hop` that fit in `num_samples` (either frontend's frames)."""
    return 0 if num_samples < span else 1 + (num_samples - span) // hop
