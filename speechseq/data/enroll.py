"""A user's own words (`data.custom_root`) beside a Speech Commands folder (`data.root`).

The user's folder holds `<word>/*.wav` takes and needs no lists: validation takes are set aside
here, by a stable hash of the file name. The Speech Commands folder gives the negatives (its other
words become `_unknown_`), the background noise and its test split; its own clips of the user's
words are left out of training and validation, so the model learns the words from the user's
takes alone.

With `tts_takes` each word also gets synthetic takes, spoken from its folder name by the installed
text-to-speech engines (speechseq.data.tts), in its training split only: validation and test stay
the user's own recordings, so the figures chosen on them are about real voices.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import re
import shutil
import tempfile
from pathlib import Path

import soundfile as sf

from speechseq.data.layout import Clip, DatasetIndex, scan_dataset
from speechseq.errors import DatasetError
from speechseq.labels import BACKGROUND_NOISE_DIR, SILENCE, UNKNOWN

log = logging.getLogger(__name__)

MIN_TAKES = 5
# data.tts_takes=null: synthetic takes per word when an engine is installed. Not yet tuned on
# validation (docs/tts.md); with 20 recorded takes a word's training clips are then mostly synthetic.
DEFAULT_TTS_TAKES = 100
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


def synthetic_train_takes(words: list[str], tts_takes: int | None, cache_dir: str | Path | None,
                          engines: str | list[str] = "auto", key: str = "data.tts_takes") -> dict[str, list[Path]]:
    """word -> synthetic takes (FLAC files, made once under `cache_dir/tts/`) for the training split.

    `tts_takes`: 0 none; None DEFAULT_TTS_TAKES when an engine is installed, else none with a one-line
    warning; n > 0 exactly n, and a missing engine is an error naming the package to install.
    """
    from speechseq.data.tts.engines import EngineMissingError, resolve_engines
    from speechseq.data.tts.takes import write_takes

    if tts_takes == 0:
        return {}
    try:
        engines = [e.name for e in resolve_engines(engines)]
    except EngineMissingError as exc:
        if tts_takes is not None:
            raise EngineMissingError(f"{key}={tts_takes}: {exc} (or {key}=0: none)") from None
        log.warning("training on the recorded takes only: %s (data.tts_takes=0 silences this)", exc)
        return {}
    n = DEFAULT_TTS_TAKES if tts_takes is None else int(tts_takes)
    if cache_dir is None:  # no cache: the takes live as long as this process
        cache_dir = tempfile.mkdtemp(prefix="speechseq-tts-")
        atexit.register(shutil.rmtree, cache_dir, True)
    takes = {w: write_takes(w, n, cache_dir, engines=engines) for w in words}
    log.info("%d synthetic takes of each word (%s) in training, from %s", n, ", ".join(engines),
             Path(cache_dir).expanduser() / "tts")
    return takes


def add_synthetic_takes(splits: dict[str, list[Clip]], words: list[str], tts_takes: int | None,
                        cache_dir: str | Path | None, engines: str | list[str] = "auto",
                        key: str = "data.tts_takes") -> None:
    """Append each word's synthetic takes (synthetic_train_takes) to `splits["train"]`, by absolute path."""
    for word, paths in synthetic_train_takes(words, tts_takes, cache_dir, engines, key).items():
        splits["train"] += [Clip(str(p.resolve()), word) for p in paths]


def enrollment_index(custom_root: str | Path, base_root: str | Path, words: list[str] | None = None,
                     validation_share: float = 0.2, layout: str = "auto", tts_takes: int | None = 0,
                     cache_dir: str | Path | None = None) -> tuple[list[str], DatasetIndex]:
    """The user's words and one index over both folders (the user's clips by absolute path).

    `tts_takes` synthetic takes of each word join its training split (synthetic_train_takes;
    training passes `data.tts_takes`, whose null means automatic), made once under `cache_dir`.
    """
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
    add_synthetic_takes(splits, list(takes), tts_takes, cache_dir)
    return list(takes), DatasetIndex(root=base.root, layout=base.layout, splits=splits,
                                     noise_files=base.noise_files)
