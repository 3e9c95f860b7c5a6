"""What a model does with audio that holds none of its commands: the open world.

- `evaluate_open_world`: `speechseq-eval data.root=DIR` where DIR has no folder of any of the
  model's commands (other words, speech, noise: any audio files under it). Each file is classified
  as `Recognizer.classify` classifies a clip (a long one window by window, the window that hears a
  word best deciding) and counted by the class it is taken for: how many clips, and what share,
  each command would take, and how many are called `_silence_` / `_unknown_`. open_world_report.json.
- `evaluate_unlabelled_stream`: `speechseq-eval mode=stream input=LONG.wav` without `labels=`: a
  recording with no commands in it (talk, TV, a kitchen); every detection is a false alarm, so it
  reports the detections per hour, which words fired, and both again per threshold. stream_report.json.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from speechseq.audio import AudioReadError, read_audio
from speechseq.fsutil import atomic_write_text
from speechseq.labels import BACKGROUND_NOISE_DIR
from speechseq.progress import Progress
from speechseq.streaming.api import Recognizer
from speechseq.streaming.loading import load_model
from speechseq.streaming.recognizer import settings_for
from speechseq.streaming.smoothing import NON_KEYWORDS
from speechseq.streaming.sweep import DEFAULT_THRESHOLDS

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3"})
EXAMPLES_PER_WORD = 5


def holds_no_commands(root: str | Path, keywords: list[str]) -> bool:
    """True for an existing folder with none of `keywords` as a word folder (an open-world folder)."""
    root = Path(root).expanduser()
    return root.is_dir() and not any((root / word).is_dir() for word in keywords)


def audio_files(root: Path) -> list[Path]:
    """Every sound file under `root` (hidden files and _background_noise_ left out), sorted."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
                  and not any(part.startswith(".") or part == BACKGROUND_NOISE_DIR
                              for part in p.relative_to(root).parts))


def recognizer_for_eval(cfg) -> Recognizer:
    """The model speechseq-eval scores (the shipped one by default) with its calibrated detector."""
    runtime = "onnx" if str(cfg.checkpoint).lower().endswith(".onnx") else "torch"
    classifier, chosen, path = load_model(cfg.checkpoint, runtime, 1)
    return Recognizer(classifier, settings_for(classifier, cfg.stream), runtime=chosen, checkpoint=path)


def evaluate_open_world(cfg) -> dict:
    """Count, per class, the clips under cfg.data.root a model takes for it (see the module docstring)."""
    root = Path(cfg.data.root).expanduser()
    recognizer = recognizer_for_eval(cfg)
    files = audio_files(root)
    if not files:
        raise FileNotFoundError(f"data.root={root} holds no sound files ({', '.join(sorted(AUDIO_SUFFIXES))})")
    taken, unreadable = [], []
    for path in Progress(files, total=len(files), desc="open world", unit="clip"):
        try:
            result = recognizer.classify(read_audio(path, recognizer.sample_rate))
        except AudioReadError as exc:
            unreadable.append({"path": str(path), "error": str(exc)})
            continue
        taken.append((str(path.relative_to(root)), result.label, result.score))
    report = open_world_report(taken, recognizer)
    report.update({"checkpoint": recognizer.checkpoint, "data_root": str(root), "unreadable_files": unreadable})
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "open_world_report.json", json.dumps(report, indent=2))
    print(format_open_world(report))
    print(f"wrote {out / 'open_world_report.json'}")
    return report


def open_world_report(taken: list[tuple[str, str, float]], recognizer: Recognizer) -> dict:
    """From (file, label, score) per clip: clips and share per class, and how many are above the
    detector's threshold for that class (the calibrated one)."""
    smoothing = recognizer.settings.smoothing
    thresholds = {lab: dict(smoothing.class_thresholds).get(lab, smoothing.threshold) for lab in recognizer.labels}
    n = len(taken)
    per_class = {}
    for label in recognizer.labels:
        mine = sorted(((score, name) for name, lab, score in taken if lab == label), reverse=True)
        above = sum(score > thresholds[label] for score, _ in mine)
        per_class[label] = {"clips": len(mine), "share": len(mine) / n if n else 0.0, "above_threshold": above,
                            "examples": [name for _, name in mine[:EXAMPLES_PER_WORD]]}
    commands = [per_class[lab] for lab in recognizer.keywords]
    total = sum(c["clips"] for c in commands)
    above = sum(c["above_threshold"] for c in commands)
    return {"mode": "open_world", "clips": n, "threshold": smoothing.threshold,
            "class_thresholds": dict(smoothing.class_thresholds), "per_class": per_class,
            "taken_for_a_command": {"clips": total, "share": total / n if n else 0.0,
                                    "above_threshold": above, "share_above_threshold": above / n if n else 0.0}}


def format_open_world(report: dict) -> str:
    n, cmd = report["clips"], report["taken_for_a_command"]
    lines = [f"open world: {n} clips with none of the model's commands",
             "| class | clips | share % | above the detector's threshold |", "|---|---:|---:|---:|"]
    for label, c in report["per_class"].items():
        lines.append(f"| {label} | {c['clips']} | {100 * c['share']:.1f} | "
                     f"{'-' if label in NON_KEYWORDS else c['above_threshold']} |")
    lines.append(f"taken for a command: {cmd['clips']} of {n} clips ({100 * cmd['share']:.1f} %); "
                 f"{cmd['above_threshold']} ({100 * cmd['share_above_threshold']:.1f} %) above the detector's "
                 f"threshold ({report['threshold']:g})")
    if report.get("unreadable_files"):
        lines.append(f"skipped {len(report['unreadable_files'])} unreadable file(s); listed in the report")
    return "\n".join(lines)


def evaluate_unlabelled_stream(cfg) -> dict:
    """Detections per hour and per word on a recording with no commands (see the module docstring)."""
    from speechseq.evaluation.streams import _settings_dict, posterior_track, stream_classifier

    classifier, checkpoint = stream_classifier(cfg)
    settings = settings_for(classifier, cfg.stream)
    track = posterior_track(classifier, cfg.input, None, settings.hop_ms, settings.window_ms,
                            front_end=settings.front_end, silence_gate_dbfs=settings.silence_gate_dbfs)
    hours = track.duration_s / 3600.0
    detections = track.detections(settings.smoothing)
    rows = [words_fired(track.detections(settings.smoothing.with_threshold(t)), hours, threshold=t)
            for t in DEFAULT_THRESHOLDS]
    report = {"mode": "stream_no_commands", "checkpoint": checkpoint, "input": str(cfg.input),
              "duration_s": track.duration_s, **words_fired(detections, hours),
              "settings": _settings_dict(settings), "sweep": rows}
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "stream_report.json", json.dumps(report, indent=2))
    atomic_write_text(out / "detections.csv", "time_ms,label,score\n" + "".join(d.csv_row() + "\n" for d in detections))
    print(format_unlabelled(report, settings.smoothing.threshold))
    print(f"wrote {out / 'stream_report.json'}, detections.csv")
    return report


def words_fired(detections: list, hours: float, **extra) -> dict:
    """How many detections, per hour, and per word (most first)."""
    per_word = Counter(d.label for d in detections).most_common()
    rate = (lambda k: k / hours if hours > 0 else 0.0)
    return {**extra, "detections": len(detections), "detections_per_hour": rate(len(detections)),
            "per_word": {w: {"count": k, "per_hour": rate(k)} for w, k in per_word}}


def format_unlabelled(report: dict, threshold: float) -> str:
    minutes = report["duration_s"] / 60
    lines = [f"a recording without labels ({minutes:.1f} min): every detection counts as a false alarm",
             f"operating point (threshold {threshold:g}): {report['detections']} detection(s), "
             f"{report['detections_per_hour']:.1f} per hour"
             + (": " + ", ".join(f"{w} {c['count']}" for w, c in report["per_word"].items()) if report["per_word"] else ""),
             "| threshold | detections per hour | words that fired |", "|---:|---:|---|"]
    for row in report["sweep"][::4]:
        words = ", ".join(f"{w} {c['count']}" for w, c in row["per_word"].items()) or "-"
        lines.append(f"| {row['threshold']:.3f} | {row['detections_per_hour']:.1f} | {words} |")
    return "\n".join(lines)
