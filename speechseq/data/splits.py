"""Turn a scanned folder into labelled waveforms per split, TensorFlow speech_commands style.

Keyword clips are all used; `_unknown_` gets `unknown_percentage`% of the keyword count, drawn
from the other words, and `_silence_` `silence_percentage`% as 1 s background-noise segments at
random gain. Training redraws unknown clips and silence every epoch; validation and test draw
once, with `data.seed`, so their figures are comparable between runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from speechseq.audio import AudioReadError, read_audio
from speechseq.data.cache import load_or_build
from speechseq.data.layout import DatasetError, DatasetIndex
from speechseq.labels import SILENCE, UNKNOWN, LabelSet

SILENCE_INDEX = -1  # marks a silence slot in an epoch's index list
MIN_SOUND_SECONDS = 0.25  # a shorter noise file is a click, not a sound to learn


class NoiseBank:
    """All 1 s segments (half-overlapping) of the background-noise files, as one float tensor."""

    def __init__(self, segments: torch.Tensor):
        self.segments = segments  # (K, clip_samples) float32; K may be 0

    @classmethod
    def from_files(cls, files: list[Path], sample_rate: int, clip_samples: int) -> "NoiseBank":
        """Half-overlapping segments of every file; a sound shorter than a clip (a door, a bark, at least
        MIN_SOUND_SECONDS) is one segment, centred in silence."""
        segs = []
        for path in files:
            try:
                wave = read_audio(path, sample_rate)
            except AudioReadError:
                continue
            if len(wave) < MIN_SOUND_SECONDS * sample_rate:
                continue
            if len(wave) < clip_samples:
                pad = clip_samples - len(wave)
                wave = np.pad(wave, (pad // 2, pad - pad // 2))
            for start in range(0, len(wave) - clip_samples + 1, clip_samples // 2):
                segment = wave[start:start + clip_samples]
                if np.any(segment):  # digital silence cannot be mixed at an SNR (no power)
                    segs.append(segment)
        arr = np.stack(segs) if segs else np.zeros((0, clip_samples), np.float32)
        return cls(torch.from_numpy(arr))

    def __len__(self) -> int:
        return self.segments.shape[0]

    def to(self, device) -> "NoiseBank":
        return NoiseBank(self.segments.to(device))

    def sample(self, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """`n` random segments (zeros when there is no noise)."""
        device = device or self.segments.device
        if len(self) == 0:
            return torch.zeros(n, self.segments.shape[1], device=device)
        idx = torch.randint(len(self), (n,), generator=generator, device=self.segments.device)
        return self.segments[idx].to(device)


@dataclass
class SplitData:
    """Decoded clips of one split and what to draw from them."""

    name: str
    waves: torch.Tensor            # (N, clip_samples) int16
    labels: torch.Tensor           # (N,) int64
    paths: list[str]
    keyword_idx: np.ndarray        # clips always used
    unknown_idx: np.ndarray        # pool for the unknown class
    n_unknown: int
    n_silence: int
    silence_label: int | None
    failed: list[dict] = field(default_factory=list)
    # open-world windows (other speech, synthetic words), labelled _unknown_: n_negative drawn a draw
    negative_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    n_negative: int = 0

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One epoch's (or one evaluation's) indices; SILENCE_INDEX marks silence slots."""
        unknown = rng.choice(self.unknown_idx, size=self.n_unknown, replace=False) if self.n_unknown else []
        silence = np.full(self.n_silence, SILENCE_INDEX)
        parts = [self.keyword_idx, np.asarray(unknown, np.int64), silence]
        if self.n_negative:  # drawn after the rest, so a run without negatives draws as before
            parts.append(rng.choice(self.negative_idx, size=self.n_negative, replace=False))
        return np.concatenate(parts).astype(np.int64)

    def with_negatives(self, waves: np.ndarray, unknown_label: int, percentage: float,
                       names: list[str] | None = None) -> "SplitData":
        """This split with `waves` (int16, N x clip) added as negatives labelled `unknown_label`,
        `percentage`% of the keyword count drawn each draw (all of them at most); `names` says where
        each came from (its entry in `paths`)."""
        from dataclasses import replace

        if not len(waves):
            return self
        start = self.waves.shape[0]
        unknown = torch.full((len(waves),), unknown_label, dtype=self.labels.dtype)
        n = min(len(waves), math.ceil(len(self.keyword_idx) * percentage / 100))
        names = list(names) if names is not None else [f"negative/{k}" for k in range(len(waves))]
        if len(names) != len(waves):
            raise ValueError(f"{len(names)} names for {len(waves)} negatives")
        added = torch.from_numpy(np.array(waves, np.int16))  # a copy: cached windows are read-only
        return replace(self, waves=torch.cat([self.waves, added]),
                       labels=torch.cat([self.labels, unknown]), paths=self.paths + names,
                       negative_idx=np.concatenate([self.negative_idx, np.arange(start, start + len(waves))]),
                       n_negative=self.n_negative + n)

    def summary(self) -> dict:
        return {"clips_decoded": int(self.waves.shape[0]), "keyword": int(len(self.keyword_idx)),
                "unknown_pool": int(len(self.unknown_idx)), "unknown_drawn": self.n_unknown,
                "silence": self.n_silence, "negative_pool": int(len(self.negative_idx)),
                "negative_drawn": self.n_negative, "unreadable": len(self.failed)}


def check_words(index: DatasetIndex, label_set: LabelSet, fix: str | None = None) -> None:
    """Every keyword of `label_set` must have clips under the root; `fix` replaces the default advice."""
    present = index.words
    missing = [w for w in label_set.words if w not in present]
    if missing:
        words_present = sorted(w for w in present if w not in (SILENCE, UNKNOWN))
        fix = fix or "choose data.task=custom data.words=[...] from the words present"
        raise DatasetError(f"words {missing} of the label set have no folder (or no clips) under "
                           f"{index.root}; {fix}: {words_present}")


def _label_of(word: str, label_set: LabelSet) -> int | None:
    if word == SILENCE:  # test-set layout: real silence clips
        return label_set.index(SILENCE) if label_set.use_silence else None
    if word == UNKNOWN:
        return label_set.index(UNKNOWN) if label_set.use_unknown else None
    return label_set.label_for_word(word)


def load_split(index: DatasetIndex, split: str, label_set: LabelSet, *, sample_rate: int = 16000,
               clip_samples: int = 16000, cache_dir: str | None = None,
               silence_percentage: float = 10.0, unknown_percentage: float = 10.0,
               decode_workers: int = 2) -> SplitData:
    clips = [(c, _label_of(c.word, label_set)) for c in index.splits.get(split, [])]
    clips = [(c, lab) for c, lab in clips if lab is not None]
    if not clips:
        raise DatasetError(f"split {split!r} of {index.root} ({index.layout} layout) has no clips for "
                           f"the labels {label_set.names}")
    paths = [index.root / c.relpath for c, _ in clips]
    decoded = load_or_build(paths, cache_dir, sample_rate, clip_samples, desc=f"decode {split}",
                            workers=decode_workers)
    labels = np.asarray([clips[i][1] for i in decoded.ok], dtype=np.int64)
    kept_paths = [clips[i][0].relpath for i in decoded.ok]
    silence_label = label_set.index(SILENCE) if label_set.use_silence else None
    unknown_label = label_set.index(UNKNOWN) if label_set.use_unknown else None

    if index.layout == "testset":  # the archive fixes its own unknown and silence clips
        keyword_idx, unknown_idx, n_unknown, n_silence = np.arange(len(labels)), np.zeros(0, np.int64), 0, 0
    else:
        is_unknown = labels == unknown_label if unknown_label is not None else np.zeros(len(labels), bool)
        keyword_idx, unknown_idx = np.flatnonzero(~is_unknown), np.flatnonzero(is_unknown)
        n_unknown = min(len(unknown_idx), math.ceil(len(keyword_idx) * unknown_percentage / 100))
        n_silence = math.ceil(len(keyword_idx) * silence_percentage / 100) if silence_label is not None else 0
    if decoded.ok.size == 0:
        raise DatasetError(f"none of the {len(paths)} files of split {split!r} could be decoded (first: "
                           f"{decoded.failed[0]['error']}); data.root must hold WAV audio")
    return SplitData(
        name=split, waves=torch.from_numpy(np.array(decoded.waves)), labels=torch.from_numpy(labels),
        paths=kept_paths, keyword_idx=keyword_idx, unknown_idx=unknown_idx, n_unknown=n_unknown,
        n_silence=n_silence, silence_label=silence_label, failed=decoded.failed,
    )
