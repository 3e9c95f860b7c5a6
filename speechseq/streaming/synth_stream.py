"""Long test streams from a Speech Commands split, as TensorFlow's generate_streaming_test_wav.py.

Words about every 3 s (one 1 s clip plus a ~2 s gap, jittered), a share of them unknown words,
over background noise. Labels: `label,start_ms` per word, unknown words as `_unknown_`; a sidecar
`words.csv` keeps the real word, the source file and where the speech ends.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechseq.labels import UNKNOWN, LabelSet

SR = 16000


@dataclass
class StreamWord:
    label: str      # the keyword, or _unknown_
    word: str       # the folder it came from
    start_ms: float
    end_ms: float   # end of the speech inside the clip (energy based)
    path: str


def speech_end_ms(clip: np.ndarray, rel_db: float = -30.0) -> float:
    """End of the last 10 ms frame within `rel_db` of the clip's loudest frame."""
    frames = len(clip) // 160
    if frames == 0:
        return 0.0
    energy = np.square(clip[:frames * 160].reshape(frames, 160)).mean(axis=1) + 1e-12
    db = 10 * np.log10(energy / energy.max())
    return float((np.flatnonzero(db > rel_db)[-1] + 1) * 10)


NOISE_RECIPES = ("tf", "loud", "snr")


def background(noise_files: list[Path], n: int, rng: np.random.Generator, read, recipe: str = "tf",
               volume: float = 0.1) -> np.ndarray:
    """`n` samples of random crops of the noise files, end to end, one gain per crop.

    tf: the recorded level times a gain uniform in [0, volume] (TensorFlow's
    generate_streaming_test_wav.py); loud: each crop peak-normalised first; snr: each crop at
    unit RMS, for `word_snr_gains` to scale.
    """
    if recipe not in NOISE_RECIPES:
        raise ValueError(f"noise recipe {recipe!r}: choose one of {list(NOISE_RECIPES)}")
    out = np.zeros(n, np.float32)
    waves = [w for w in (read(p) for p in noise_files) if len(w) > 0]
    if not waves:
        return out
    pos = 0
    while pos < n:
        wave = waves[rng.integers(len(waves))]
        length = min(len(wave), n - pos, int(rng.integers(2, 10) * SR))
        start = int(rng.integers(0, len(wave) - length + 1))
        crop = wave[start:start + length]
        if recipe == "snr":
            gain = 1.0 / max(float(np.sqrt(np.mean(np.square(crop, dtype=np.float64)))), 1e-6)
        else:
            peak = 1.0 if recipe == "tf" else max(float(np.abs(crop).max()), 1e-6)
            gain = rng.uniform(0.0, volume) / peak
        out[pos:pos + length] = crop * gain
        pos += length
    return out


def speech_rms(clip: np.ndarray, rel_db: float = -30.0) -> float:
    """RMS over the 10 ms frames within `rel_db` of the clip's loudest (the speech, not the pauses)."""
    frames = len(clip) // 160
    if frames == 0:
        return 0.0
    energy = np.square(clip[:frames * 160].reshape(frames, 160), dtype=np.float64).mean(axis=1) + 1e-12
    return float(np.sqrt(energy[10 * np.log10(energy / energy.max()) > rel_db].mean()))


def noise_gain_envelope(n: int, starts: list[int], gains: list[float]) -> np.ndarray:
    """Per-sample gain: each word's gain from halfway after the previous word to halfway before the next."""
    if not starts:
        return np.zeros(n, np.float32)
    bounds = [(a + b) // 2 for a, b in zip(starts, starts[1:])]
    return np.asarray(gains, np.float32)[np.searchsorted(bounds, np.arange(n), side="right")]


def build_stream(root, split: str, label_set: LabelSet, seconds: float = 600.0,
                 unknown_fraction: float = 0.3, background_volume: float = 0.1, word_gap_ms: float = 2000.0,
                 jitter_ms: float = 250.0, seed: int = 0, layout: str = "auto", noise: str = "tf",
                 snr_db: tuple[float, float] = (0.0, 20.0)):
    """(wave float32, [StreamWord]) for `seconds` of audio from `split` of the dataset at `root`
    (a folder, or an already scanned DatasetIndex).

    `noise`: the background recipe (NOISE_RECIPES; see `background`); with `snr` the noise
    around each word sits `snr_db` (uniform in the range) below the word's speech RMS.
    """
    from speechseq.audio import read_audio
    from speechseq.data.layout import DatasetError, DatasetIndex, scan_dataset

    rng = np.random.default_rng(seed)
    noise_rng = np.random.default_rng([seed, 1])  # its own draws: the words do not depend on the recipe
    index = root if isinstance(root, DatasetIndex) else scan_dataset(root, layout)
    clips = index.splits.get(split, [])
    keyword_clips = [c for c in clips if c.word in label_set.words]
    unknown_clips = [c for c in clips if c.word not in label_set.words and not c.word.startswith("_")]
    if not keyword_clips:
        raise DatasetError(f"split {split!r} of {index.root} has no clips of the words {list(label_set.words)}")
    if unknown_fraction > 0 and not unknown_clips:
        raise DatasetError(f"split {split!r} of {index.root} has no other words to use as unknown words")
    if noise == "snr" and not snr_db[0] <= snr_db[1]:
        raise ValueError(f"SNR range {snr_db}: give low <= high")
    n = int(seconds * SR)
    noise_bed = background(index.noise_files, n, noise_rng, lambda p: read_audio(p, SR), noise, background_volume)
    wave = np.zeros(n, np.float32)
    starts, snr_gains = [], []
    words: list[StreamWord] = []
    slot_ms = 1000.0 + word_gap_ms
    order_k = rng.permutation(len(keyword_clips))
    order_u = rng.permutation(len(unknown_clips)) if unknown_clips else []
    k = u = 0
    t_ms = 1000.0
    while t_ms + 1000.0 <= seconds * 1000:
        start_ms = max(0.0, t_ms + rng.uniform(-jitter_ms, jitter_ms))
        if rng.random() < unknown_fraction:
            clip, label = unknown_clips[order_u[u % len(order_u)]], UNKNOWN
            u += 1
        else:
            clip = keyword_clips[order_k[k % len(order_k)]]
            label, k = clip.word, k + 1
        audio = read_audio(index.root / clip.relpath, SR)[:SR]
        start = int(round(start_ms * SR / 1000))
        audio = audio[:max(0, n - start)]
        wave[start:start + len(audio)] += audio
        starts.append(start)
        snr_gains.append(speech_rms(audio) * 10 ** (-noise_rng.uniform(*snr_db) / 20) if noise == "snr" else 1.0)
        words.append(StreamWord(label, clip.word, round(start * 1000 / SR, 3),
                                round(start * 1000 / SR + speech_end_ms(audio), 3), clip.relpath))
        t_ms += slot_ms
    wave += noise_bed * (noise_gain_envelope(n, starts, snr_gains) if noise == "snr" else 1.0)
    return np.clip(wave, -1.0, 1.0).astype(np.float32), words


def write_stream(out_dir: str | Path, wave: np.ndarray, words: list[StreamWord], name: str = "stream") -> Path:
    """`<name>.wav` (16-bit), `labels.csv` (label,start_ms) and `words.csv` in `out_dir`."""
    import soundfile as sf

    from speechseq.fsutil import atomic_path, atomic_write_text

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = out_dir / f"{name}.wav"
    with atomic_path(wav) as tmp:
        sf.write(str(tmp), wave, SR, subtype="PCM_16", format="WAV")
    atomic_write_text(out_dir / "labels.csv",
                      "label,start_ms\n" + "".join(f"{w.label},{w.start_ms:g}\n" for w in words))
    atomic_write_text(out_dir / "words.csv", "label,start_ms,end_ms,word,file\n" + "".join(
        f"{w.label},{w.start_ms:g},{w.end_ms:g},{w.word},{w.path}\n" for w in words))
    return wav


def read_labels(path: str | Path) -> list[tuple[str, float]]:
    """`label,start_ms` rows (a header line is optional)."""
    rows = []
    with open(path, newline="") as fh:
        for i, row in enumerate(csv.reader(fh)):
            if not row or (i == 0 and row[0].strip() == "label"):
                continue
            try:
                rows.append((row[0].strip(), float(row[1])))
            except (IndexError, ValueError):
                raise ValueError(f"{path}:{i + 1}: expected label,start_ms, got {','.join(row)!r}") from None
    return rows


def read_truth(labels_path: str | Path) -> list[tuple]:
    """`read_labels`, with each word's speech end added from `words.csv` beside it when that matches."""
    rows = read_labels(labels_path)
    words = Path(labels_path).with_name("words.csv")
    if not words.is_file():
        return rows
    with open(words, newline="") as fh:
        ends = {(r["label"], float(r["start_ms"])): float(r["end_ms"]) for r in csv.DictReader(fh)}
    if not all((lab, start) in ends for lab, start in rows):
        return rows  # a words.csv of another stream
    return [(lab, start, ends[(lab, start)]) for lab, start in rows]
