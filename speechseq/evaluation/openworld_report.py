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
from speechseq.evaluation.evaluate import label_set_from_names
from speechseq.evaluation.openworld import (
    clip_conditions,
    other_word_clips,
    sound_clips,
    taken_for_commands,
)
from speechseq.evaluation.openworld_stream import evaluate_open_stream, stream_pools
from speechseq.fsutil import atomic_write_text
from speechseq.streaming.open_stream import OpenStreamRecipe

log = logging.getLogger(__name__)


def openworld_report(checkpoint: str | Path, real_world: str | Path, speech_commands: str | Path, split: str,
                     out_dir: str | Path, stream_seconds: float = 1200.0, snr_db: float = 10.0, seed: int = 0,
                     cache_dir: str | None = "~/.cache/speechseq") -> dict:
    """Every open-world figure of `checkpoint` on `split`; written to `out_dir`/openworld.json."""
    import torch

    from speechseq.streaming.backends import TorchClassifier
    from speechseq.streaming.recognizer import settings_for

    torch.set_num_threads(1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_inference(checkpoint, map_location="cpu")
    label_set = label_set_from_names(loaded.labels)
    rw, index = scan_real_world(real_world), scan_dataset(speech_commands)
    keywords = tuple(label_set.words)
    report: dict = {"checkpoint": str(checkpoint), "split": split, "files": rw.summary()}
    words, word_sources = other_word_clips(rw, split, keywords)
    report["other_words"] = taken_for_commands(loaded, words, word_sources)
    sounds, sound_sources = sound_clips(rw, split, seed)
    report["sounds"] = taken_for_commands(loaded, sounds, sound_sources)
    clips = load_split(index, split, label_set, cache_dir=cache_dir)
    noise = NoiseBank.from_files(index.noise_files, 16000, 16000)
    report["clips"] = clip_conditions(loaded, clips, rw, split, noise, snr_db, seed)
    classifier = TorchClassifier(loaded.model, loaded.labels, loaded.frontend, loaded.metadata)
    settings = settings_for(classifier, {})
    recipe = OpenStreamRecipe(seconds=stream_seconds, snr_db=(snr_db, snr_db))
    pools = stream_pools(index, split, label_set, rw, split)
    report["stream"] = evaluate_open_stream(classifier, settings, pools, out / f"stream_{split}_{seed}", recipe, seed)
    atomic_write_text(out / "openworld.json", json.dumps(report, indent=2))
    return report


def format_openworld(r: dict) -> str:
    c, s = r["clips"], r["stream"]
    lines = [f"open world, {r['split']} split",
             f"other words taken for a command   {r['other_words']['as_command_pct']:5.1f} %  "
             f"(n={r['other_words']['n']}; {r['other_words']['by_command']})",
             f"sounds taken for a command        {r['sounds']['as_command_pct']:5.1f} %  "
             f"(n={r['sounds']['n']}; {r['sounds']['by_command']})"]
    for name, row in c.items():
        lines.append(f"{name:<33} {row['accuracy']:.4f}  balanced {row['balanced_accuracy']:.4f}  (n={row['n']})")
    lines.append(f"stream: {s['correct_pct']:.1f} % of {s['command_words']} commands correct, "
                 f"{s['other_words_firing_pct']:.1f} % of {s['other_words']} other words fire, "
                 f"{s['detections_per_hour_of_talk']:.0f} detections per hour of talk ({s['talk_minutes']:.1f} min), "
                 f"{s['false_alarms_per_hour']:.0f} false alarms per hour overall")
    return "\n".join(lines)
