"""A user's own words (`data.custom_root`) beside a Speech Commands folder (`data.root`).

The user's folder holds `<word>/*.wav` takes and needs no lists: validation takes are set aside
here, by a stable hash of the file name. The Speech Commands folder gives the negatives (its other
words become `_unknown_`), the background noise and its test split; its own clips of the user's
words are left out of training and validation, so the model learns the words from the user's
takes alone.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import soundfile as sf

from speechseq.data.layout import Clip, DatasetIndex, scan_dataset
from speechseq.errors import DatasetError
from speechseq.labels import BACKGROUND_NOISE_DIR, SILENCE, UNKNOWN

MIN_TAKES = 5
RESERVED = (SILENCE, UNKNOWN, BACKGROUND_NOISE_DIR)
_WORD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


def readable_takes(folder: Path) -> tuple[list[Path], list[str]]:
    """The sound files of one word folder that soundfile can open, and the names it could not."""
    takes, bad = [], []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            info = sf.info(str(path))
            if info.frames <= 0:
                raise ValueError("no samples")
            takes.append(path)
        except Exception:  # noqa: BLE001  (soundfile raises several types for a bad file)
            bad.append(path.name)
    return takes, bad


def user_words(custom_root: str | Path, words: list[str] | None = None) -> dict[str, list[Path]]:
    """word -> readable takes under `custom_root`; raises DatasetError saying what to fix."""
    root = Path(custom_root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"data.custom_root={root} is not a folder; record takes into it with "
                           f"`speechseq-record words=[...] out={root}`")
    folders = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    chosen = list(words) if words else sorted(folders)
    if not chosen:
        raise DatasetError(f"data.custom_root={root} has no word folders (<word>/*.wav)")
    found = {}
    for word in chosen:
        if word in RESERVED or not _WORD_NAME.match(word):
            raise DatasetError(f"word {word!r} in data.custom_root={root}: rename the folder (letters, digits, "
                               f"_ and -; not {', '.join(RESERVED)})")
        if word not in folders:
            raise DatasetError(f"data.words names {word!r} but {root} has no folder {word}/")
        takes, bad = readable_takes(folders[word])
        if len(takes) < MIN_TAKES:
            extra = f" ({len(bad)} unreadable: {bad[:3]})" if bad else ""
            raise DatasetError(f"{folders[word]} has {len(takes)} readable take(s){extra}; record at least "
                               f"{MIN_TAKES} (20 are better) with speechseq-record")
        found[word] = takes
    return found


def _hash_fraction(name: str) -> float:
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def split_takes(takes: list[Path], validation_share: float) -> tuple[list[Path], list[Path]]:
    """(train, validation) takes: the `validation_share` with the lowest name hashes, at least one each."""
    ranked = sorted(takes, key=lambda p: (_hash_fraction(p.name), p.name))
    n_val = min(len(ranked) - 1, max(1, round(len(ranked) * validation_share)))
    validation = ranked[:n_val]
    return [p for p in takes if p not in validation], validation


def enrollment_index(custom_root: str | Path, base_root: str | Path, words: list[str] | None = None,
                     validation_share: float = 0.2, layout: str = "auto") -> tuple[list[str], DatasetIndex]:
    """The user's words and one index over both folders (the user's clips by absolute path)."""
    takes = user_words(custom_root, words)
    base = scan_dataset(base_root, layout)
    if base.layout == "testset":
        raise DatasetError(f"data.root={base.root} is a test-set archive; enrolment needs the full dataset "
                           f"(its other words and background noise are the negatives)")
    mine = set(takes)
    splits = {name: [c for c in clips if c.word not in mine or name == "test"]
              for name, clips in base.splits.items()}
    for word, paths in takes.items():
        train, validation = split_takes(paths, validation_share)
        splits["train"] += [Clip(str(p.resolve()), word) for p in train]
        splits["validation"] += [Clip(str(p.resolve()), word) for p in validation]
    return list(takes), DatasetIndex(root=base.root, layout=base.layout, splits=splits,
                                     noise_files=base.noise_files)
