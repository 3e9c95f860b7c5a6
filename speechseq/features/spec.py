"""Frontend settings, torch-free so light runtimes (ONNX, numpy) can read them too."""

from __future__ import annotations

from dataclasses import asdict, dataclass

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

    def num_frames(self, num_samples: int) -> int:
        """Frames in `num_samples` samples: each frame spans n_fft samples (the window sits centred in it)."""
        if num_samples < self.n_fft:
            return 0
        return 1 + (num_samples - self.n_fft) // self.hop_length

    def frame_end_sample(self, frame_index):
        """One past the last sample that frame `frame_index` covers (an int or an index array)."""
        return frame_index * self.hop_length + self.n_fft

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FrontendSpec":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})
