"""A folder of real recordings that are not Speech Commands: speech, noise and room impulse responses.

The layout is `../shared/data/real_world`'s: `speech/<source>/...`, `noise/<source>/...` and
`rirs/<source>/...`, any soundfile-readable files. Each file belongs to a *group* that a split keeps
together: the speaker (LibriSpeech `SPK-CHAPTER-UTT`, CMU AN4 `an406-fcaw-b`), the word (a folder of
many people's takes of one wake word), the sound (`aircon_0`, `aircon_1` are one sound), the room (a
folder of one hall's responses). Groups, never files, are assigned to train / validation / test, by a
stable hash within each source folder, so a speaker, a sound or a room is in one split only.

Transcripts, where a source has them (`metadata.csv` of `file,text`, AN4's `meta/kaldi_an4_text`, NeMo
manifests `meta/*.json` of `{"audio_filepath", "text"}` lines), mark recordings that say a command word:
those are never used as "other words" or talk.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from speechseq.errors import DatasetError

ROLES = ("speech", "noise", "rirs")
SPLIT_SHARES = {"validation": 0.15, "test": 0.15}   # of each source's groups; the rest is train
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
# Sources whose files are takes of one word or one hall: the folder is the group (split by word/room).
ONE_GROUP_MARKERS = ("mycroft_precise", "pori_concert_hall", "ljspeech")


@dataclass(frozen=True)
class RealFile:
    path: Path
    role: str               # speech | noise | rirs
    source: str             # the folder it came from, relative to the root ("speech/an4")
    group: str              # speaker, word, sound or room: what a split keeps together
    split: str              # train | validation | test
    transcript: str | None  # what is said, where the source says so


@dataclass
class RealWorldIndex:
    root: Path
    files: list[RealFile] = field(default_factory=list)

    def select(self, role: str, split: str | None = None, sources: list[str] | None = None) -> list[RealFile]:
        """Files of `role` (and `split`, and under one of `sources` when given), in a stable order."""
        keep = [f for f in self.files if f.role == role and (split is None or f.split == split)]
        if sources is not None:
            keep = [f for f in keep if _listed(f.source, sources)]
        return keep

    def summary(self) -> dict:
        """Files and groups per role and split: what a report says each figure rests on."""
        out: dict = {}
        for f in self.files:
            cell = out.setdefault(f.role, {}).setdefault(f.split, {"files": 0, "groups": set()})
            cell["files"] += 1
            cell["groups"].add(f"{f.source}:{f.group}")
        return {role: {split: {"files": c["files"], "groups": len(c["groups"])} for split, c in splits.items()}
                for role, splits in out.items()}


def family_of(source: str) -> str:
    """The folder whose groups are split together: a collection of word folders
    (speech/mycroft_precise/amelia, .../athena) is one family, split by word; any other folder is its own."""
    for marker in ONE_GROUP_MARKERS:
        head, found, _ = source.partition(marker)
        if found:
            return head + marker
    return source


def group_of(source: str, path: Path) -> str:
    """The speaker, word, sound or room of one file (see the module docstring)."""
    if any(marker in source for marker in ONE_GROUP_MARKERS):
        return source.rsplit("/", 1)[-1]
    stem = path.stem
    m = re.fullmatch(r"(\d+)-\d+-\d+", stem)                       # LibriSpeech: speaker-chapter-utterance
    if m:
        return m.group(1)
    m = re.fullmatch(r"(?:an|cen)\d+-([a-z]+\d?)-[a-z]", stem)     # CMU AN4: utterance-speaker-mic
    if m:
        return m.group(1)
    m = re.fullmatch(r"cmu_arctic_us_([a-z]+)_[ab]\d+", stem)      # CMU ARCTIC: speaker
    if m:
        return m.group(1)
    return re.sub(r"[_-]\d+$", "", stem) or stem                     # aircon_0, aircon_1: one sound


def _hash_rank(group: str, salt: str) -> int:
    return int(hashlib.sha1(f"{salt}|{group}".encode()).hexdigest(), 16)


def assign_splits(groups: list[str], salt: str) -> dict[str, str]:
    """Groups of one source to splits: ranked by a stable hash, the first SPLIT_SHARES of them to
    validation and test (at least one each when there are three or more groups), the rest to train."""
    unique = sorted(set(groups), key=lambda g: (_hash_rank(g, salt), g))
    n = len(unique)
    if n < 3:
        return {g: "train" for g in unique}
    counts = {s: max(1, math.floor(share * n + 0.5)) for s, share in SPLIT_SHARES.items()}
    out, pos = {}, 0
    for split, count in counts.items():
        for g in unique[pos:pos + count]:
            out[g] = split
        pos += count
    out.update({g: "train" for g in unique[pos:]})
    return out


def read_transcripts(folder: Path) -> dict[str, str]:
    """file stem -> lower-case text, from `metadata.csv` (file,text,...), NeMo manifests under `meta/` and
    AN4's `meta/kaldi_an4_text`."""
    out: dict[str, str] = {}
    meta = folder / "metadata.csv"
    if meta.is_file():
        with open(meta, newline="") as fh:
            for row in csv.reader(fh):
                if len(row) >= 2 and row[0].strip():
                    out[Path(row[0].strip()).stem] = row[1].strip().lower()
    out.update(_manifest_transcripts(folder / "meta"))
    kaldi = folder / "meta" / "kaldi_an4_text"
    if kaldi.is_file():
        for line in kaldi.read_text().splitlines():
            key, _, text = line.partition(" ")
            parts = key.split("-")
            if len(parts) == 3:  # kaldi names speaker-utterance-mic; the files utterance-speaker-mic
                out[f"{parts[1]}-{parts[0]}-{parts[2]}"] = text.strip().lower()
    return out


def _manifest_transcripts(meta: Path) -> dict[str, str]:
    """file stem -> lower-case text from NeMo manifests (JSON lines with audio_filepath and text), such
    as AN4's `asr_an4_train.json`: without them its isolated "yes", "no", "stop" and "go" were read as
    untranscribed talk. Lines that are not such objects are skipped."""
    out: dict[str, str] = {}
    for manifest in sorted(meta.glob("*.json")) if meta.is_dir() else []:
        for line in manifest.read_text(errors="replace").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("audio_filepath"), str) and isinstance(row.get("text"), str):
                out[Path(row["audio_filepath"]).stem] = row["text"].strip().lower()
    return out


def _sources(root: Path, role: str) -> list[Path]:
    """The folders under root/role that hold audio files directly (a source each)."""
    base = root / role
    if not base.is_dir():
        return []
    found = []
    for d in sorted([base, *(p for p in base.rglob("*") if p.is_dir())]):
        if any(p.suffix.lower() in AUDIO_SUFFIXES for p in d.iterdir() if p.is_file()):
            found.append(d)
    return found


def scan_real_world(root: str | Path, sources: list[str] | None = None) -> RealWorldIndex:
    """Every audio file under root/{speech,noise,rirs}, with its group, split and transcript.

    `sources` keeps only the folders (relative to root) listed, e.g. the ones whose licence lets a
    shipped model train on them. Raises DatasetError when root holds none of the three folders.
    """
    root = Path(root).expanduser()
    if not root.is_dir() or not any((root / r).is_dir() for r in ROLES):
        raise DatasetError(f"openworld.root: {root} is not a folder with speech/, noise/ or rirs/ in it "
                           "(a folder laid out as ../shared/data/real_world)")
    index = RealWorldIndex(root)
    found: list[tuple[str, str, Path, str | None]] = []   # role, source, path, transcript
    for role in ROLES:
        for folder in _sources(root, role):
            source = folder.relative_to(root).as_posix()
            if sources is not None and not _listed(source, sources):
                continue
            texts = read_transcripts(folder)
            found += [(role, source, p, texts.get(p.stem)) for p in sorted(folder.iterdir())
                      if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")]
    placed = place_files([(source, path) for _, source, path, _ in found])
    for role, source, path, text in found:
        group, split = placed[path]
        index.files.append(RealFile(path, role, source, group, split, text))
    return index


def place_files(entries: list[tuple[str, Path]]) -> dict[Path, tuple[str, str]]:
    """(source folder, path) pairs -> path: (group, split), groups split within each family of folders."""
    families: dict[str, list[str]] = {}
    for source, path in entries:
        families.setdefault(family_of(source), []).append(group_of(source, path))
    # salted by the folder's own name, so the split is the same whichever parent folder is scanned
    split_of = {family: assign_splits(groups, salt=family.rsplit("/", 1)[-1]) for family, groups in families.items()}
    out = {}
    for source, path in entries:
        group = group_of(source, path)
        out[path] = (group, split_of[family_of(source)][group])
    return out


def split_of_files(root: str | Path, paths: list[Path]) -> dict[Path, str]:
    """The split of each file under `root` by the rule of this module, with the folder it sits in
    (relative to `root`, e.g. rirs/pori_concert_hall) as its source."""
    root = Path(root)
    entries = [(p.parent.relative_to(root).as_posix(), p) for p in paths]
    return {p: split for p, (_, split) in place_files(entries).items()}


def _listed(source: str, sources: list[str]) -> bool:
    return any(source == s.rstrip("/") or source.startswith(s.rstrip("/") + "/") for s in sources)


def says_a_word(transcript: str | None, words: tuple[str, ...]) -> bool:
    """Whether a transcript holds one of `words` as a whole word ("go" in "go home", not in "good")."""
    if not transcript:
        return False
    spoken = set(re.findall(r"[a-z']+", transcript.lower()))
    return any(w in spoken for w in words)
