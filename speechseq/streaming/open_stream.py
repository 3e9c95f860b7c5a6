"""Streams of the open world: commands among other people's words and talk, over recorded noise.

What a recogniser meets in a room where people speak: a timeline of events, each a command clip
(the command drawn first, uniformly, so every word comes as often as any other, not the dataset's
most frequent five; then, with `draw="speaker"`, one of the speakers who said it and a clip of
theirs, so a speaker with many clips in a split is one voice among many, not a quarter of the
stream; with `draw="clip"`, any of its clips), an other word (a dataset filler word, or the loudest second of
another person's take of another word), or a stretch of talk (a whole read sentence), with a gap of
silence between events, over recorded noise whose level follows each event's speech level at an
SNR drawn from `snr_db`. `labels.csv` lists commands and other words (as `_unknown_`); `talk.csv`
the stretches of talk, so detections there can be counted per hour of talk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speechseq.audio import read_audio
from speechseq.labels import UNKNOWN
from speechseq.streaming.synth_stream import (
    SR,
    StreamWord,
    background,
    noise_gain_envelope,
    speech_end_ms,
    speech_rms,
    write_stream,
)

EVENT_KINDS = ("command", "unknown", "other", "talk")
DRAWS = ("speaker", "clip")


@dataclass
class StreamPools:
    """Where each kind of event comes from (files; commands by label)."""

    commands: dict[str, list[Path]]
    unknown: list[Path] = field(default_factory=list)    # the dataset's filler words (1 s clips)
    others: list[Path] = field(default_factory=list)     # other people's takes of other words
    talk: list[Path] = field(default_factory=list)       # sentences, read or spoken
    noise: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class OpenStreamRecipe:
    seconds: float = 600.0
    shares: tuple[float, float, float, float] = (0.45, 0.15, 0.2, 0.2)   # command, unknown, other, talk events
    gap_ms: tuple[float, float] = (1000.0, 2500.0)                      # silence between events
    snr_db: tuple[float, float] = (10.0, 10.0)                          # speech over the noise
    draw: str = "speaker"                                               # a command's clip: by speaker, or any clip

    def __post_init__(self):
        if self.draw not in DRAWS:
            raise ValueError(f"draw must be one of {list(DRAWS)}, got {self.draw!r}")


@dataclass
class TalkSpan:
    start_ms: float
    end_ms: float
    path: str


def _event_kinds(pools: StreamPools, shares) -> tuple[list[str], np.ndarray]:
    present = {"command": bool(pools.commands), "unknown": bool(pools.unknown), "other": bool(pools.others),
               "talk": bool(pools.talk)}
    kinds = [k for k in EVENT_KINDS if present[k]]
    weights = np.array([s for k, s in zip(EVENT_KINDS, shares) if present[k]], float)
    if not kinds or weights.sum() <= 0:
        raise ValueError("an open-world stream needs commands, other words or talk to play")
    return kinds, weights / weights.sum()


class _Picker:
    """Round-robin over a shuffled pool, so a stream repeats a file only after using them all."""

    def __init__(self, items: list, rng: np.random.Generator):
        self.items, self.order, self.pos = items, rng.permutation(len(items)), 0

    def next(self):
        item = self.items[self.order[self.pos % len(self.items)]]
        self.pos += 1
        return item


class _SpeakerPicker:
    """Round-robin over a shuffled list of speakers, each with a round-robin over their own clips."""

    def __init__(self, files: list[Path], rng: np.random.Generator):
        from speechseq.data.layout import speaker_of

        by_speaker: dict[str, list[Path]] = {}
        for f in files:
            by_speaker.setdefault(speaker_of(f), []).append(f)
        self.speakers = _Picker([_Picker(by_speaker[s], rng) for s in sorted(by_speaker)], rng)

    def next(self):
        return self.speakers.next().next()


def _command_pickers(commands: dict[str, list[Path]], draw: str, rng: np.random.Generator) -> dict:
    picker = _SpeakerPicker if draw == "speaker" else _Picker
    pickers: dict = {label: picker(files, rng) for label, files in commands.items() if files}
    pickers["labels"] = sorted(label for label in commands if commands[label])
    return pickers


def _event_audio(kind: str, pickers: dict, rng: np.random.Generator) -> tuple[np.ndarray, str, str, str]:
    """(audio, label, word, path) of one event."""
    from speechseq.data.windows import loudest_window

    if kind == "command":
        label = pickers["labels"][int(rng.integers(len(pickers["labels"])))]
        path = pickers[label].next()  # a clip of a second, or a longer take: its loudest second
        return loudest_window(read_audio(path, SR), SR), label, label, str(path)
    path = pickers[kind].next()
    audio = read_audio(path, SR)
    if kind == "talk":
        return audio, "", "talk", str(path)
    if kind == "other":
        return loudest_window(audio, SR), UNKNOWN, Path(path).parent.name, str(path)
    return audio[:SR], UNKNOWN, Path(path).parent.name, str(path)


def build_open_stream(pools: StreamPools, recipe: OpenStreamRecipe = OpenStreamRecipe(), seed: int = 0
                      ) -> tuple[np.ndarray, list[StreamWord], list[TalkSpan]]:
    """(wave float32, words, talk spans) of one stream; the same pools and seed give the same stream."""
    rng = np.random.default_rng([seed, 31])
    noise_rng = np.random.default_rng([seed, 32])
    kinds, weights = _event_kinds(pools, recipe.shares)
    pickers = _command_pickers(pools.commands, recipe.draw, rng)
    for kind, items in (("unknown", pools.unknown), ("other", pools.others), ("talk", pools.talk)):
        if items:
            pickers[kind] = _Picker(items, rng)
    n = int(recipe.seconds * SR)
    wave = np.zeros(n, np.float32)
    words: list[StreamWord] = []
    talk: list[TalkSpan] = []
    starts, gains = [], []
    t = SR  # the first event after a second of noise
    while True:
        kind = kinds[int(rng.choice(len(kinds), p=weights))]
        audio, label, word, path = _event_audio(kind, pickers, rng)
        if t + len(audio) > n:
            break
        wave[t:t + len(audio)] += audio
        starts.append(t)
        gains.append(speech_rms(audio) * 10 ** (-noise_rng.uniform(*recipe.snr_db) / 20))
        start_ms = round(t * 1000 / SR, 3)
        if kind == "talk":
            talk.append(TalkSpan(start_ms, round((t + len(audio)) * 1000 / SR, 3), path))
        else:
            words.append(StreamWord(label, word, start_ms, round(start_ms + speech_end_ms(audio), 3), path))
        t += len(audio) + int(rng.uniform(*recipe.gap_ms) * SR / 1000)
    bed = background(pools.noise, n, noise_rng, lambda p: read_audio(p, SR), "snr")
    wave += bed * noise_gain_envelope(n, starts, gains)
    return np.clip(wave, -1.0, 1.0).astype(np.float32), words, talk


def write_open_stream(out_dir: str | Path, wave: np.ndarray, words: list[StreamWord], talk: list[TalkSpan]) -> Path:
    """stream.wav, labels.csv and words.csv (synth_stream.write_stream) and talk.csv (start_ms,end_ms,file)."""
    from speechseq.fsutil import atomic_write_text

    wav = write_stream(out_dir, wave, words)
    atomic_write_text(Path(out_dir) / "talk.csv", "start_ms,end_ms,file\n" + "".join(
        f"{s.start_ms:.3f},{s.end_ms:.3f},{s.path}\n" for s in talk))
    return wav


def read_talk(path: str | Path) -> list[tuple[float, float]]:
    """(start_ms, end_ms) rows of a talk.csv."""
    import csv

    with open(path, newline="") as fh:
        return [(float(r["start_ms"]), float(r["end_ms"])) for r in csv.DictReader(fh)]
