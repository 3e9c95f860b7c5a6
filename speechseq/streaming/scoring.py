"""Scoring detections on a labelled stream (TensorFlow StreamingAccuracyStats style).

A detection belongs to the word whose clip started at most `match_window_ms` before it (the
latest such word). For each command word, its first detection counts as correct (same label)
or wrong; a word without one is missed. Detections on an unknown word, on no word, or repeated
on an already-detected word are false alarms. Latency: detection time minus the word's start,
and minus the end of its speech where the truth has it (`(label, start_ms, end_ms)` rows).
"""

from __future__ import annotations

import bisect

import numpy as np

from speechseq.labels import SILENCE, UNKNOWN
from speechseq.streaming.smoothing import Detection


def match_detections(detections: list[Detection], truth: list[tuple], keywords: set[str],
                     match_window_ms: float = 2000.0):
    """(truth sorted by start, each word's outcome: "correct", "wrong" or None, each word's latency,
    false alarms by kind, confusions): the matching `score_detections` counts."""
    truth = sorted(truth, key=lambda x: x[1])
    starts = [w[1] for w in truth]
    is_command = [w[0] in keywords for w in truth]
    outcome: list[str | None] = [None] * len(truth)
    latency: list[float | None] = [None] * len(truth)
    false_alarms = {"unknown_word": 0, "no_word": 0, "repeat": 0}
    confusions: dict[str, dict[str, int]] = {}
    for det in sorted(detections, key=lambda d: d.time_ms):
        if det.label in (SILENCE, UNKNOWN):
            continue
        i = bisect.bisect_right(starts, det.time_ms) - 1
        if i < 0 or det.time_ms - starts[i] > match_window_ms:
            false_alarms["no_word"] += 1
        elif not is_command[i]:
            false_alarms["unknown_word"] += 1
        elif outcome[i] is not None:
            false_alarms["repeat"] += 1
        else:
            word = truth[i][0]
            outcome[i] = "correct" if det.label == word else "wrong"
            latency[i] = det.time_ms - starts[i]
            if det.label != word:
                confusions.setdefault(word, {}).setdefault(det.label, 0)
                confusions[word][det.label] += 1
    return truth, outcome, latency, false_alarms, confusions


def score_detections(detections: list[Detection], truth: list[tuple], keywords: set[str],
                     duration_s: float, match_window_ms: float = 2000.0) -> dict:
    """`truth`: (label, start_ms) or (label, start_ms, speech_end_ms) per word."""
    truth, outcome, latency, false_alarms, confusions = match_detections(detections, truth, keywords, match_window_ms)
    starts = [w[1] for w in truth]
    is_command = [w[0] in keywords for w in truth]
    n_cmd = sum(is_command)
    correct = sum(o == "correct" for o in outcome)
    wrong = sum(o == "wrong" for o in outcome)
    missed = n_cmd - correct - wrong
    n_fa = sum(false_alarms.values())
    hits = [i for i in range(len(truth)) if outcome[i] == "correct"]
    lat = np.array([latency[i] for i in hits], dtype=float)
    lat_end = np.array([latency[i] + starts[i] - truth[i][2] for i in hits if len(truth[i]) > 2], dtype=float)
    pct = (lambda x: 100.0 * x / n_cmd) if n_cmd else (lambda x: 0.0)
    hours = duration_s / 3600.0
    return {
        "command_words": n_cmd, "unknown_words": len(truth) - n_cmd, "duration_s": duration_s,
        "correct": correct, "wrong": wrong, "missed": missed,
        "correct_pct": pct(correct), "wrong_pct": pct(wrong), "missed_pct": pct(missed),
        "false_alarms": n_fa, "false_alarms_breakdown": false_alarms,
        "false_alarms_per_hour": n_fa / hours if hours > 0 else 0.0,
        "median_latency_ms": float(np.median(lat)) if lat.size else None,
        "p90_latency_ms": float(np.percentile(lat, 90)) if lat.size else None,
        "median_latency_from_end_ms": float(np.median(lat_end)) if lat_end.size else None,
        "p90_latency_from_end_ms": float(np.percentile(lat_end, 90)) if lat_end.size else None,
        "confusions": confusions, "match_window_ms": match_window_ms,
    }


TALK_TAIL_MS = 1000.0   # a detection this soon after talk ends was still set off by it


def talk_figures(detections: list[Detection], keywords: set[str], talk: list[tuple[float, float]]) -> dict:
    """Command detections during stretches of talk (start_ms, end_ms), and their rate per hour of talk."""
    times = [d.time_ms for d in detections if d.label in keywords]
    in_talk = sum(any(s <= t <= e + TALK_TAIL_MS for s, e in talk) for t in times)
    hours = sum(e - s for s, e in talk) / 3.6e6
    return {"talk_minutes": hours * 60, "detections_in_talk": in_talk,
            "detections_per_hour_of_talk": in_talk / hours if hours > 0 else 0.0}


def format_stream_report(r: dict) -> str:
    lat = f"{r['median_latency_ms']:.0f} ms" if r["median_latency_ms"] is not None else "n/a"
    return (f"{r['command_words']} command words, {r['unknown_words']} unknown words, {r['duration_s'] / 60:.1f} min\n"
            f"correct {r['correct_pct']:.1f}%  wrong {r['wrong_pct']:.1f}%  missed {r['missed_pct']:.1f}%\n"
            f"false alarms {r['false_alarms']} ({r['false_alarms_per_hour']:.1f}/hour: "
            f"{r['false_alarms_breakdown']['unknown_word']} on unknown words, "
            f"{r['false_alarms_breakdown']['no_word']} on no word, {r['false_alarms_breakdown']['repeat']} repeats)\n"
            f"median latency from word start {lat}"
            + (f", from speech end {r['median_latency_from_end_ms']:.0f} ms (p90 {r['p90_latency_from_end_ms']:.0f} ms)"
               if r.get("median_latency_from_end_ms") is not None else ""))
