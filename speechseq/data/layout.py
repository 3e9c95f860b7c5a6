"""Find the clips of a Speech Commands folder and assign each to a split.

Three layouts:
- `lists`: the dataset's own layout with `validation_list.txt` / `testing_list.txt` (read, never
  recomputed: the shared mini set's lists are salted);
- `hash`: word folders without lists; splits from the dataset's own hashing rule;
- `testset`: the official v0.02 test-set archive (`<word>/`, `_unknown_/`, `_silence_/`), every
  clip in one split, labels from folder names.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from speechseq.errors import DatasetError  # noqa: F401  (raised here; importable from here)
from speechseq.labels import BACKGROUND_NOISE_DIR, SILENCE, UNKNOWN

SPLITS = ("train", "validation", "test")
VALIDATION_LIST = "validation_list.txt"
TESTING_LIST = "testing_list.txt"
_MAX_NUM_WAVS_PER_CLASS = 2**27 - 1  # from TensorFlow's speech_commands input_data.py


@dataclass(frozen=True)
class Clip:
    relpath: str  # "<word>/<file>.wav", relative to the root, as in the lists
    word: str     # folder name: a word, or _unknown_/_silence_ in the test-set layout


@dataclass
class DatasetIndex:
    root: Path
    layout: str
    splits: dict[str, list[Clip]]
    noise_files: list[Path] = field(default_factory=list)

    @property
    def words(self) -> set[str]:
        return {c.word for clips in self.splits.values() for c in clips}


def speaker_of(filename: str | Path) -> str:
    """The speaker id of a Speech Commands file name `<speaker>_nohash_<n>.wav` (a name without
    `_nohash_` is its own speaker).

    >>> speaker_of("yes/0a7c2a8d_nohash_1.wav")
    '0a7c2a8d'
    """
    return re.sub(r"_nohash_.*$", "", Path(filename).name)


def which_set(filename: str, validation_percentage: float = 10.0, testing_percentage: float = 10.0) -> str:
    """The dataset's own split rule: a stable hash of the speaker id (TensorFlow's `which_set`)."""
    speaker = speaker_of(filename)
    digest = int(hashlib.sha1(speaker.encode()).hexdigest(), 16)
    percentage = (digest % (_MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / _MAX_NUM_WAVS_PER_CLASS)
    if percentage < validation_percentage:
        return "validation"
    if percentage < validation_percentage + testing_percentage:
        return "test"
    return "train"


def _word_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and p.name != BACKGROUND_NOISE_DIR)


def _wavs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav" and p.is_file())


def detect_layout(root: Path) -> str:
    if (root / VALIDATION_LIST).is_file() or (root / TESTING_LIST).is_file():
        return "lists"
    if (root / UNKNOWN).is_dir() or (root / SILENCE).is_dir():
        return "testset"
    return "hash"


def scan_dataset(root: str | Path, layout: str = "auto", key: str = "data.root") -> DatasetIndex:
    """Index a Speech Commands folder. Raises DatasetError with a fix-it message naming `key`,
    the setting that gave `root` (`data.root`; speechseq-data's own is `root`)."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"data folder {root} does not exist; download it with "
                           f"`speechseq-data download root={root}` or set {key}=<folder>")
    if not root.is_dir():
        raise DatasetError(f"{key}={root} is a file; give the folder that holds the word folders")
    word_dirs = _word_dirs(root)
    clips_by_dir = {d.name: _wavs(d) for d in word_dirs}
    clips_by_dir = {k: v for k, v in clips_by_dir.items() if v}
    if not clips_by_dir:
        raise DatasetError(
            f"{root} is not a Speech Commands folder: no <word>/*.wav folders found "
            f"(expected e.g. {root}/yes/0a7c2a8d_nohash_0.wav); set {key} to the folder "
            f"that holds the word folders, or download with `speechseq-data download root={root}`")
    layout = detect_layout(root) if layout == "auto" else layout
    if layout not in ("lists", "hash", "testset"):
        raise DatasetError(f"unknown data.layout {layout!r}: choose auto, lists, hash or testset")
    noise_dir = root / BACKGROUND_NOISE_DIR
    noise_files = _wavs(noise_dir) if noise_dir.is_dir() else []

    all_clips = [Clip(f"{word}/{p.name}", word) for word, paths in clips_by_dir.items() for p in paths]
    if layout == "testset":
        splits = {"test": all_clips, "validation": [], "train": []}
    elif layout == "lists":
        splits = _split_by_lists(root, all_clips)
    else:
        splits = {s: [] for s in SPLITS}
        for clip in all_clips:
            splits[which_set(clip.relpath)].append(clip)
    return DatasetIndex(root=root, layout=layout, splits=splits, noise_files=noise_files)


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [line.strip().replace("\\", "/") for line in path.read_text().splitlines() if line.strip()]


def _split_by_lists(root: Path, all_clips: list[Clip]) -> dict[str, list[Clip]]:
    listed = {"validation": _read_list(root / VALIDATION_LIST), "test": _read_list(root / TESTING_LIST)}
    by_path = {c.relpath: c for c in all_clips}
    missing = [p for names in listed.values() for p in names if p not in by_path]
    if missing:
        raise DatasetError(
            f"{len(missing)} file(s) named in {VALIDATION_LIST}/{TESTING_LIST} do not exist under "
            f"{root} (first: {missing[0]}); the folder is incomplete or the lists belong to another "
            f"copy: re-download, or remove the lists to split by the dataset's hashing rule")
    held_out = set(listed["validation"]) | set(listed["test"])
    splits = {name: [by_path[p] for p in sorted(set(paths))] for name, paths in listed.items()}
    splits["train"] = [c for c in all_clips if c.relpath not in held_out]
    return splits
