"""The model card's open world: which recordings beyond Speech Commands the model trained on (named,
with their licences) and what it does with other words, sounds, recorded noise and rooms, and talk
(scripts/openworld_report.py's openworld.json). Torch-free; reads only the checkpoint's config."""

from __future__ import annotations

import json
from pathlib import Path

# The licence of each real_world folder, as its README states it (the folders a shipped model may use).
LICENCES = {
    "speech/librispeech_train_clean_100": "LibriSpeech (Panayotov et al., 2015), CC BY 4.0",
    "speech/mycroft_precise": "Mycroft Precise community data, public domain",
    "speech/ljspeech": "LJ Speech (Ito, 2017), public domain",
    "speech/cmu_arctic": "CMU ARCTIC (Kominek & Black), free with attribution",
    "speech/an4": "CMU AN4, BSD-style",
    "rirs/pymixconsole_irs": "pymixconsole's impulse responses, MIT/Creative Commons",
    "rirs/openair_via_ToobAmp": "OpenAIR, CC BY 4.0",
    "rirs/openair_via_GeneticReverb": "OpenAIR (mostly CC BY)",
}


def _licence(source: str) -> str:
    return next((text for folder, text in LICENCES.items() if source.startswith(folder) or folder.startswith(source)),
                "licence as its folder's README states")


def openworld_data_row(config: dict) -> str:
    """The card's "Open-world data" row from the run's config (openworld.*, augment.rir_*, data.tts_command_takes)."""
    o, a = config.get("openworld") or {}, config.get("augment") or {}
    parts = real_world_parts(o, a) if o.get("root") else []
    engines = ", ".join(o.get("tts_engines") or ["auto"])
    if o.get("tts_clips"):
        parts.append(f"{o['tts_clips']:,} synthetic clips of other words ({engines}) as `_unknown_`")
    takes = (config.get("data") or {}).get("tts_command_takes")
    if takes:
        parts.append(f"{takes} synthetic takes of each command ({engines}) beside the recorded ones")
    return "| Open-world data | " + "; ".join(parts) + " |\n" if parts else ""


def real_world_parts(o: dict, a: dict) -> list[str]:
    """What the run took from a real_world folder: its speech, noise and rooms."""
    sources = o.get("sources") or ["every folder of real_world"]
    speech = [s for s in sources if s.startswith("speech")] or sources
    parts = [f"real talk and other people's words as `_unknown_` ({', '.join(f'`{s}`' for s in speech)}; its train split)"]
    if o.get("noise") and any(s.startswith("noise") or not s.startswith(("speech", "rirs")) for s in sources):
        parts.append("its recorded noise as `_silence_` and under the words")
    if a.get("rir_dir"):
        rooms = a.get("rir_sources") or ["every room folder"]
        parts.append(f"recorded rooms ({', '.join(f'`{r}`' for r in rooms)}; train split) beside simulated ones")
    return parts


def openworld_licences(config: dict) -> str:
    """Attribution lines for the real_world folders the run trained on."""
    o, a = config.get("openworld") or {}, config.get("augment") or {}
    if not o.get("root"):
        return ""
    if not o.get("sources"):
        return ("Beside it, every folder of real_world, some of which its README marks for evaluation only: "
                "a model trained so is for experiments, not for shipping (docs/openworld.md). ")
    used = list(o["sources"]) + [f"rirs/{r}" for r in (a.get("rir_sources") or [])]
    lines = sorted({_licence(s) for s in used if not s.startswith("noise")})
    return "Beside it, recordings that are not Speech Commands (docs/openworld.md): " + "; ".join(lines) + ". "


def openworld_section(openworld_json: str | Path | None) -> str:
    """The open-world table of scripts/openworld_report.py on the test split (none without the file)."""
    if not openworld_json or not Path(openworld_json).is_file():
        return ""
    r = json.loads(Path(openworld_json).read_text())
    s, c = r["stream"], r.get("clips", {})
    rows = [("other people's other words taken for a command", f"{r['other_words']['as_command_pct']:.1f} %",
             f"{r['other_words']['n']} takes"),
            ("recorded sounds taken for a command", f"{r['sounds']['as_command_pct']:.1f} %",
             f"{r['sounds']['n']} one-second pieces")]
    for key, what in (("recorded_noise_10db", "clips in recorded noise at 10 dB"), ("recorded_rooms", "clips in recorded rooms")):
        if key in c:
            rows.append((f"{what}: accuracy (class-balanced)", f"{100 * c[key]['accuracy']:.1f} % "
                         f"({100 * c[key]['balanced_accuracy']:.1f} %)", f"{c[key]['n']} clips"))
    drawn = {"speaker": ", drawn by speaker", "clip": ", drawn by clip"}.get(s.get("draw"), "")
    rows += [("stream among talk at 10 dB: commands correct", f"{s['correct_pct']:.1f} %", f"{s['command_words']} commands{drawn}"),
             ("... other words that fire it", f"{s['other_words_firing_pct']:.1f} %", f"{s['other_words']} words"),
             ("... detections per hour of talk", f"{s['detections_per_hour_of_talk']:.0f}", f"{s['talk_minutes']:.1f} min of talk")]
    table = "\n".join(f"| {a} | {b} | {n} |" for a, b, n in rows)
    return (f"## The open world ({r['split']} split of real_world, held apart by speaker, word, sound and room)\n\n"
            "Recordings that are not Speech Commands, scored with `scripts/openworld_report.py` and the stored "
            "detector (docs/openworld.md):\n\n| | figure | rests on |\n|---|---:|---|\n" + table + "\n\n")
