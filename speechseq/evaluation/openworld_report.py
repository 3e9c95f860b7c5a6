"""The open-world report of one checkpoint on one split (speechseq.evaluation.openworld): other words,
sounds, clean / recorded noise / recorded rooms, and a stream of commands among talk.

    python scripts/openworld_report.py CHECKPOINT REAL_WORLD SPEECH_COMMANDS --split validation

Writes openworld.json (and the stream, reused on a second run) under --out; prints a table.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from speechseq.data.layout import scan_dataset
from speechseq.data.real_world import scan_real_world
from speechseq.data.splits import NoiseBank, load_split
from speechseq.deploy.checkpoint import load_inference
from speechseq.deploy.metadata import trained_calibration
from speechseq.evaluation.evaluate import label_set_from_names
from speechseq.evaluation.openworld import (
    clip_conditions,
    other_word_clips,
    sound_clips,
    taken_for_commands,
)
from speechseq.evaluation.openworld_stream import best_within, evaluate_open_stream, stream_pools
from speechseq.fsutil import atomic_write_text
from speechseq.streaming.open_stream import OpenStreamRecipe

log = logging.getLogger(__name__)


def openworld_report(checkpoint: str | Path, real_world: str | Path, speech_commands: str | Path, split: str,
                     out_dir: str | Path, stream_seconds: float = 1200.0, snr_db: float = 10.0, seed: int = 0,
                     cache_dir: str | None = "~/.cache/speechseq", takes: str | Path | None = None,
                     draw: str = "speaker") -> dict:
    """Every open-world figure of `checkpoint` on `split`; written to `out_dir`/openworld.json.

    `takes`: a folder of word folders holding other people's takes of the model's own words (a model
    of experiment=enroll); they are the commands of the stream and are scored as clips, and every
    Speech Commands word of `split` counts as another word. `draw`: how the stream picks a command's
    clip (streaming.open_stream: "speaker", one of the word's speakers and then a clip of theirs; "clip",
    any of the word's clips, as reports before 2026-12-07 did)."""
    import torch

    torch.set_num_threads(1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_inference(checkpoint, map_location="cpu")
    label_set = label_set_from_names(loaded.labels)
    rw, index = scan_real_world(real_world), scan_dataset(speech_commands)
    report: dict = {"checkpoint": str(checkpoint), "split": split, "files": rw.summary()}
    commands = takes_of(Path(takes), label_set.words) if takes else None
    _clip_figures(report, loaded, label_set, rw, index, split, snr_db, seed, cache_dir, commands)
    recipe = OpenStreamRecipe(seconds=stream_seconds, snr_db=(snr_db, snr_db), draw=draw)
    report["stream"] = _stream_figures(loaded, label_set, rw, index, split, out, recipe, seed, commands)
    report["stream"]["draw"] = draw
    if split == "validation" and seed in calibration_seeds(loaded.metadata):
        # the same seed draws the same words and talk: the stored detector was chosen on part of this stream
        report["stream"]["in_calibration"] = True
        log.warning("stream seed %d also drew a validation stream the stored detector was calibrated on: its "
                    "stored-detector figures are partly in-sample (choose another --seed)", seed)
    atomic_write_text(out / "openworld.json", json.dumps(report, indent=2))
    return report


def calibration_seeds(metadata: dict) -> set[int]:
    """The seeds of the validation streams a checkpoint's stored detector was chosen on at the end of
    training (or by scripts/recalibrate.py): `calibration.seed` and the takes after it; none where the
    detector came from elsewhere."""
    calibration = trained_calibration(metadata)
    if calibration is None:
        return set()
    first = int(calibration.get("seed", 0))
    return set(range(first, first + int(calibration.get("takes", 1))))  # one take before `takes` existed


def takes_of(folder: Path, words) -> dict[str, list[Path]]:
    """folder/<word>/* audio files for each of `words`; a word without takes is an error."""
    from speechseq.data.real_world import AUDIO_SUFFIXES

    found = {w: sorted(p for p in (folder / w).glob("*") if p.suffix.lower() in AUDIO_SUFFIXES) for w in words}
    missing = [w for w, files in found.items() if not files]
    if missing:
        raise FileNotFoundError(f"--takes {folder}: no takes of {missing} (expected {folder}/<word>/*.wav)")
    return found


def _clip_figures(report, loaded, label_set, rw, index, split, snr_db, seed, cache_dir, commands) -> None:
    import numpy as np

    from speechseq.audio import read_audio
    from speechseq.data.windows import loudest_window
    from speechseq.evaluation.openworld import classify_waves

    keywords = tuple(label_set.words)
    words, word_sources = other_word_clips(rw, split, keywords)
    if commands is not None:  # an own-words model: Speech Commands' words are other words too
        others = [c for c in index.splits.get(split, []) if c.word not in keywords and not c.word.startswith("_")]
        dataset_words = np.stack([loudest_window(read_audio(index.root / c.relpath), 16000) for c in others])
        words = np.concatenate([words, dataset_words])
        word_sources += ["speech_commands"] * len(others)
    report["other_words"] = taken_for_commands(loaded, words, word_sources)
    sounds, sound_sources = sound_clips(rw, split, seed)
    report["sounds"] = taken_for_commands(loaded, sounds, sound_sources)
    if commands is None:
        clips = load_split(index, split, label_set, cache_dir=cache_dir)
        noise = NoiseBank.from_files(index.noise_files, 16000, 16000)
        report["clips"] = clip_conditions(loaded, clips, rw, split, noise, snr_db, seed)
        return
    report["takes"] = {}
    for k, word in enumerate(keywords):
        waves = np.stack([loudest_window(read_audio(p), 16000) for p in commands[word]])
        top = classify_waves(loaded, waves).argmax(1)
        hit = int((np.asarray(loaded.labels)[top] == word).sum())
        report["takes"][word] = {"n": len(waves), "recognised": hit, "recognised_pct": 100.0 * hit / len(waves)}


def _stream_figures(loaded, label_set, rw, index, split, out, recipe: OpenStreamRecipe, seed, commands) -> dict:
    from speechseq.streaming.backends import TorchClassifier
    from speechseq.streaming.recognizer import settings_for

    classifier = TorchClassifier(loaded.model, loaded.labels, loaded.frontend, loaded.metadata)
    settings = settings_for(classifier, {})
    pools = stream_pools(index, split, label_set, rw, split, commands=commands)
    name = f"stream_{split}_{seed}" + ("_takes" if commands is not None else "")
    return evaluate_open_stream(classifier, settings, pools, out / name, recipe, seed)


def format_openworld(r: dict) -> str:
    c, s = r.get("clips", {}), r["stream"]
    lines = [f"open world, {r['split']} split",
             f"other words taken for a command   {r['other_words']['as_command_pct']:5.1f} %  "
             f"(n={r['other_words']['n']}; {r['other_words']['by_command']})",
             f"sounds taken for a command        {r['sounds']['as_command_pct']:5.1f} %  "
             f"(n={r['sounds']['n']}; {r['sounds']['by_command']})"]
    for name, row in c.items():
        lines.append(f"{name:<33} {row['accuracy']:.4f}  balanced {row['balanced_accuracy']:.4f}  (n={row['n']})")
    for word, row in r.get("takes", {}).items():
        lines.append(f"takes of {word!r} recognised as clips  {row['recognised_pct']:5.1f} %  (n={row['n']})")
    lines.append(f"stream: {s['correct_pct']:.1f} % of {s['command_words']} commands correct, "
                 f"{s['other_words_firing_pct']:.1f} % of {s['other_words']} other words fire, "
                 f"{s['detections_per_hour_of_talk']:.0f} detections per hour of talk ({s['talk_minutes']:.1f} min), "
                 f"{s['false_alarms_per_hour']:.0f} false alarms per hour overall")
    k = s.get("speakers") or {}
    # as many speakers as clips: no name says who spoke (takes), each clip is its own speaker, however often played
    if k.get("speakers") and k["speakers"] < k.get("clips", s["command_words"]):
        rest = k["others_correct_pct"]
        drawn = {"speaker": "drawn by speaker", "clip": "drawn by clip"}.get(s.get("draw"), "")
        lines.append(f"  commands{' ' + drawn if drawn else ''} by {k['speakers']} speakers, the largest ({k['largest']}) {k['largest_share_pct']:.0f} % of "
                     f"them: {k['largest_correct_pct']:.1f} % correct" + (f", the others {rest:.1f} %" if rest is not None else "")
                     + f"; every speaker weighing the same {k['speaker_balanced_correct_pct']:.1f} %")
    if s.get("in_calibration"):
        lines.append("  (this stream's seed drew a stream the stored detector was calibrated on: its figures "
                     "above are partly in-sample; the curve is not)")
    for key, budget, what in (("false_alarms_per_hour", 30, "false alarms/h overall"),
                              ("detections_per_hour_of_talk", 30, "detections/h of talk")):
        row = best_within(s.get("curve", []), key, budget)
        if row:
            lines.append(f"  curve: at <= {budget} {what}: {row['correct_pct']:.1f} % correct (threshold "
                         f"{row['threshold']:.3f}, {row['other_words_firing_pct']:.1f} % other words, "
                         f"{row['detections_per_hour_of_talk']:.0f}/h talk, {row['false_alarms_per_hour']:.0f}/h overall)")
    return "\n".join(lines)


FIGURES = (("other words as a command %", lambda r: r["other_words"]["as_command_pct"]),
           ("sounds as a command %", lambda r: r["sounds"]["as_command_pct"]),
           ("clean, balanced %", lambda r: 100 * r["clips"]["clean"]["balanced_accuracy"]),
           ("recorded noise 10 dB, balanced %", lambda r: 100 * r["clips"]["recorded_noise_10db"]["balanced_accuracy"]),
           ("recorded rooms, balanced %", lambda r: 100 * r["clips"]["recorded_rooms"]["balanced_accuracy"]),
           ("stream: commands correct %", lambda r: r["stream"]["correct_pct"]),
           ("stream: other words firing %", lambda r: r["stream"]["other_words_firing_pct"]),
           ("stream: detections per hour of talk", lambda r: r["stream"]["detections_per_hour_of_talk"]))


def aggregate_table(reports: dict[str, dict]) -> str:
    """A markdown table of several runs' open-world figures (one column each) with their mean and sample
    standard deviation (0 for a single run)."""
    import numpy as np

    names = list(reports)
    lines = ["| figure | " + " | ".join(names) + " | mean | sd |", "|---|" + "---:|" * (len(names) + 2)]
    for label, get in FIGURES:
        values = [get(reports[n]) for n in names]
        cells = " | ".join(f"{v:.1f}" for v in values)
        lines.append(f"| {label} | {cells} | {np.mean(values):.1f} | {np.std(values, ddof=1) if len(values) > 1 else 0.0:.1f} |")
    return "\n".join(lines)
