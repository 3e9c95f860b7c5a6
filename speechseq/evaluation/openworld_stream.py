"""A stream of commands among other people's words and talk, over recorded noise, scored with the
model's stored detector: the share of commands correct, the share of other words that fire it, and
detections per hour of talk (speechseq.streaming.open_stream builds the stream)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from speechseq.data.layout import DatasetIndex, speaker_of
from speechseq.data.real_world import RealWorldIndex, says_a_word
from speechseq.labels import UNKNOWN, LabelSet
from speechseq.streaming.open_stream import OpenStreamRecipe, StreamPools, build_open_stream, read_talk, write_open_stream

OTHER_WORD_SECONDS = 3.0
WORD_FOLDERS = ("mycroft_precise",)


def stream_pools(index: DatasetIndex, split: str, label_set: LabelSet, rw: RealWorldIndex, rw_split: str,
                 sources: list[str] | None = None, dataset_noise: bool = False,
                 commands: dict[str, list[Path]] | None = None) -> StreamPools:
    """Commands and filler words of the dataset's `split` (`commands` given: those files, e.g. other
    people's takes of an own word); other words, talk and noise of `rw_split`."""
    import soundfile as sf

    clips = index.splits.get(split, [])
    if commands is None:
        commands = {w: [index.root / c.relpath for c in clips if c.word == w] for w in label_set.words}
    unknown = [index.root / c.relpath for c in clips if c.word not in label_set.words and not c.word.startswith("_")]
    others, talk = [], []
    for f in rw.select("speech", rw_split, sources):
        said = f.transcript if f.transcript is not None else (
            f.source.rsplit("/", 1)[-1] if any(m in f.source for m in WORD_FOLDERS) else None)
        if said is not None and says_a_word(said, tuple(label_set.words)):
            continue  # it says a command: neither another word nor talk
        try:
            info = sf.info(str(f.path))
        except Exception:  # unreadable: a stream plays only what decodes (soundfile raises several types)
            continue
        if info.frames == 0:
            continue
        short = info.duration <= OTHER_WORD_SECONDS
        (others if said is not None and short else talk).append(f.path)
    noise = [f.path for f in rw.select("noise", rw_split, sources)] + (list(index.noise_files) if dataset_noise else [])
    return StreamPools(commands, unknown, others, talk, noise)


def stream_recipe_record(recipe: OpenStreamRecipe, seed: int) -> dict:
    """What a stream folder was built from (its recipe.json): a folder built otherwise is built again."""
    from dataclasses import asdict

    return {"seed": seed, **json.loads(json.dumps(asdict(recipe)))}


def make_open_stream(out_dir: Path, pools: StreamPools, recipe: OpenStreamRecipe, seed: int) -> Path:
    from speechseq.fsutil import atomic_write_text

    wave, words, talk = build_open_stream(pools, recipe, seed)
    wav = write_open_stream(out_dir, wave, words, talk)
    atomic_write_text(out_dir / "recipe.json", json.dumps(stream_recipe_record(recipe, seed), indent=2) + "\n")
    return wav


def _built_from(out_dir: Path, recipe: OpenStreamRecipe, seed: int) -> bool:
    try:
        return json.loads((out_dir / "recipe.json").read_text()) == stream_recipe_record(recipe, seed)
    except (OSError, ValueError):
        return False


def _other_word_starts(words_csv: Path, others: set[str]) -> list[float]:
    with open(words_csv, newline="") as fh:
        return [float(r["start_ms"]) for r in csv.DictReader(fh) if r["label"] == UNKNOWN and r["file"] in others]


def score_open_stream(track, detections, words_csv: Path, talk_csv: Path, others: set[str],
                      match_window_ms: float = 2000.0) -> dict:
    """The stream's scores (streaming.scoring) with the open-world figures added."""
    from speechseq.streaming.scoring import score_detections, talk_figures

    report = score_detections(detections, track.truth, track.keywords, track.duration_s, match_window_ms)
    keyword_times = sorted(d.time_ms for d in detections if d.label in track.keywords)
    other_starts = _other_word_starts(words_csv, others)
    fired = sum(any(s <= t <= s + match_window_ms for t in keyword_times) for s in other_starts)
    report.update(talk_figures(detections, track.keywords, read_talk(talk_csv)))
    report.update({"other_words": len(other_starts), "other_words_firing": fired,
                   "other_words_firing_pct": 100.0 * fired / len(other_starts) if other_starts else 0.0})
    return report


def evaluate_open_stream(classifier, settings, pools: StreamPools, out_dir: Path, recipe: OpenStreamRecipe,
                         seed: int = 0, progress: bool = False) -> dict:
    """Build (or reuse, when its recipe.json says the same recipe and seed) the stream in `out_dir` and
    score the classifier's stored detector on it."""
    from speechseq.evaluation.streams import posterior_track

    wav = out_dir / "stream.wav"
    if not (wav.is_file() and _built_from(out_dir, recipe, seed)):
        make_open_stream(out_dir, pools, recipe, seed)
    track = posterior_track(classifier, wav, out_dir / "labels.csv", settings.hop_ms, settings.window_ms,
                            progress=progress)
    detections = track.detections(settings.smoothing)
    report = score_open_stream(track, detections, out_dir / "words.csv", out_dir / "talk.csv",
                               {str(p) for p in pools.others})
    report["by_label"] = _fired_by_label(detections, track.keywords)
    report["speakers"] = command_speakers(track, detections, out_dir / "words.csv")
    report["curve"] = open_world_curve(track, settings.smoothing, out_dir, {str(p) for p in pools.others})
    return report


def command_speakers(track, detections, words_csv: Path, match_window_ms: float = 2000.0) -> dict:
    """Who the stream's commands rest on: how many speakers, the largest one's share and its commands
    correct against the rest's, and the share correct with every speaker weighing the same (a speaker
    with many clips in a split can make much of a stream, and of its misses). Speakers as
    `data.layout.speaker_of` names them."""
    from speechseq.streaming.scoring import match_detections

    with open(words_csv, newline="") as fh:
        files = {round(float(r["start_ms"]), 1): r["file"] for r in csv.DictReader(fh)}
    truth, outcome, *_ = match_detections(detections, track.truth, track.keywords, match_window_ms)
    per: dict[str, list[int]] = {}
    clips: set[str] = set()
    for word, result in zip(truth, outcome):
        if word[0] in track.keywords:
            file = files.get(round(float(word[1]), 1), "?")
            clips.add(file)
            counts = per.setdefault(speaker_of(file), [0, 0])
            counts[0] += 1
            counts[1] += result == "correct"
    if not per:
        return {"speakers": 0}
    largest = max(per, key=lambda s: per[s][0])
    rest = [sum(c[i] for s, c in per.items() if s != largest) for i in (0, 1)]
    return {"speakers": len(per), "clips": len(clips), "largest": largest,
            "largest_share_pct": 100.0 * per[largest][0] / sum(c[0] for c in per.values()),
            "largest_correct_pct": 100.0 * per[largest][1] / per[largest][0],
            "others_correct_pct": 100.0 * rest[1] / rest[0] if rest[0] else None,
            "speaker_balanced_correct_pct": 100.0 * float(np.mean([c[1] / c[0] for c in per.values()]))}


def open_world_curve(track, smoothing, out_dir: Path, others: set[str], thresholds=None) -> list[dict]:
    """The stored detector re-run at each threshold: commands correct, other words firing and
    detections per hour of talk, so two models can be compared at the same false-alarm rate."""
    from speechseq.streaming.sweep import DEFAULT_THRESHOLDS

    rows = []
    for thr in thresholds or DEFAULT_THRESHOLDS:
        r = score_open_stream(track, track.detections(smoothing.with_threshold(thr)), out_dir / "words.csv",
                              out_dir / "talk.csv", others)
        rows.append({"threshold": float(thr), **{k: r[k] for k in (
            "correct_pct", "wrong_pct", "false_alarms_per_hour", "other_words_firing_pct", "detections_per_hour_of_talk")}})
    return rows


def best_within(curve: list[dict], key: str, budget: float) -> dict | None:
    """The row with the most commands correct among those with `key` at most `budget`."""
    rows = [r for r in curve if r[key] <= budget]
    return max(rows, key=lambda r: r["correct_pct"]) if rows else None


def _fired_by_label(detections, keywords) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in detections:
        if d.label in keywords:
            counts[d.label] = counts.get(d.label, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
